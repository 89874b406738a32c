import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../../test/fetch';
import { restart, revisionsOf, rollback, RESTARTED_AT } from './actions';
import { decodeSecretValue, MASK, toYAML } from './display';
import { podSelector, cronJobStatus, daemonSetStatus, ingressHosts, jobStatus, kindById, kinds, objectURL, pvcStatus, replicatedStatus, servicePorts, type AnyObject } from './kinds';

afterEach(() => vi.unstubAllGlobals());

const obj = (o: Partial<AnyObject> & { name?: string }): AnyObject => ({ metadata: { name: o.name ?? 'x', namespace: 'ml', ...o.metadata }, ...o });

describe('kind status', () => {
  it('reads StatefulSets and ReplicaSets by ready against desired', () => {
    expect(replicatedStatus(obj({ spec: { replicas: 3 }, status: { readyReplicas: 3, updatedReplicas: 3 } }))).toEqual({ text: 'Ready', tone: 'ok' });
    expect(replicatedStatus(obj({ spec: { replicas: 3 }, status: { readyReplicas: 1 } })).text).toBe('Progressing');
    expect(replicatedStatus(obj({ spec: { replicas: 0 } })).text).toBe('Scaled to zero');
  });
  it('reads DaemonSets by nodes ready', () => {
    expect(daemonSetStatus(obj({ status: { desiredNumberScheduled: 2, numberReady: 2 } })).tone).toBe('ok');
    expect(daemonSetStatus(obj({ status: { desiredNumberScheduled: 2, numberReady: 1 } })).text).toBe('Progressing');
  });
  it('reads Jobs by their conditions', () => {
    expect(jobStatus(obj({ status: { conditions: [{ type: 'Complete', status: 'True' }] } }))).toEqual({ text: 'Complete', tone: 'ok' });
    expect(jobStatus(obj({ status: { conditions: [{ type: 'Failed', status: 'True' }] } }))).toEqual({ text: 'Failed', tone: 'bad' });
    expect(jobStatus(obj({ spec: { suspend: true } })).text).toBe('Suspended');
    expect(jobStatus(obj({ status: { active: 1 } })).text).toBe('Running');
  });
  it('reads CronJobs and PVCs', () => {
    expect(cronJobStatus(obj({ spec: { suspend: true } })).text).toBe('Suspended');
    expect(cronJobStatus(obj({ status: { active: [{ name: 'a' }] } })).text).toBe('Running');
    expect(pvcStatus(obj({ status: { phase: 'Bound' } }))).toEqual({ text: 'Bound', tone: 'ok' });
    expect(pvcStatus(obj({})).text).toBe('Pending');
  });
});

