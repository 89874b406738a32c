import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { stringify } from 'yaml';
import { formatAge } from '../../lib/k8s/age';
import { PodKind, summarizePod, type Pod } from '../../lib/k8s/pod';
import { useWatchList } from '../../lib/k8s/watch';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { StatusBadge } from '../common/StatusBadge';
import { useNow } from '../common/useNow';
import { useTitle } from '../common/useTitle';
import { PodLogs } from './Logs';
import { ConditionsSection, EventsSection, OwnerLink } from '../resource/sections';
import { ExecButton } from './ExecButton';

/** forDisplay drops managedFields: long, and of no use to a reader. */
function forDisplay(p: Pod): string {
  const { managedFields: _m, ...metadata } = p.metadata as Pod['metadata'] & { managedFields?: unknown };
  void _m;
  return stringify({ apiVersion: 'v1', kind: 'Pod', ...p, metadata });
}

/** PodDetails shows one pod, live: status, containers, conditions, events and its YAML. */
export function PodDetails() {
  const { t } = useTranslation();
  const { name: cluster = '', namespace = '', pod: name = '' } = useParams();
  useTitle(name);
  const now = useNow();
  const live = useWatchList<Pod>(cluster, PodKind, namespace, true, `metadata.name=${name}`);
  const pod = live.items?.[0];
  const back = `/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}`;
  const breadcrumb = (
    <nav aria-label={t('Breadcrumb')} className="breadcrumb">
      <ol>
        <li>
          <Link to="/">{t('glossary|Clusters')}</Link>
        </li>
        <li>
          <Link to={back}>{cluster}</Link>
        </li>
        <li>{namespace}</li>
        <li aria-current="page">{name}</li>
      </ol>
    </nav>
  );
  if (live.items === undefined) {
    return (
      <section className="page">
        {breadcrumb}
        {live.error ? <ErrorMessage title={t('Could not load the pod.')} error={live.error} /> : <Loading />}
      </section>
    );
  }
  if (!pod) {
    return (
      <section className="page" aria-labelledby="pod-title">
        {breadcrumb}
        <h1 id="pod-title">{name}</h1>
        <p className="empty-inline">{t('This pod no longer exists.')}</p>
      </section>
    );
  }
  const s = summarizePod(pod);
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((c) => [c.name, c]));
  return (
    <section className="page" aria-labelledby="pod-title">
      {breadcrumb}
      <div className="title-row">
        <h1 id="pod-title">{name}</h1>
        <StatusBadge tone={s.tone}>{s.status}</StatusBadge>
      </div>
      <div className="card">
        <dl className="facts">
          <div>
            <dt>{t('glossary|Namespace')}</dt>
            <dd className="mono">{namespace}</dd>
          </div>
          <div>
            <dt>{t('glossary|Node')}</dt>
            <dd className="mono">{s.node || '—'}</dd>
          </div>
          <div>
            <dt>{t('Pod IP')}</dt>
            <dd className="mono">{pod.status?.podIP || '—'}</dd>
          </div>
          <div>
            <dt>{t('Restarts')}</dt>
            <dd>{s.restarts}</dd>
          </div>
          <div>
            <dt>{t('Age')}</dt>
            <dd>{formatAge(s.created, now)}</dd>
          </div>
          {pod.metadata.ownerReferences?.map((o) => (
            <div key={`${o.kind}/${o.name}`}>
              <dt>{t('Owner')}</dt>
              <dd className="mono">
                <OwnerLink cluster={cluster} namespace={namespace} kind={o.kind} name={o.name} />
              </dd>
            </div>
          ))}
        </dl>
      </div>

      <section className="section" aria-labelledby="containers-title">
        <h2 id="containers-title">{t('glossary|Containers')}</h2>
        <ExecButton cluster={cluster} namespace={namespace} pod={name} containers={(pod.spec?.containers ?? []).map((c) => c.name)} />
        <div className="table-scroll">
          <table className="data-table" aria-labelledby="containers-title">
            <thead>
              <tr>
                <th scope="col">{t('Name')}</th>
                <th scope="col">{t('Image')}</th>
                <th scope="col">{t('State')}</th>
                <th scope="col">{t('Ready')}</th>
                <th scope="col" className="num">
                  {t('Restarts')}
                </th>
              </tr>
            </thead>
            <tbody>
              {(pod.spec?.containers ?? []).map((c) => {
                const st = statuses.get(c.name);
                const state = st?.state?.running ? 'Running' : st?.state?.waiting ? (st.state.waiting.reason ?? 'Waiting') : st?.state?.terminated ? (st.state.terminated.reason ?? 'Terminated') : '—';
                return (
                  <tr key={c.name}>
                    <th scope="row" className="mono">
                      {c.name}
                    </th>
                    <td className="mono">{c.image ?? '—'}</td>
                    <td>{state}</td>
                    <td>{st?.ready ? t('Yes') : t('No')}</td>
                    <td className="num">{st?.restartCount ?? 0}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      <PodLogs cluster={cluster} namespace={namespace} pod={name} containers={(pod.spec?.containers ?? []).map((c) => c.name)} />

      <ConditionsSection conditions={pod.status?.conditions ?? []} />
      <EventsSection cluster={cluster} namespace={namespace} kind="Pod" name={name} />

      <section className="section" aria-labelledby="yaml-title">
        <h2 id="yaml-title">{t('YAML')}</h2>
        <pre className="yaml-view" aria-labelledby="yaml-title" tabIndex={0}>
          {forDisplay(pod)}
        </pre>
      </section>
    </section>
  );
}
