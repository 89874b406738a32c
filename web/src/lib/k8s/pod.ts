// Pods: what a pod table shows, summed up the way kubectl get pods does.
import type { KubeObject, ResourceKind } from './resource';

export const PodKind: ResourceKind = { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true };

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  image?: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { reason?: string; exitCode?: number };
  };
}

export interface Pod extends KubeObject {
  metadata: KubeObject['metadata'] & { deletionTimestamp?: string; ownerReferences?: { kind: string; name: string }[] };
  spec?: { nodeName?: string; containers: { name: string; image?: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    podIP?: string;
    containerStatuses?: ContainerStatus[];
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  };
}

export type Tone = 'ok' | 'bad' | 'unknown';

export interface PodSummary {
  name: string;
  namespace: string;
  /** Phase, or the reason that says more (CrashLoopBackOff, Terminating). */
  status: string;
  tone: Tone;
  ready: number;
  containers: number;
  restarts: number;
  node: string;
  created: string;
}

const BAD_REASONS = /BackOff|Err|Error|Invalid|OOMKilled|Failed/;

export function summarizePod(pod: Pod): PodSummary {
  const statuses = pod.status?.containerStatuses ?? [];
  let status = pod.status?.reason || pod.status?.phase || 'Unknown';
  // A container stuck waiting or killed explains more than the phase.
  for (const c of statuses) {
    const reason = c.state?.waiting?.reason ?? (c.state?.terminated && !c.ready ? c.state.terminated.reason : undefined);
    if (reason) {
      status = reason;
      break;
    }
  }
  if (pod.metadata.deletionTimestamp) status = 'Terminating';
  const ready = statuses.filter((c) => c.ready).length;
  const containers = pod.spec?.containers.length ?? statuses.length;
  let tone: Tone = 'unknown';
  if (BAD_REASONS.test(status) || status === 'Failed') tone = 'bad';
  else if ((status === 'Running' && ready === containers) || status === 'Succeeded') tone = 'ok';
  return {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace ?? '',
    status,
    tone,
    ready,
    containers,
    restarts: statuses.reduce((n, c) => n + c.restartCount, 0),
    node: pod.spec?.nodeName ?? '',
    created: pod.metadata.creationTimestamp ?? '',
  };
}
