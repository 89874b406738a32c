import { useTranslation } from 'react-i18next';
import type { Cluster, ResourceList } from '../../lib/api';
import { GPU_RESOURCE } from '../../lib/k8s/node';
import { formatBytes, formatCores, formatCount, quantityOr } from '../../lib/k8s/quantity';
import { ResourceBar } from '../common/ResourceBar';

export interface Usage {
  cpu: { used: number; total: number };
  memory: { used: number; total: number };
  gpu: { used: number; total: number };
}

/**
 * clusterUsage compares what running pods requested with what the nodes
 * offer pods (allocatable, else capacity): that is the room the scheduler
 * has left.
 */
export function clusterUsage(c: Pick<Cluster, 'capacity' | 'allocatable' | 'requested'>): Usage {
  const offered: ResourceList = { ...c.capacity, ...c.allocatable };
  const requested = c.requested ?? {};
  const of = (r: string) => ({ used: quantityOr(requested[r]), total: quantityOr(offered[r]) });
  return { cpu: of('cpu'), memory: of('memory'), gpu: of(GPU_RESOURCE) };
}

export function ClusterUsage({ cluster }: { cluster: Cluster }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const u = clusterUsage(cluster);
  return (
    <div className="usage">
      <ResourceBar label={t('glossary|CPU')} used={u.cpu.used} total={u.cpu.total} format={(n) => formatCores(n, lng)} unit={t('cores')} />
      <ResourceBar label={t('glossary|Memory')} used={u.memory.used} total={u.memory.total} format={(n) => formatBytes(n, lng)} />
      <ResourceBar label={t('glossary|GPU')} used={u.gpu.used} total={u.gpu.total} format={(n) => formatCount(n, lng)} />
    </div>
  );
}
