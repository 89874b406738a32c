import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { ApiError } from '../../lib/api';
import { useNodes } from '../../lib/k8s/node';
import { useCluster, useProjects } from '../../lib/queries';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { useTitle } from '../common/useTitle';
import { ClusterStatus } from './ClusterStatus';
import { ClusterTools } from './ClusterTools';
import { ClusterUsage } from './ClusterUsage';
import { ConnectHelp } from './ConnectHelp';
import { NodeTable } from './NodeTable';
import { ProjectList } from './ProjectList';
import { useTerminal } from '../terminal/TerminalContext';
import { Workloads } from '../workload/Workloads';

/** ClusterPage shows one cluster: health, capacity, nodes, projects, how to connect. */
export function ClusterPage() {
  const { t } = useTranslation();
  const name = useParams().name ?? '';
  const cluster = useCluster(name);
  useTitle(name);
  // Nothing to ask a cluster the user may not see.
  const known = cluster.isSuccess;
  const nodes = useNodes(name, known);
  const projects = useProjects(name, known);
  const terminal = useTerminal();

  const breadcrumb = (
    <nav aria-label={t('Breadcrumb')} className="breadcrumb">
      <ol>
        <li>
          <Link to="/">{t('glossary|Clusters')}</Link>
        </li>
        <li aria-current="page">{name}</li>
      </ol>
    </nav>
  );

  if (cluster.isPending) {
    return (
      <section className="page">
        {breadcrumb}
        <Loading />
      </section>
    );
  }
  if (cluster.isError) {
    const missing = cluster.error instanceof ApiError && cluster.error.status === 404;
    return (
      <section className="page" aria-labelledby="cluster-title">
        {breadcrumb}
        <h1 id="cluster-title">{name}</h1>
        <ErrorMessage
          title={missing ? t('There is no cluster named {{name}} that you may use.', { name }) : t('Could not load the cluster.')}
          error={cluster.error}
          onRetry={missing ? undefined : () => void cluster.refetch()}
        />
      </section>
    );
  }
  const c = cluster.data;
  return (
    <section className="page" aria-labelledby="cluster-title">
      {breadcrumb}
      <div className="page-header">
        <div>
          <div className="title-row">
            <h1 id="cluster-title">{c.name}</h1>
            <ClusterStatus cluster={c} />
          </div>
          {c.displayName && <p className="muted">{c.displayName}</p>}
          {!c.ready && c.message && <p className="cluster-message">{c.message}</p>}
        </div>
        <button type="button" className="button" onClick={() => terminal.openTerminal({ cluster: c.name })}>
          {t('Open a terminal')}
        </button>
      </div>
      <div className="card summary-card">
        <dl className="facts">
          <div>
            <dt>{t('glossary|Kubernetes version')}</dt>
            <dd>{c.kubernetesVersion || '—'}</dd>
          </div>
          <div>
            <dt>{t('glossary|Nodes')}</dt>
            <dd>{c.nodes}</dd>
          </div>
        </dl>
        <ClusterUsage cluster={c} />
      </div>

      <section className="section" aria-labelledby="nodes-title">
        <h2 id="nodes-title">{t('glossary|Nodes')}</h2>
        {nodes.isPending ? (
          <Loading />
        ) : nodes.isError ? (
          <ErrorMessage title={t('Could not load the nodes.')} error={nodes.error} onRetry={() => void nodes.refetch()} />
        ) : nodes.data.length === 0 ? (
          <p className="empty-inline">{t('This cluster has no nodes: nothing can run on it until a node joins.')}</p>
        ) : (
          <NodeTable nodes={nodes.data} labelledBy="nodes-title" />
        )}
      </section>

      <Workloads cluster={c.name} />

      <section className="section" aria-labelledby="projects-title">
        <h2 id="projects-title">{t('glossary|Projects')}</h2>
        {projects.isPending ? (
          <Loading />
        ) : projects.isError ? (
          <ErrorMessage title={t('Could not load the projects.')} error={projects.error} onRetry={() => void projects.refetch()} />
        ) : (
          <ProjectList projects={projects.data} />
        )}
      </section>

      <section className="section" aria-labelledby="tools-title">
        <ClusterTools cluster={c.name} headingId="tools-title" />
      </section>

      <section className="section" aria-labelledby="connect-title">
        <ConnectHelp cluster={c.name} headingId="connect-title" />
      </section>
    </section>
  );
}
