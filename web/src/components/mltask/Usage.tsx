import { useTranslation } from 'react-i18next';
import { GPUQueueKind, LocalQueueKind, projectGPUQuota, queueUsage, ResourceQuotaKind, type GPUQueue, type LocalQueue, type ResourceQuota } from '../../lib/k8s/gpuqueue';
import { formatCount } from '../../lib/k8s/quantity';
import { useWatchList } from '../../lib/k8s/watch';
import { ResourceBar } from '../common/ResourceBar';

/**
 * GPUUsage shows, live, how many GPUs the namespace's queues hold against
 * the quota of the GPUQueue each draws from, and the project's GPU quota
 * in this namespace. GPUQueues are cluster-wide: a user who may not read
 * them sees the GPUs in use without the quota.
 */
export function GPUUsage({ cluster, namespace }: { cluster: string; namespace: string }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const local = useWatchList<LocalQueue>(cluster, LocalQueueKind, namespace);
  const global = useWatchList<GPUQueue>(cluster, GPUQueueKind, undefined);
  const quotas = useWatchList<ResourceQuota>(cluster, ResourceQuotaKind, namespace);
  const queues = queueUsage(local.items ?? [], global.items);
  const project = projectGPUQuota(quotas.items ?? []);
  if (queues.length === 0 && project === undefined) {
    if (local.items === undefined) return null;
    return <p className="muted">{t('No GPU queue serves this namespace: ML tasks wait until an administrator adds a LocalQueue here.')}</p>;
  }
  const count = (n: number) => formatCount(n, lng);
  return (
    <section className="usage gpu-usage" aria-label={t('GPU usage')}>
      {project && (
        <ResourceBar label={t('Project GPU quota')} used={project.used} total={project.hard} format={count} />
      )}
      {queues.map((q) => (
        <div key={q.name}>
          {q.quota !== undefined ? (
            <ResourceBar label={t('Queue {{name}}', { name: q.name })} used={q.used} total={q.quota} format={count} describe={(amount, percent) => t('{{amount}} in use ({{percent}}%)', { amount, percent })} />
          ) : (
            <div className="resource-bar none">
              <span className="resource-label">{t('Queue {{name}}', { name: q.name })}</span>
              <span className="resource-value">{t('{{count}} GPUs in use', { count: q.used })}</span>
            </div>
          )}
          <p className="muted small">
            {t('GPU queue {{queue}}: {{admitted}} running, {{pending}} waiting', { queue: q.gpuQueue, admitted: q.admitted, pending: q.pending })}
          </p>
        </div>
      ))}
    </section>
  );
}
