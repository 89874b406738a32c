import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newQueryClient } from '../../App';
import { kindById } from '../../lib/k8s/kinds';
import { json, mockFetch, type Call } from '../../test/fetch';
import { ResourceDetails } from './Details';
import { KindList } from './KindList';

afterEach(() => vi.unstubAllGlobals());

/** A watch that stays open and quiet until the test ends. */
const quietWatch = () => new Response(new ReadableStream({ start() {} }), { status: 200, headers: { 'Content-Type': 'application/json' } });

function cluster(objects: Record<string, unknown[]>, allowed: (attrs: Record<string, string>) => boolean, extra?: (c: Call) => Response | undefined) {
  return mockFetch((c) => {
    const other = extra?.(c);
    if (other) return other;
    if (c.url.endsWith('/selfsubjectaccessreviews')) {
      const attrs = JSON.parse(c.body!).spec.resourceAttributes;
      return json(201, { status: { allowed: allowed(attrs) } });
    }
    if (c.url.includes('watch=1')) return quietWatch();
    const path = c.url.split('?')[0]!;
    for (const [suffix, items] of Object.entries(objects)) if (path.endsWith(suffix)) return json(200, { metadata: { resourceVersion: '5' }, items });
    return json(200, { metadata: { resourceVersion: '5' }, items: [] });
  });
}

function renderIn(path: string, element: React.ReactNode, route = '*') {
  render(
    <QueryClientProvider client={newQueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path={route} element={element} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const sts = (name: string, ready: number) => ({
  metadata: { name, namespace: 'ml', creationTimestamp: new Date().toISOString() },
  spec: { replicas: 2 },
  status: { readyReplicas: ready, updatedReplicas: ready },
});

describe('KindList', () => {
  it('lists a kind live with its status and links, and only the actions RBAC allows', async () => {
    cluster({ '/namespaces/ml/statefulsets': [sts('db', 2), sts('cache', 1)] }, (a) => a.verb === 'delete');
    renderIn('/', <KindList cluster="dev" namespace="ml" def={kindById('statefulsets')!} />);
    const table = await screen.findByRole('table', { name: 'StatefulSets' });
    const db = within(table).getByRole('row', { name: /^db/ });
    expect(within(db).getByText('Ready')).toBeTruthy();
    expect(within(db).getByText('2/2')).toBeTruthy();
    expect(within(db).getByRole('link', { name: 'db' }).getAttribute('href')).toBe('/clusters/dev/namespaces/ml/statefulsets/db');
    expect(within(within(table).getByRole('row', { name: /^cache/ })).getByText('Progressing')).toBeTruthy();
    expect(await within(db).findByRole('button', { name: 'Delete db' })).toBeTruthy();
    expect(within(db).queryByRole('button', { name: 'Scale db' })).toBeNull();
    expect(within(db).queryByRole('button', { name: 'Restart db' })).toBeNull();
  });

  it('restarts after asking', async () => {
    const user = userEvent.setup();
    const calls = cluster({ '/namespaces/ml/statefulsets': [sts('db', 2)] }, () => true, (c) => (c.method === 'PATCH' ? json(200, {}) : undefined));
    renderIn('/', <KindList cluster="dev" namespace="ml" def={kindById('statefulsets')!} />);
    await user.click(await screen.findByRole('button', { name: 'Restart db' }));
    const dialog = screen.getByRole('dialog', { name: 'Restart db?' });
    await user.click(within(dialog).getByRole('button', { name: 'Restart' }));
    const patch = calls.find((c) => c.method === 'PATCH')!;
    expect(patch.url).toBe('/k8s/clusters/dev/apis/apps/v1/namespaces/ml/statefulsets/db');
    expect(patch.body).toContain('kubectl.kubernetes.io/restartedAt');
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});

/** secretTable answers a Secret list as the apiserver does for includeObject=Metadata. */
const secretTable = (rows: { name: string; type: string; keys: number }[]) =>
  json(200, {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '5' },
    columnDefinitions: [{ name: 'Name' }, { name: 'Type' }, { name: 'Data' }, { name: 'Age' }],
    rows: rows.map((r) => ({
      cells: [r.name, r.type, r.keys, '1m'],
      object: {
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        // As kubectl apply leaves it: the whole Secret, values included.
        metadata: { name: r.name, namespace: 'ml', uid: r.name, resourceVersion: '5', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `{"data":{"password":"${btoa('hunter2')}"}}`, team: 'ml' } },
      },
    })),
  });

/** A watch that sends these lines, then stays open. */
const watchWith = (...events: unknown[]) =>
  new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(events.map((e) => JSON.stringify(e) + '\n').join('')));
      },
    }),
    { status: 200, headers: { 'Content-Type': 'application/json' } },
  );

