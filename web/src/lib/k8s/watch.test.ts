import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../../test/fetch';
import { summarizeDeployment } from './deployment';
import { PodKind, summarizePod, type Pod } from './pod';
import { formatAge } from './age';
import { applyEvents, fromList, GoneError, LineSplitter, runWatch, type WatchState } from './watch';

afterEach(() => vi.unstubAllGlobals());

const pod = (name: string, rv: string, phase = 'Pending'): Pod => ({
  metadata: { name, namespace: 'ml', resourceVersion: rv },
  spec: { containers: [{ name: 'main' }] },
  status: { phase },
});

const names = (s: WatchState<Pod>) => [...s.items.values()].map((p) => `${p.metadata.name}:${p.status?.phase}`).sort();

describe('applyEvents', () => {
  const start = fromList({ metadata: { resourceVersion: '10' }, items: [pod('a', '5'), pod('b', '6')] });

  it('adds, modifies and deletes, and follows the resourceVersion', () => {
    const next = applyEvents(start, [
      { type: 'ADDED', object: pod('c', '11') },
      { type: 'MODIFIED', object: pod('a', '12', 'Running') },
      { type: 'DELETED', object: pod('b', '13') },
    ]);
    expect(names(next)).toEqual(['a:Running', 'c:Pending']);
    expect(next.resourceVersion).toBe('13');
    // The old state is untouched, so React sees a new one.
    expect(names(start)).toEqual(['a:Pending', 'b:Pending']);
  });

  it('moves on at a bookmark without touching the objects', () => {
    const next = applyEvents(start, [{ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '20' } } as Pod }]);
    expect(next.resourceVersion).toBe('20');
    expect(names(next)).toEqual(names(start));
  });

  it('returns the same state for no events', () => {
    expect(applyEvents(start, [])).toBe(start);
  });

  it('says Gone on a 410 ERROR event, and fails on others', () => {
    expect(() => applyEvents(start, [{ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } }])).toThrow(GoneError);
    expect(() => applyEvents(start, [{ type: 'ERROR', object: { kind: 'Status', code: 500, message: 'boom' } }])).toThrow('boom');
  });
});

describe('LineSplitter', () => {
  it('holds a line split across chunks', () => {
    const s = new LineSplitter();
    const enc = new TextEncoder();
    expect(s.push(enc.encode('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(s.push(enc.encode(':2}\n\n'))).toEqual(['{"b":2}']);
  });
});

function streamOf(lines: unknown[]): Response {
  const body = lines.map((l) => JSON.stringify(l) + '\n').join('');
  return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } });
}

describe('runWatch', () => {
  it('lists, watches from the list, and lists again after 410 Gone', async () => {
    const ctl = new AbortController();
    let lists = 0;
    const calls = mockFetch((call) => {
      if (!call.url.includes('watch=1')) {
        lists++;
        return json(200, { metadata: { resourceVersion: lists === 1 ? '10' : '30' }, items: lists === 1 ? [pod('a', '5')] : [pod('z', '29')] });
      }
      if (call.url.includes('resourceVersion=10')) {
        return streamOf([
          { type: 'ADDED', object: pod('b', '11') },
          { type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } },
        ]);
      }
      // The second watch ends the test.
      ctl.abort();
      return streamOf([]);
    });
    const states: string[][] = [];
    await runWatch<Pod>('dev', PodKind, 'ml', ctl.signal, (s) => states.push(names(s)), (err) => {
      throw err;
    });
    expect(states).toEqual([['a:Pending'], ['z:Pending']]);
    expect(calls.map((c) => c.url)).toEqual([
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=500',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?watch=1&allowWatchBookmarks=true&resourceVersion=10',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=500',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?watch=1&allowWatchBookmarks=true&resourceVersion=30',
    ]);
  });

  it('lists in pages, showing the first at once and then each doubling, and watches from the whole list', async () => {
    const ctl = new AbortController();
    // Pages of one, two, one and one pod: told after 1, 3 (doubled), and at the end (5).
    const pages: Record<string, [string[], string]> = { '': [['a'], 't1'], t1: [['b', 'c'], 't2'], t2: [['d'], 't3'], t3: [['e'], ''] };
    const calls = mockFetch((call) => {
      if (call.url.includes('watch=1')) {
        ctl.abort();
        return streamOf([]);
      }
      const [names, next] = pages[new URL(call.url, 'http://x').searchParams.get('continue') ?? '']!;
      return json(200, { metadata: { resourceVersion: '40', continue: next || undefined }, items: names.map((n) => pod(n, '6')) });
    });
    const states: number[] = [];
    await runWatch<Pod>('dev', PodKind, 'ml', ctl.signal, (s) => states.push(s.items.size), (err) => {
      throw err;
    });
    expect(states).toEqual([1, 3, 5]);
    expect(calls.map((c) => c.url)).toEqual([
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=500',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=5000&continue=t1',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=5000&continue=t2',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=5000&continue=t3',
      '/k8s/clusters/dev/api/v1/namespaces/ml/pods?watch=1&allowWatchBookmarks=true&resourceVersion=40',
    ]);
  });

  it('gives up on a refusal', async () => {
    mockFetch(() => json(403, { kind: 'Status', reason: 'Forbidden', message: 'no', code: 403 }));
    const errors: unknown[] = [];
    await runWatch<Pod>('dev', PodKind, 'ml', new AbortController().signal, () => undefined, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
  });
});

describe('summaries', () => {
  it('tells why a pod is not running', () => {
    const p = pod('a', '1', 'Running');
    p.status!.containerStatuses = [{ name: 'main', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }];
    expect(summarizePod(p)).toMatchObject({ status: 'CrashLoopBackOff', tone: 'bad', ready: 0, containers: 1, restarts: 4 });
    p.status!.containerStatuses = [{ name: 'main', ready: true, restartCount: 0, state: { running: {} } }];
    expect(summarizePod(p)).toMatchObject({ status: 'Running', tone: 'ok', ready: 1 });
    p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(summarizePod(p).status).toBe('Terminating');
  });

  it('sums a deployment up', () => {
    expect(summarizeDeployment({ metadata: { name: 'd' }, spec: { replicas: 2 }, status: { readyReplicas: 2, updatedReplicas: 2 } })).toMatchObject({ status: 'Available', tone: 'ok' });
    expect(summarizeDeployment({ metadata: { name: 'd' }, spec: { replicas: 2 }, status: { readyReplicas: 1 } }).status).toBe('Progressing');
    expect(summarizeDeployment({ metadata: { name: 'd' }, spec: { replicas: 0 } }).status).toBe('Scaled to zero');
  });

  it('writes ages like kubectl', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(formatAge('2026-01-01T23:59:30Z', now)).toBe('30s');
    expect(formatAge('2026-01-01T23:00:00Z', now)).toBe('60m');
    expect(formatAge('2026-01-01T00:00:00Z', now)).toBe('24h');
    expect(formatAge('2025-12-20T00:00:00Z', now)).toBe('13d');
    expect(formatAge('', now)).toBe('—');
  });
});
