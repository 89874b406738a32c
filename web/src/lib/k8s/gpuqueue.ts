// GPU queues (ml.bokujo.io): how much of its GPU quota a namespace's
// project uses, for the usage bars of the ML tasks tab.
import type { KubeObject, ResourceKind } from './resource';

export const LocalQueueKind: ResourceKind = { kind: 'LocalQueue', group: 'ml.bokujo.io', version: 'v1alpha1', plural: 'localqueues', namespaced: true };
export const GPUQueueKind: ResourceKind = { kind: 'GPUQueue', group: 'ml.bokujo.io', version: 'v1alpha1', plural: 'gpuqueues', namespaced: false };
export const ResourceQuotaKind: ResourceKind = { kind: 'ResourceQuota', group: '', version: 'v1', plural: 'resourcequotas', namespaced: true };

export interface LocalQueue extends KubeObject {
  spec: { gpuQueue: string; weight?: number };
  status?: { gpus?: number; admittedTasks?: number; pendingTasks?: number };
}

export interface GPUQueue extends KubeObject {
  spec: { cohort?: string; quotas: { product: string; gpus: number; borrowingLimit?: number }[] };
  status?: { usage?: { product: string; gpus: number; borrowed?: number }[]; admittedTasks?: number; pendingTasks?: number };
}

export interface ResourceQuota extends KubeObject {
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
}

/** The quota keys that limit GPUs in a namespace. */
const GPU_QUOTA_KEYS = ['requests.nvidia.com/gpu', 'limits.nvidia.com/gpu'];

export interface QueueUsage {
  name: string;
  gpuQueue: string;
  /** GPUs held by admitted tasks of this queue. */
  used: number;
  /** The GPUQueue's nominal quota, all products; undefined when the caller cannot read the GPUQueue. */
  quota?: number;
  admitted: number;
  pending: number;
}

/** queueUsage gives, per LocalQueue of a namespace, its GPUs in use against the quota of the GPUQueue it draws from. */
export function queueUsage(local: LocalQueue[], gpuQueues: GPUQueue[] | undefined): QueueUsage[] {
  const quota = new Map((gpuQueues ?? []).map((g) => [g.metadata.name, g.spec.quotas.reduce((n, q) => n + q.gpus, 0)]));
  return local
    .map((q) => ({
      name: q.metadata.name,
      gpuQueue: q.spec.gpuQueue,
      used: q.status?.gpus ?? 0,
      quota: quota.get(q.spec.gpuQueue),
      admitted: q.status?.admittedTasks ?? 0,
      pending: q.status?.pendingTasks ?? 0,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * projectGPUQuota is the namespace's GPU ResourceQuota (the project's quota,
 * which bokujo applies to each of the project's namespaces): the tightest
 * hard limit and what is used of it, or undefined when none limits GPUs.
 */
export function projectGPUQuota(quotas: ResourceQuota[]): { used: number; hard: number } | undefined {
  let best: { used: number; hard: number } | undefined;
  for (const q of quotas) {
    for (const key of GPU_QUOTA_KEYS) {
      const hard = q.status?.hard?.[key];
      if (hard === undefined) continue;
      const h = Number(hard);
      const u = Number(q.status?.used?.[key] ?? '0');
      if (!Number.isFinite(h)) continue;
      if (best === undefined || h - u < best.hard - best.used) best = { used: Number.isFinite(u) ? u : 0, hard: h };
    }
  }
  return best;
}