describe('kind columns', () => {
  it('show service ports and ingress hosts as kubectl does', () => {
    expect(servicePorts(obj({ spec: { ports: [{ port: 80, nodePort: 30080 }, { port: 53, protocol: 'UDP' }] } }))).toBe('80:30080/TCP, 53/UDP');
    expect(ingressHosts(obj({ spec: { rules: [{ host: 'a.example.com' }, {}] } }))).toBe('a.example.com, *');
  });
  it('cover every kind the issue names, each with a unique id', () => {
    const ids = kinds.filter((k) => k.listed).map((k) => k.resource.kind);
    expect(ids).toEqual(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Service', 'Ingress', 'ConfigMap', 'Secret', 'PersistentVolumeClaim']);
    expect(new Set(kinds.map((k) => k.id)).size).toBe(kinds.length);
  });
  it('link objects to their pages, pods to theirs, and unknown kinds nowhere', () => {
    expect(objectURL('dev', 'ml', 'ReplicaSet', 'web-1')).toBe('/clusters/dev/namespaces/ml/replicasets/web-1');
    expect(objectURL('dev', 'ml', 'Pod', 'p')).toBe('/clusters/dev/namespaces/ml/pods/p');
    expect(objectURL('dev', 'ml', 'Widget', 'w')).toBeUndefined();
    expect(kindById('nope')).toBeUndefined();
  });
});

describe('podSelector', () => {
  it('selects a workload’s and a Service’s pods, and none for other kinds', () => {
    expect(podSelector('Deployment', obj({ spec: { selector: { matchLabels: { tier: 'web', app: 'shop' } } } }))).toBe('app=shop,tier=web');
    expect(podSelector('Service', obj({ spec: { selector: { app: 'shop' } } }))).toBe('app=shop');
    expect(podSelector('Service', obj({ spec: {} }))).toBe('');
    expect(podSelector('ConfigMap', obj({ spec: { selector: { matchLabels: { a: 'b' } } } }))).toBe('');
  });
});

describe('Secrets on screen', () => {
  const secret = obj({ name: 's', data: { password: btoa('hunter2') }, metadata: { name: 's', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"password":"aHVudGVyMg=="}}' } } });
  it('are masked in YAML, the last-applied annotation included', () => {
    const y = toYAML(secret, kindById('secrets')!.resource);
    expect(y).not.toContain('aHVudGVyMg');
    expect(y).toContain(`password: ${MASK}`);
    expect(y.startsWith('apiVersion: v1\nkind: Secret\nmetadata:\n')).toBe(true);
  });
  it('decode to text, or say they are binary', () => {
    expect(decodeSecretValue(btoa('hunter2'))).toEqual({ text: 'hunter2', binary: false });
    expect(decodeSecretValue(btoa(String.fromCharCode(0xff, 0xfe))).binary).toBe(true);
    expect(decodeSecretValue('%%%').binary).toBe(true);
  });
});

describe('rollout actions', () => {
  const deploy = obj({ name: 'web', metadata: { name: 'web', namespace: 'ml', uid: 'd1', resourceVersion: '42', generation: 7 } });
  const rs = (name: string, revision: string, image: string, owner = 'd1'): AnyObject =>
    obj({
      metadata: { name, namespace: 'ml', annotations: { 'deployment.kubernetes.io/revision': revision }, ownerReferences: [{ kind: 'Deployment', name: 'web', uid: owner }] },
      spec: { template: { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'main', image }] } } },
    });

  it('list the revisions a Deployment owns, newest first, without the hash label', () => {
    const revs = revisionsOf(deploy, [rs('web-1', '1', 'nginx:1'), rs('web-3', '3', 'nginx:3'), rs('other', '2', 'x', 'd2')]);
    expect(revs.map((r) => [r.revision, r.images[0]])).toEqual([
      [3, 'nginx:3'],
      [1, 'nginx:1'],
    ]);
    expect(revs[0]!.template.metadata.labels).toEqual({ app: 'web' });
  });

  it('roll back by replacing the template, refused if the Deployment changed meanwhile', async () => {
    const calls = mockFetch(() => json(200, {}));
    const [, old] = revisionsOf(deploy, [rs('web-1', '1', 'nginx:1'), rs('web-3', '3', 'nginx:3')]);
    await rollback('dev', deploy, old!);
    expect(calls[0]!.method).toBe('PATCH');
    expect(calls[0]!.url).toBe('/k8s/clusters/dev/apis/apps/v1/namespaces/ml/deployments/web');
    expect(calls[0]!.headers.get('Content-Type')).toBe('application/json-patch+json');
    expect(JSON.parse(calls[0]!.body!)).toEqual([
      { op: 'test', path: '/metadata/generation', value: 7 },
      { op: 'replace', path: '/spec/template', value: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'nginx:1' }] } } },
    ]);
  });

  it('restart by the restartedAt annotation on the pod template', async () => {
    const calls = mockFetch(() => json(200, {}));
    await restart('dev', kindById('statefulsets')!.resource, 'ml', 'db', new Date('2026-01-02T03:04:05Z'));
    expect(calls[0]!.url).toBe('/k8s/clusters/dev/apis/apps/v1/namespaces/ml/statefulsets/db');
    expect(JSON.parse(calls[0]!.body!)).toEqual({ spec: { template: { metadata: { annotations: { [RESTARTED_AT]: '2026-01-02T03:04:05.000Z' } } } } });
  });
});
