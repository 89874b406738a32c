// Nodes of a cluster, read through the proxy.
import { useQuery } from '@tanstack/react-query';
import { list, type KubeObject, type ResourceKind } from './resource';
import { quantityOr } from './quantity';

export const NodeKind: ResourceKind = { kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false };

/** GPU_RESOURCE is the extended resource NVIDIA's device plugin advertises. */
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** GPU_PRODUCT_LABEL is set by NVIDIA's GPU feature discovery. */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean };
  status?: {
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    conditions?: NodeCondition[];
    nodeInfo?: { kubeletVersion?: string; osImage?: string; architecture?: string };
  };
}

export type NodeReadiness = 'Ready' | 'NotReady' | 'Unknown';

export function nodeReadiness(node: Node): NodeReadiness {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return 'Ready';
  if (ready?.status === 'False') return 'NotReady';
  return 'Unknown';
}

/** NodeSummary is what a node table shows, from allocatable resources. */
export interface NodeSummary {
  name: string;
  readiness: NodeReadiness;
  unschedulable: boolean;
  cpuCores: number;
  memoryBytes: number;
  gpus: number;
  gpuProduct: string;
  kubeletVersion: string;
}

export function summarizeNode(node: Node): NodeSummary {
  // Allocatable is what pods may request; capacity also counts what the
  // system reserves for itself.
  const res = node.status?.allocatable ?? node.status?.capacity ?? {};
  return {
    name: node.metadata.name,
    readiness: nodeReadiness(node),
    unschedulable: node.spec?.unschedulable ?? false,
    cpuCores: quantityOr(res.cpu),
    memoryBytes: quantityOr(res.memory),
    gpus: quantityOr(res[GPU_RESOURCE]),
    gpuProduct: node.metadata.labels?.[GPU_PRODUCT_LABEL] ?? '',
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
  };
}

export function useNodes(cluster: string, enabled = true) {
  return useQuery({
    queryKey: ['k8s', cluster, 'nodes'],
    enabled,
    queryFn: async ({ signal }) => {
      const nodes = await list<Node>(cluster, NodeKind, { signal });
      return nodes.items.map(summarizeNode).sort((a, b) => a.name.localeCompare(b.name));
    },
  });
}
