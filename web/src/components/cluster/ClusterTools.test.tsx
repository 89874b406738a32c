import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newQueryClient } from '../../App';
import { json, mockFetch } from '../../test/fetch';
import { ClusterTools } from './ClusterTools';

afterEach(() => vi.unstubAllGlobals());

function renderTools() {
  render(
    <QueryClientProvider client={newQueryClient()}>
      <ClusterTools cluster="dev" headingId="tools" />
    </QueryClientProvider>,
  );
}

const off = (tool: string, canChange: boolean) => ({ tool, enabled: false, installed: false, ready: false, canChange });

describe('ClusterTools', () => {
  it('lets a cluster owner install a tool and shows its state and errors', async () => {
    let enabled = false;
    const calls = mockFetch((c) => {
      if (c.method === 'PUT') {
        enabled = true;
        return json(201, { tool: 'monitoring', enabled: true });
      }
      return json(200, {
        items: [
          enabled
            ? { tool: 'monitoring', enabled: true, installed: false, ready: false, canChange: true, message: 'apply DaemonSet bokujo-monitoring/node-exporter: forbidden' }
            : off('monitoring', true),
          off('logging', true),
        ],
      });
    });
    renderTools();
    const ue = userEvent.setup();
    await ue.click(await screen.findByRole('button', { name: 'Install Monitoring' }));
    expect(calls.some((c) => c.method === 'PUT' && c.url === '/v1/clusters/dev/tools/monitoring')).toBe(true);
    expect(await screen.findByText('apply DaemonSet bokujo-monitoring/node-exporter: forbidden')).toBeTruthy();
    expect(screen.getByText('Installing')).toBeTruthy();
  });

  it('asks before removing, and shows no buttons to someone who may not change tools', async () => {
    const calls = mockFetch((c) =>
      c.method === 'DELETE'
        ? json(200, {})
        : json(200, { items: [{ tool: 'monitoring', enabled: true, installed: true, ready: true, version: 'prometheus-3.5.0', canChange: true }, off('logging', true)] }),
    );
    renderTools();
    const ue = userEvent.setup();
    await ue.click(await screen.findByRole('button', { name: 'Remove Monitoring' }));
    const dialog = screen.getByRole('dialog');
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    await ue.click(within(dialog).getByRole('button', { name: 'Remove' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === '/v1/clusters/dev/tools/monitoring')).toBe(true));
    expect(screen.getByText('prometheus-3.5.0')).toBeTruthy();
  });

  it('is read-only for viewers', async () => {
    mockFetch(() => json(200, { items: [off('monitoring', false), off('logging', false)] }));
    renderTools();
    expect(await screen.findByText('Monitoring')).toBeTruthy();
    expect(screen.queryByRole('button')).toBeNull();
  });
});
