import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setCsrfToken } from '../../lib/api';
import { json, type Call } from '../../test/fetch';
import { renderApp } from '../../test/render';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const renderAdmin = (path: string, handler: (c: Call) => Response | undefined) => renderApp(path, handler);

describe('ClustersTab', () => {
  it('adds a cluster from a pasted kubeconfig and shows the server’s refusal first', async () => {
    const user = userEvent.setup();
    let clusters = [{ name: 'dev', ready: true, nodes: 2, source: 'Kubeconfig', kubernetesVersion: 'v1.35.0' }];
    let tries = 0;
    const calls = renderAdmin('/admin/clusters', (c) => {
      if (c.url === '/v1/clusters' && c.method === 'POST') {
        tries++;
        if (tries === 1) return json(422, { error: { code: 'InsecureKubeconfig', message: 'cluster "x": insecure-skip-tls-verify is not allowed' } });
        clusters = [...clusters, { name: 'gpu-east', ready: false, nodes: 0, source: 'Kubeconfig', kubernetesVersion: '' }];
        return json(201, { name: 'gpu-east' });
      }
      if (c.url.startsWith('/v1/clusters?')) return json(200, { items: clusters });
      return undefined;
    });
    expect(await screen.findByRole('rowheader', { name: 'dev' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Add with a kubeconfig' }));
    const form = screen.getByRole('form', { name: 'Add a cluster with a kubeconfig' });
    const add = within(form).getByRole('button', { name: 'Add' }) as HTMLButtonElement;
    await user.type(within(form).getByLabelText('Name'), 'GPU');
    expect(within(form).getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    await user.clear(within(form).getByLabelText('Name'));
    await user.type(within(form).getByLabelText('Name'), 'gpu-east');
    expect(add.disabled).toBe(true);
    await user.click(within(form).getByLabelText('or paste it'));
    await user.paste('apiVersion: v1\nkind: Config\n');
    await user.click(add);
    expect(await within(form).findByText('cluster "x": insecure-skip-tls-verify is not allowed')).toBeTruthy();
    await user.click(add);
    expect(await screen.findByText('gpu-east was added. It shows as ready once bokujo has reached it.')).toBeTruthy();
    const post = calls.filter((c) => c.method === 'POST').at(-1)!;
    expect(JSON.parse(post.body!)).toEqual({ name: 'gpu-east', kubeconfig: 'apiVersion: v1\nkind: Config\n' });
    expect(await screen.findByRole('rowheader', { name: 'gpu-east' })).toBeTruthy();
  });

  it('adds an agent cluster and shows the commands with copy buttons and the expiry', async () => {
    const user = userEvent.setup();
    const agent = {
      name: 'edge',
      token: 'tok',
      expiresAt: '2026-11-24T10:00:00Z',
      manifestURL: 'https://bokujo.example/v1/import/tok.yaml',
      command: "kubectl apply -f 'https://bokujo.example/v1/import/tok.yaml'",
      helmCommand: 'helm install bokujo-agent charts/bokujo-agent --namespace bokujo-agent --create-namespace --set token=tok',
    };
    const calls = renderAdmin('/admin/clusters', (c) => {
      if (c.url === '/v1/clusters/agent' && c.method === 'POST') return json(201, agent);
      if (c.url.startsWith('/v1/clusters?')) return json(200, { items: [] });
      return undefined;
    });
    expect(await screen.findByText(/No clusters yet: add one with a kubeconfig/)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Add with an agent' }));
    const form = screen.getByRole('form', { name: 'Add a cluster with an agent' });
    await user.type(within(form).getByLabelText('Name'), 'edge');
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    const region = await screen.findByRole('region', { name: 'Install the agent in edge' });
    expect(within(region).getByText(agent.command)).toBeTruthy();
    expect(within(region).getByText(agent.helmCommand)).toBeTruthy();
    expect(within(region).getByRole('button', { name: 'Copy the kubectl command' })).toBeTruthy();
    expect(within(region).getByRole('button', { name: 'Copy the Helm command' })).toBeTruthy();
    expect(within(region).getByText(new RegExp(new Date(agent.expiresAt).toLocaleString().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))).toBeTruthy();
    expect(JSON.parse(calls.find((c) => c.method === 'POST')!.body!)).toEqual({ name: 'edge' });
  });

  it('removes a cluster only after its name is typed', async () => {
    const user = userEvent.setup();
    let clusters = [{ name: 'dev', ready: true, nodes: 2 }];
    const calls = renderAdmin('/admin/clusters', (c) => {
      if (c.url === '/v1/clusters/dev' && c.method === 'DELETE') {
        clusters = [];
        return json(200, { name: 'dev' });
      }
      if (c.url.startsWith('/v1/clusters?')) return json(200, { items: clusters });
      return undefined;
    });
    await user.click(await screen.findByRole('button', { name: 'Remove dev' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove dev?' });
    const remove = within(dialog).getByRole('button', { name: 'Remove' }) as HTMLButtonElement;
    expect(remove.disabled).toBe(true);
    await user.type(within(dialog).getByLabelText('Type dev to confirm'), 'de');
    expect(remove.disabled).toBe(true);
    await user.type(within(dialog).getByLabelText('Type dev to confirm'), 'v');
    await user.click(remove);
    await waitFor(() => expect(screen.queryByRole('rowheader', { name: 'dev' })).toBeNull());
    const del = calls.find((c) => c.method === 'DELETE')!;
    expect(del.url).toBe('/v1/clusters/dev');
    expect(del.headers.get('X-CSRF-Token')).toBe('c');
  });
});
