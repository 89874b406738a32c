// MLTasks (ml.bokujo.io): a summary for tables, the "New training task"
// form's validation and object, and the actions a user may take on one.
import { request } from '../api';
import { clusterPath, resourcePath, type KubeObject, type ResourceKind } from './resource';
import type { Tone } from './pod';

export const MLTaskKind: ResourceKind = { kind: 'MLTask', group: 'ml.bokujo.io', version: 'v1alpha1', plural: 'mltasks', namespaced: true };

export type MLTaskMode = 'Training' | 'Interactive';
export type MLTaskPhase = 'Queued' | 'Admitted' | 'Running' | 'Succeeded' | 'Failed' | 'Stopped';

export interface MLTask extends KubeObject {
  metadata: KubeObject['metadata'] & { deletionTimestamp?: string };
  spec: {
    mode?: MLTaskMode;
    image: string;
    command?: string[];
    args?: string[];
    workers?: number;
    resources?: { gpus?: number; gpuProduct?: string };
    queue?: string;
    priority?: number;
    state?: 'Running' | 'Stopped';
  };
  status?: {
    phase?: MLTaskPhase;
    message?: string;
    workersReady?: number;
    gpus?: number;
    queue?: { position?: number; reason?: string; message?: string };
    admission?: { gpuQueue: string; gpuProduct?: string };
  };
}

export interface MLTaskSummary {
  name: string;
  namespace: string;
  mode: MLTaskMode;
  phase: MLTaskPhase | 'Pending';
  tone: Tone;
  ready: number;
  workers: number;
  gpus: number;
  queue: string;
  /** Place among the waiting tasks of the queue; undefined once admitted. */
  position?: number;
  message: string;
  created: string;
}

export function summarizeMLTask(t: MLTask): MLTaskSummary {
  const workers = t.spec.workers ?? 1;
  const phase = t.status?.phase ?? 'Pending';
  const tone: Tone = phase === 'Running' || phase === 'Succeeded' ? 'ok' : phase === 'Failed' ? 'bad' : 'unknown';
  const waiting = !t.status?.admission && (t.status?.queue?.position ?? 0) > 0;
  return {
    name: t.metadata.name,
    namespace: t.metadata.namespace ?? '',
    mode: t.spec.mode ?? 'Training',
    phase,
    tone,
    ready: t.status?.workersReady ?? 0,
    workers,
    gpus: t.status?.gpus ?? workers * (t.spec.resources?.gpus ?? 0),
    queue: t.spec.queue ?? 'default',
    position: waiting ? t.status?.queue?.position : undefined,
    message: t.status?.message ?? '',
    created: t.metadata.creationTimestamp ?? '',
  };
}

/** NewTask is what the "New training task" form asks. */
export interface NewTask {
  name: string;
  mode: MLTaskMode;
  image: string;
  command: string;
  workers: string;
  gpus: string;
  gpuProduct: string;
  queue: string;
  priority: string;
}

export const emptyTask: NewTask = { name: '', mode: 'Training', image: '', command: '', workers: '1', gpus: '1', gpuProduct: '', queue: 'default', priority: '0' };

export type TaskProblem = 'name' | 'image' | 'workers' | 'gpus' | 'gpuProduct' | 'queue' | 'priority';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const productLabel = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function wholeIn(v: string, lo: number, hi: number): boolean {
  const n = Number(v);
  return v.trim() !== '' && Number.isInteger(n) && n >= lo && n <= hi;
}

/**
 * validateTask lists the fields the cluster would refuse, with the same
 * limits as the CRD, so the form says so before sending.
 */
export function validateTask(f: NewTask): TaskProblem[] {
  const out: TaskProblem[] = [];
  if (!dnsLabel.test(f.name) || f.name.length > 52) out.push('name');
  if (f.image.trim() === '' || f.image.length > 512) out.push('image');
  if (!wholeIn(f.workers, 1, 256)) out.push('workers');
  if (!wholeIn(f.gpus, 0, 64)) out.push('gpus');
  if (f.gpuProduct !== '' && (!productLabel.test(f.gpuProduct) || f.gpuProduct.length > 63)) out.push('gpuProduct');
  if (!dnsLabel.test(f.queue) || f.queue.length > 63) out.push('queue');
  if (!wholeIn(f.priority, -1000, 1000)) out.push('priority');
  return out;
}

/** buildTask turns the form into the MLTask to create. */
export function buildTask(f: NewTask, namespace: string): MLTask {
  const command = f.command.trim() === '' ? undefined : f.command.trim().split(/\s+/);
  const resources: NonNullable<MLTask['spec']['resources']> = { gpus: Number(f.gpus) };
  if (f.gpuProduct !== '') resources.gpuProduct = f.gpuProduct;
  return {
    apiVersion: 'ml.bokujo.io/v1alpha1',
    kind: 'MLTask',
    metadata: { name: f.name, namespace },
    spec: {
      mode: f.mode,
      image: f.image.trim(),
      ...(command ? { command } : {}),
      workers: Number(f.workers),
      resources,
      queue: f.queue,
      priority: Number(f.priority),
    },
  };
}

export function createTask(cluster: string, task: MLTask): Promise<MLTask> {
  return request<MLTask>(clusterPath(cluster, resourcePath(MLTaskKind, { namespace: task.metadata.namespace })), { method: 'POST', body: task });
}

/** setTaskState stops or starts an interactive task. */
export function setTaskState(cluster: string, namespace: string, name: string, state: 'Running' | 'Stopped'): Promise<unknown> {
  return request(clusterPath(cluster, resourcePath(MLTaskKind, { namespace, name })), {
    method: 'PATCH',
    body: JSON.stringify({ spec: { state } }),
    contentType: 'application/merge-patch+json',
  });
}

/** deleteTask deletes a task and, in the background, what it made. */
export function deleteTask(cluster: string, namespace: string, name: string): Promise<unknown> {
  return request(clusterPath(cluster, resourcePath(MLTaskKind, { namespace, name })), {
    method: 'DELETE',
    body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
  });
}
