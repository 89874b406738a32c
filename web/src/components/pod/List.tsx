import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { formatAge } from '../../lib/k8s/age';
import { PodKind, summarizePod, type Pod, type PodSummary } from '../../lib/k8s/pod';
import { useWatchList } from '../../lib/k8s/watch';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';
import { useNow } from '../common/useNow';

/** PodList is the live table of a namespace's pods, or of those labelSelector selects (a workload's). */
export function PodList({ cluster, namespace, labelSelector = '' }: { cluster: string; namespace: string; labelSelector?: string }) {
  const { t } = useTranslation();
  const live = useWatchList<Pod>(cluster, PodKind, namespace, true, '', labelSelector);
  const now = useNow();
  const rows = useMemo(() => live.items?.map(summarizePod) ?? [], [live.items]);
  const columns: Column<PodSummary>[] = [
    {
      id: 'name',
      header: t('Name'),
      value: (p) => p.name,
      render: (p) => (
        <Link className="row-link" to={`/clusters/${encodeURIComponent(cluster)}/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}`}>
          {p.name}
        </Link>
      ),
    },
    { id: 'status', header: t('Status'), value: (p) => p.status, render: (p) => <StatusBadge tone={p.tone}>{p.status}</StatusBadge> },
    { id: 'ready', header: t('Ready'), value: (p) => p.ready, render: (p) => `${p.ready}/${p.containers}`, numeric: true },
    { id: 'restarts', header: t('Restarts'), value: (p) => p.restarts, numeric: true },
    { id: 'node', header: t('glossary|Node'), value: (p) => p.node, render: (p) => <span className="mono">{p.node || '—'}</span> },
    { id: 'age', header: t('Age'), value: (p) => -Date.parse(p.created), render: (p) => formatAge(p.created, now), numeric: true },
  ];
  if (live.items === undefined) {
    return live.error ? <ErrorMessage title={t('Could not load the pods.')} error={live.error} /> : <Loading />;
  }
  return (
    <>
      {live.error !== undefined && <ErrorMessage title={t('Live updates stopped; retrying.')} error={live.error} />}
      <ResourceTable label={t('glossary|Pods')} rows={rows} rowKey={(p) => p.name} columns={columns} empty={t('No pods in this namespace.')} />
    </>
  );
}
