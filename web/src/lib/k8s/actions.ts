// What a user can do to a workload from the UI, each one the same request
// kubectl makes: scale through the scale subresource, rollout restart by
// the restartedAt annotation, rollout undo by putting a ReplicaSet's pod
// template back, delete with background propagation.
import { request } from '../api';
import type { AnyObject } from './kinds';
import { list, clusterPath, resourcePath, type ResourceKind } from './resource';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
export const REVISION = 'deployment.kubernetes.io/revision';

const ReplicaSetKind: ResourceKind = { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true };

export function scale(cluster: string, kind: ResourceKind, namespace: string, name: string, replicas: number): Promise<unknown> {
  return request(clusterPath(cluster, resourcePath(kind, { namespace, name }) + '/scale'), {
    method: 'PATCH',
    body: JSON.stringify({ spec: { replicas } }),
    contentType: 'application/merge-patch+json',
  });
}

/** restart sets the pod template's restartedAt annotation: the controller rolls every pod. */
export function restart(cluster: string, kind: ResourceKind, namespace: string, name: string, now = new Date()): Promise<unknown> {
  return request(clusterPath(cluster, resourcePath(kind, { namespace, name })), {
    method: 'PATCH',
    body: JSON.stringify({ spec: { template: { metadata: { annotations: { [RESTARTED_AT]: now.toISOString() } } } } }),
    contentType: 'application/merge-patch+json',
  });
}

export function remove(cluster: string, kind: ResourceKind, namespace: string, name: string): Promise<unknown> {
  return request(clusterPath(cluster, resourcePath(kind, { namespace, name })), {
    method: 'DELETE',
    body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
  });
}

export interface Revision {
  revision: number;
  replicaSet: string;
  images: string[];
  created: string;
  /** The pod template, without the controller's pod-template-hash label. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  template: any;
}

/** revisionsOf picks the ReplicaSets a Deployment owns, newest revision first. */
export function revisionsOf(deployment: AnyObject, replicaSets: AnyObject[]): Revision[] {
  const uid = deployment.metadata.uid;
  return replicaSets
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && (uid ? o.uid === uid : o.name === deployment.metadata.name)))
    .map((rs) => {
      const template = structuredClone(rs.spec?.template ?? {});
      if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
      return {
        revision: Number(rs.metadata.annotations?.[REVISION] ?? 0),
        replicaSet: rs.metadata.name,
        images: ((template.spec?.containers ?? []) as { image?: string }[]).map((c) => c.image ?? ''),
        created: rs.metadata.creationTimestamp ?? '',
        template,
      };
    })
    .filter((r) => r.revision > 0)
    .sort((a, b) => b.revision - a.revision);
}

export async function listRevisions(cluster: string, deployment: AnyObject): Promise<Revision[]> {
  const rs = await list<AnyObject>(cluster, ReplicaSetKind, { namespace: deployment.metadata.namespace });
  return revisionsOf(deployment, rs.items);
}

/**
 * rollback puts a revision's pod template back, as kubectl rollout undo
 * does; the test on generation refuses it when the Deployment's spec
 * changed since the user looked (status updates do not count).
 */
export function rollback(cluster: string, deployment: AnyObject, to: Revision): Promise<unknown> {
  const { namespace = '', name, generation } = deployment.metadata;
  const ops: unknown[] = [];
  if (generation !== undefined) ops.push({ op: 'test', path: '/metadata/generation', value: generation });
  ops.push({ op: 'replace', path: '/spec/template', value: to.template });
  return request(clusterPath(cluster, resourcePath({ kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true }, { namespace, name })), {
    method: 'PATCH',
    body: JSON.stringify(ops),
    contentType: 'application/json-patch+json',
  });
}