describe('Secrets', () => {
  const secret = { metadata: { name: 'db-pass', namespace: 'ml', uid: 'u' }, type: 'Opaque', data: { password: btoa('hunter2') } };
  const secretPath = '/k8s/clusters/dev/api/v1/namespaces/ml/secrets';
  /** The cluster answers Secret lists and watches as Tables of metadata only; a whole Secret only by name. */
  function secrets(allowed: boolean, watchEvents: unknown[] = []) {
    return cluster({}, (a) => allowed && a.verb === 'get' && a.resource === 'secrets', (c) => {
      if (c.url === `${secretPath}/db-pass`) return json(200, secret);
      if (!c.url.startsWith(secretPath + '?')) return undefined;
      if (!c.headers.get('Accept')?.startsWith('application/json;as=Table;g=meta.k8s.io;v=v1') || !c.url.includes('includeObject=Metadata')) return json(200, { metadata: { resourceVersion: '5' }, items: [secret] });
      if (c.url.includes('watch=1')) return watchWith(...watchEvents);
      return secretTable([{ name: 'db-pass', type: 'Opaque', keys: 1 }]);
    });
  }

  it('lists Secrets as metadata only, live, with type and key count', async () => {
    const added = {
      type: 'ADDED',
      object: { kind: 'Table', metadata: { resourceVersion: '6' }, rows: [{ cells: ['tls', 'kubernetes.io/tls', 2, '0s'], object: { metadata: { name: 'tls', namespace: 'ml', resourceVersion: '6' } } }] },
    };
    const calls = secrets(false, [added]);
    renderIn('/', <KindList cluster="dev" namespace="ml" def={kindById('secrets')!} />);
    const table = await screen.findByRole('table', { name: 'Secrets' });
    const tls = await within(table).findByRole('row', { name: /^tls/ });
    expect(within(tls).getByText('kubernetes.io/tls')).toBeTruthy();
    expect(within(within(table).getByRole('row', { name: /^db-pass/ })).getByText('Opaque')).toBeTruthy();
    const reads = calls.filter((c) => c.url.startsWith(secretPath));
    expect(reads.map((c) => c.url.split('?')[0])).toEqual([secretPath, secretPath]);
    for (const c of reads) {
      expect(c.url).toContain('includeObject=Metadata');
      expect(c.headers.get('Accept')).toContain('as=Table');
    }
    expect(document.body.textContent).not.toContain('hunter2');
  });

  it('refuses a Secret list that is not a Table', async () => {
    cluster({ '/namespaces/ml/secrets': [secret] }, () => false);
    renderIn('/', <KindList cluster="dev" namespace="ml" def={kindById('secrets')!} />);
    expect(await screen.findByText(/did not answer secrets as a Table of metadata/)).toBeTruthy();
    expect(screen.queryByRole('row', { name: /^db-pass/ })).toBeNull();
  });

  it('reads one Secret’s values only when Reveal is clicked, with the right to get it', async () => {
    const user = userEvent.setup();
    const calls = secrets(true);
    renderIn('/clusters/dev/namespaces/ml/secrets/db-pass', <ResourceDetails />, '/clusters/:name/namespaces/:namespace/:kind/:object');
    await screen.findByRole('heading', { level: 1, name: 'db-pass' });
    expect(screen.getByText('1 keys; their names and values stay on the server until you reveal them.')).toBeTruthy();
    expect(screen.queryByText('password')).toBeNull();
    expect(calls.some((c) => c.url === `${secretPath}/db-pass`)).toBe(false);
    const yaml = screen.getByRole('region', { name: 'YAML' }).textContent ?? '';
    expect(yaml).toContain('team: ml');
    expect(yaml).not.toContain('last-applied');
    expect(yaml).not.toContain('dataCount');
    const reveal = screen.getByRole('button', { name: 'Reveal values' });
    await waitFor(() => expect((reveal as HTMLButtonElement).disabled).toBe(false));
    await user.click(reveal);
    expect(await screen.findByText('hunter2')).toBeTruthy();
    expect(screen.getByText('password')).toBeTruthy();
    expect(calls.filter((c) => c.url === `${secretPath}/db-pass`)).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: 'Hide values' }));
    expect(screen.queryByText('hunter2')).toBeNull();
  });

  it('keeps Reveal disabled without the right', async () => {
    const calls = secrets(false);
    renderIn('/clusters/dev/namespaces/ml/secrets/db-pass', <ResourceDetails />, '/clusters/:name/namespaces/:namespace/:kind/:object');
    await screen.findByRole('heading', { level: 1, name: 'db-pass' });
    const reveal = screen.getByRole('button', { name: 'Reveal values' });
    await waitFor(() => expect(calls.some((c) => c.url.endsWith('/selfsubjectaccessreviews'))).toBe(true));
    expect((reveal as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.url === `${secretPath}/db-pass`)).toBe(false);
  });
});

describe('ResourceDetails', () => {
  it('links owners and shows conditions', async () => {
    const job = {
      metadata: { name: 'nightly-1', namespace: 'ml', ownerReferences: [{ kind: 'CronJob', name: 'nightly' }] },
      spec: { completions: 1 },
      status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] },
    };
    cluster({ '/namespaces/ml/jobs': [job] }, () => false);
    renderIn('/clusters/dev/namespaces/ml/jobs/nightly-1', <ResourceDetails />, '/clusters/:name/namespaces/:namespace/:kind/:object');
    expect((await screen.findByRole('link', { name: 'CronJob/nightly' })).getAttribute('href')).toBe('/clusters/dev/namespaces/ml/cronjobs/nightly');
    expect(within(screen.getByRole('table', { name: 'Conditions' })).getByText('CompletionsReached')).toBeTruthy();
    expect(screen.getAllByText('Complete').length).toBeGreaterThan(0);
  });
});
