import { useTranslation } from 'react-i18next';
import { isAdmin } from '../../lib/api';
import { useClusters } from '../../lib/queries';
import { useMe } from '../../lib/session';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { useTitle } from '../common/useTitle';
import { ClusterCard } from './ClusterCard';
import { DownloadKubeconfig } from './DownloadKubeconfig';

/** ClusterListPage is the home page: every cluster the user may use. */
export function ClusterListPage() {
  const { t } = useTranslation();
  const me = useMe();
  const clusters = useClusters();
  useTitle(t('glossary|Clusters'));

  let body;
  if (clusters.isPending) {
    body = <Loading label={t('Loading clusters…')} />;
  } else if (clusters.isError) {
    body = <ErrorMessage title={t('Could not load your clusters.')} error={clusters.error} onRetry={() => void clusters.refetch()} />;
  } else if (clusters.data.length === 0) {
    body = (
      <div className="empty-state">
        <h2>{t('No clusters yet')}</h2>
        {isAdmin(me) ? (
          <>
            <p>{t('Add a cluster to bokujo and it appears here for you and everyone you grant it to.')}</p>
            <pre className="command">
              <code>bokujo clusters import NAME --kubeconfig FILE</code>
            </pre>
          </>
        ) : (
          <p>
            {t(
              'No cluster has been shared with you yet. Ask an administrator to grant you access to a cluster or a project; it appears here as soon as they do.',
            )}
          </p>
        )}
      </div>
    );
  } else {
    body = (
      <ul className="card-grid" aria-label={t('glossary|Clusters')}>
        {clusters.data.map((c) => (
          <li key={c.name}>
            <ClusterCard cluster={c} />
          </li>
        ))}
      </ul>
    );
  }

  return (
    <section className="page" aria-labelledby="clusters-title">
      <div className="page-header">
        <div>
          <h1 id="clusters-title">{t('glossary|Clusters')}</h1>
          <p className="muted">{t('Every cluster you may use, with what its workloads requested of it.')}</p>
        </div>
        {clusters.data && clusters.data.length > 0 && <DownloadKubeconfig primary />}
      </div>
      {body}
    </section>
  );
}
