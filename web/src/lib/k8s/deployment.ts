// Deployments: summary for tables, and the actions a user may take on one.
import type { KubeObject, ResourceKind } from './resource';
import type { Tone } from './pod';

export const DeploymentKind: ResourceKind = { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };

export interface Deployment extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number; deletionTimestamp?: string };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface DeploymentSummary {
  name: string;
  namespace: string;
  desired: number;
  ready: number;
  upToDate: number;
  status: 'Available' | 'Progressing' | 'Unavailable' | 'Scaled to zero' | 'Deleting';
  tone: Tone;
  created: string;
}

export function summarizeDeployment(d: Deployment): DeploymentSummary {
  const desired = d.spec?.replicas ?? 1;
  const ready = d.status?.readyReplicas ?? 0;
  const upToDate = d.status?.updatedReplicas ?? 0;
  const available = d.status?.conditions?.find((c) => c.type === 'Available');
  let status: DeploymentSummary['status'];
  let tone: Tone;
  if (d.metadata.deletionTimestamp) [status, tone] = ['Deleting', 'unknown'];
  else if (desired === 0) [status, tone] = ['Scaled to zero', 'unknown'];
  else if (ready >= desired && upToDate >= desired) [status, tone] = ['Available', 'ok'];
  else if (available?.status === 'False') [status, tone] = ['Unavailable', 'bad'];
  else [status, tone] = ['Progressing', 'unknown'];
  return { name: d.metadata.name, namespace: d.metadata.namespace ?? '', desired, ready, upToDate, status, tone, created: d.metadata.creationTimestamp ?? '' };
}
