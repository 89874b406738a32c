import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../test/fetch';
import { diffLines, foldContext, isUnchanged } from './diff';
import { comparable, dryRunObject, plan } from './k8s/apply';
import { clearDiscovery, findKind, resolveKind, splitApiVersion, UnknownKindError } from './k8s/discovery';
import { splitDocuments } from './yamlDocs';

afterEach(() => {
  vi.unstubAllGlobals();
  clearDiscovery();
});

describe('splitDocuments', () => {
  it('splits on ---, skips empty documents and remembers lines', () => {
    const docs = splitDocuments(`---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
# only a comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
`);
    expect(docs.map((d) => [d.index, d.line, d.object?.kind, d.error])).toEqual([
      [1, 2, 'ConfigMap', undefined],
      [2, 8, 'Deployment', undefined],
    ]);
  });

  it('says what is wrong with a document, with its line', () => {
    const docs = splitDocuments(`apiVersion: v1
kind: ConfigMap
---
- a list
---
apiVersion: v1
kind: Pod
metadata:
  name: x
  labels: [unclosed
`);
    expect(docs[0]?.error).toBe('metadata.name is required');
    expect(docs[1]?.error).toMatch(/not a Kubernetes object/);
    expect(docs[2]?.error).toMatch(/^line \d+, column \d+: /);
    expect(docs[2]?.line).toBeGreaterThanOrEqual(10);
  });
});

describe('discovery', () => {
  const apps = {
    groupVersion: 'apps/v1',
    resources: [
      { name: 'deployments', kind: 'Deployment', namespaced: true },
      { name: 'deployments/scale', kind: 'Scale', namespaced: true },
    ],
  };

  it('finds a kind, skipping subresources', () => {
    expect(splitApiVersion('v1')).toEqual(['', 'v1']);
    expect(splitApiVersion('cert-manager.io/v1')).toEqual(['cert-manager.io', 'v1']);
    expect(findKind(apps, 'Deployment')).toEqual({ kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true });
    expect(findKind(apps, 'Scale')).toBeUndefined();
  });

  it('asks each group version once, and says when a kind is not served', async () => {
    const calls = mockFetch((c) =>
      c.url.endsWith('/apis/apps/v1') ? json(200, apps) : c.url.endsWith('/api/v1') ? json(503, {}) : json(404, { kind: 'Status', code: 404 }),
    );
    await resolveKind('dev', 'apps/v1', 'Deployment');
    await resolveKind('dev', 'apps/v1', 'Deployment');
    expect(calls.filter((c) => c.url === '/k8s/clusters/dev/apis/apps/v1')).toHaveLength(1);
    await expect(resolveKind('dev', 'apps/v1', 'Widget')).rejects.toBeInstanceOf(UnknownKindError);
    await expect(resolveKind('dev', 'example.com/v1', 'Widget')).rejects.toBeInstanceOf(UnknownKindError);
    // Core kinds still resolve when /api/v1 cannot be read.
    expect((await resolveKind('dev', 'v1', 'ConfigMap')).plural).toBe('configmaps');
  });
});

describe('diff', () => {
  it('diffs lines', () => {
    expect(diffLines('a\nb\nc\n', 'a\nx\nc\n')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'x' },
      { op: ' ', text: 'c' },
    ]);
    expect(diffLines('', 'a')).toEqual([{ op: '+', text: 'a' }]);
    expect(isUnchanged(diffLines('a\nb', 'a\nb'))).toBe(true);
  });

  it('folds unchanged lines far from a change', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
    const b = a.replace('l10', 'L10');
    const folded = foldContext(diffLines(a, b), 2);
    expect(folded[0]).toEqual({ op: '…', count: 8 });
    expect(folded.at(-1)).toEqual({ op: '…', count: 7 });
    expect(folded).toHaveLength(8);
  });
});

describe('plan', () => {
  const cm = (data: Record<string, string>, rv = '1') => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', namespace: 'ml', resourceVersion: rv, uid: 'u', managedFields: [] } as never,
    data,
  });

  it('ignores bookkeeping and says created, changed or unchanged', () => {
    expect(comparable(cm({ k: 'v' }))).not.toMatch(/resourceVersion|uid|managedFields/);
    expect(plan(undefined, cm({ k: 'v' })).outcome).toBe('created');
    expect(plan(cm({ k: 'v' }, '1'), cm({ k: 'v' }, '2')).outcome).toBe('unchanged');
    const changed = plan(cm({ k: 'v' }), cm({ k: 'w' }));
    expect(changed.outcome).toBe('changed');
    expect(changed.diff.filter((l) => l.op !== ' ')).toEqual([
      { op: '-', text: '  k: v' },
      { op: '+', text: '  k: w' },
    ]);
  });

  it('dry-runs with server-side apply in the given namespace', async () => {
    const calls = mockFetch((c) => {
      if (c.url === '/k8s/clusters/dev/api/v1') return json(200, { groupVersion: 'v1', resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] });
      if (c.method === 'GET') return json(404, { kind: 'Status', code: 404, reason: 'NotFound' });
      return json(201, { ...JSON.parse(c.body ?? '{}'), metadata: { name: 'a', namespace: 'ml', uid: 'x' } });
    });
    const r = await dryRunObject('dev', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { k: 'v' } }, 'ml');
    expect(r.outcome).toBe('created');
    const patch = calls.at(-1)!;
    expect(patch.method).toBe('PATCH');
    expect(patch.url).toBe('/k8s/clusters/dev/api/v1/namespaces/ml/configmaps/a?fieldManager=bokujo-ui&dryRun=All');
    expect(patch.headers.get('Content-Type')).toBe('application/apply-patch+yaml');
    expect(JSON.parse(patch.body ?? '').metadata.namespace).toBe('ml');
  });
});
