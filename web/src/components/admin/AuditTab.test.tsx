import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUDIT_PAGE } from '../../lib/admin';
import { setCsrfToken } from '../../lib/api';
import { json } from '../../test/fetch';
import { renderApp } from '../../test/render';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const rec = (i: number, over: object = {}) => ({
  time: new Date(Date.UTC(2026, 10, 23, 12, 0, 0) - i * 1000).toISOString(),
  kind: 'request',
  user: 'alice',
  groups: ['ml'],
  cluster: 'dev',
  verb: 'delete',
  resource: 'pods',
  namespace: 'ml',
  name: `pod-${i}`,
  status: 200,
  latencyMs: 1.5,
  sourceIP: '10.0.0.7',
  ...over,
});

describe('AuditTab', () => {
  it('takes its filters from the address, pages back in time, and opens a record', async () => {
    const user = userEvent.setup();
    const page1 = Array.from({ length: AUDIT_PAGE }, (_, i) => rec(i));
    const page2 = [rec(AUDIT_PAGE, { status: 403, name: 'secret-pod' })];
    const calls = renderApp('/admin/audit?user=alice&verb=delete', (c) => {
      if (!c.url.startsWith('/v1/audit?')) return undefined;
      const q = new URL(c.url, 'http://x').searchParams;
      return json(200, { items: q.get('until') === page1.at(-1)!.time ? page2 : page1 });
    });
    const table = await screen.findByRole('table', { name: 'Audit records' });
    expect(within(table).getAllByText('pod-0', { exact: false }).length).toBeGreaterThan(0);
    const first = new URL(calls.find((c) => c.url.startsWith('/v1/audit'))!.url, 'http://x').searchParams;
    expect(Object.fromEntries(first)).toEqual({ user: 'alice', verb: 'delete', limit: String(AUDIT_PAGE) });
    const form = screen.getByRole('form', { name: 'Filter the audit log' });
    expect((within(form).getByLabelText('User') as HTMLInputElement).value).toBe('alice');
    // Newest first, as the log answers.
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows[0]!.textContent).toContain('pod-0');
    expect(rows.at(-1)!.textContent).toContain(`pod-${AUDIT_PAGE - 1}`);

    await user.click(screen.getByRole('button', { name: 'Older' }));
    const row = await within(screen.getByRole('table', { name: 'Audit records' })).findByRole('row', { name: /secret-pod/ });
    expect(within(row).getByText('403')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Older' }) as HTMLButtonElement).disabled).toBe(true);

    await user.click(within(row).getByRole('button', { name: /^Details of delete by alice/ }));
    const drawer = screen.getByRole('dialog', { name: 'Audit record' });
    expect(within(drawer).getByText('10.0.0.7')).toBeTruthy();
    expect(within(drawer).getByText('secret-pod')).toBeTruthy();
    expect(within(drawer).getByText('1.5 ms')).toBeTruthy();
    await user.click(within(drawer).getByRole('button', { name: 'Close' }));

    await user.click(screen.getByRole('button', { name: 'Newest' }));
    expect(await within(screen.getByRole('table', { name: 'Audit records' })).findByRole('row', { name: /pod-0/ })).toBeTruthy();
  });

  it('sends a time range as RFC 3339 and says what to do when nothing matches', async () => {
    const user = userEvent.setup();
    const calls = renderApp('/admin/audit', (c) => (c.url.startsWith('/v1/audit?') ? json(200, { items: [] }) : undefined));
    expect(await screen.findByText(/Nothing was recorded yet/)).toBeTruthy();
    const form = screen.getByRole('form', { name: 'Filter the audit log' });
    await user.type(within(form).getByLabelText('Cluster'), 'prod');
    await user.selectOptions(within(form).getByLabelText('Kind'), 'terminal');
    const since = within(form).getByLabelText('From') as HTMLInputElement;
    await user.type(since, '2026-11-20T08:30');
    await user.click(within(form).getByRole('button', { name: 'Search' }));
    expect(await screen.findByText('No records match: widen the time range or clear a filter.')).toBeTruthy();
    const q = new URL(calls.filter((c) => c.url.startsWith('/v1/audit')).at(-1)!.url, 'http://x').searchParams;
    expect(q.get('cluster')).toBe('prod');
    expect(q.get('kind')).toBe('terminal');
    expect(q.get('since')).toBe(new Date('2026-11-20T08:30').toISOString());
  });

  it('shows the server’s message when the audit log is off', async () => {
    renderApp('/admin/audit', (c) => (c.url.startsWith('/v1/audit?') ? json(404, { error: { code: 'NotFound', message: 'the audit log is not enabled on this server' } }) : undefined));
    expect(await screen.findByText('the audit log is not enabled on this server')).toBeTruthy();
  });
});
