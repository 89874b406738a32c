import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Cluster } from '../../lib/api';
import { ClusterStatus } from './ClusterStatus';
import { ClusterUsage } from './ClusterUsage';

/** ClusterCard is one cluster on the home page, named by its heading. */
export function ClusterCard({ cluster }: { cluster: Cluster }) {
  const { t } = useTranslation();
  const titleId = useId();
  return (
    <article className="card cluster-card" aria-labelledby={titleId}>
      <header className="card-header">
        <h2 id={titleId}>
          <Link to={`/clusters/${encodeURIComponent(cluster.name)}`}>{cluster.name}</Link>
        </h2>
        <ClusterStatus cluster={cluster} />
      </header>
      {cluster.displayName && <p className="muted">{cluster.displayName}</p>}
      {!cluster.ready && cluster.message && <p className="cluster-message">{cluster.message}</p>}
      <dl className="facts">
        <div>
          <dt>{t('glossary|Kubernetes version')}</dt>
          <dd>{cluster.kubernetesVersion || '—'}</dd>
        </div>
        <div>
          <dt>{t('glossary|Nodes')}</dt>
          <dd>{cluster.nodes}</dd>
        </div>
        <div>
          <dt>{t('glossary|Projects')}</dt>
          <dd>{cluster.projects?.length ?? 0}</dd>
        </div>
      </dl>
      <ClusterUsage cluster={cluster} />
    </article>
  );
}
