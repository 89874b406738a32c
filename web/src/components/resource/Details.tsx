import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { useCan } from '../../lib/k8s/access';
import { formatAge } from '../../lib/k8s/age';
import { toYAML } from '../../lib/k8s/display';
import { kindById, podSelector, type Action, type AnyObject, type Condition, type KindDef } from '../../lib/k8s/kinds';
import { useWatchList } from '../../lib/k8s/watch';
import { ErrorMessage } from '../common/ErrorMessage';
import { PodList } from '../pod/List';
import { Loading } from '../common/Loading';
import { NotFoundPage } from '../common/NotFoundPage';
import { useNow } from '../common/useNow';
import { useTitle } from '../common/useTitle';
import { ActionButtons, ActionDialog, useAllowedActions } from './actions';
import { DataSection, SecretDataSection } from './data';
import { ConditionsSection, EventsSection, OwnerLink } from './sections';
import { StatusText } from './status';

/** ResourceDetails is the page of one object of any listed kind, kept live by a watch narrowed to it. */
export function ResourceDetails() {
  const { name: cluster = '', namespace = '', kind = '', object = '' } = useParams();
  const def = kindById(kind);
  if (!def) return <NotFoundPage />;
  return <Details key={`${cluster}/${namespace}/${kind}/${object}`} cluster={cluster} namespace={namespace} def={def} name={object} />;
}

function Details({ cluster, namespace, def, name }: { cluster: string; namespace: string; def: KindDef; name: string }) {
  const { t } = useTranslation();
  useTitle(name);
  const now = useNow();
  const navigate = useNavigate();
  const live = useWatchList<AnyObject>(cluster, def.resource, namespace, true, `metadata.name=${name}`);
  const actions = useAllowedActions(cluster, def, namespace);
  const canReveal = useCan(cluster, { verb: 'get', group: '', resource: 'secrets', namespace, name });
  const [action, setAction] = useState<Action | null>(null);
  const obj = live.items?.[0];
  const back = `/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}&kind=${def.listed ? def.id : 'deployments'}`;
  const breadcrumb = (
    <nav aria-label={t('Breadcrumb')} className="breadcrumb">
      <ol>
        <li>
          <Link to="/">{t('glossary|Clusters')}</Link>
        </li>
        <li>
          <Link to={`/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}`}>{cluster}</Link>
        </li>
        <li>
          <Link to={back}>{def.label(t)}</Link>
        </li>
        <li aria-current="page">{name}</li>
      </ol>
    </nav>
  );
  if (live.items === undefined) {
    return (
      <section className="page">
        {breadcrumb}
        {live.error ? <ErrorMessage title={t('Could not load {{name}}.', { name })} error={live.error} /> : <Loading />}
      </section>
    );
  }
  if (!obj) {
    return (
      <section className="page" aria-labelledby="object-title">
        {breadcrumb}
        <h1 id="object-title">{name}</h1>
        <p className="empty-inline">{t('{{kind}} {{name}} no longer exists.', { kind: def.resource.kind, name })}</p>
      </section>
    );
  }
  const conditions = Array.isArray(obj.status?.conditions) ? (obj.status.conditions as Condition[]) : [];
  const images = ((obj.spec?.template?.spec?.containers ?? obj.spec?.jobTemplate?.spec?.template?.spec?.containers ?? []) as { image?: string }[]).map((c) => c.image ?? '');
  const revision = obj.metadata.annotations?.['deployment.kubernetes.io/revision'];
  const selector = podSelector(def.resource.kind, obj);
  return (
    <section className="page" aria-labelledby="object-title">
      {breadcrumb}
      <div className="page-header">
        <div className="title-row">
          <h1 id="object-title">{name}</h1>
          <span className="badge">{def.resource.kind}</span>
          {def.status && <StatusText status={def.status(obj)} />}
        </div>
        {actions.length > 0 && <ActionButtons actions={actions} name={name} onAction={setAction} />}
      </div>
      <div className="card">
        <dl className="facts">
          <div>
            <dt>{t('glossary|Namespace')}</dt>
            <dd className="mono">{namespace}</dd>
          </div>
          <div>
            <dt>{t('Age')}</dt>
            <dd>{formatAge(obj.metadata.creationTimestamp ?? '', now)}</dd>
          </div>
          {def.columns.map((c) => (
            <div key={c.id}>
              <dt>{c.header(t)}</dt>
              <dd className="mono">{(c.display ?? c.value)(obj) || '—'}</dd>
            </div>
          ))}
          {images.length > 0 && (
            <div>
              <dt>{t('Images')}</dt>
              <dd className="mono">{images.join(', ')}</dd>
            </div>
          )}
          {revision && (
            <div>
              <dt>{t('Revision')}</dt>
              <dd>{revision}</dd>
            </div>
          )}
          {obj.metadata.ownerReferences?.map((o) => (
            <div key={`${o.kind}/${o.name}`}>
              <dt>{t('Owner')}</dt>
              <dd className="mono">
                <OwnerLink cluster={cluster} namespace={namespace} kind={o.kind} name={o.name} />
              </dd>
            </div>
          ))}
        </dl>
      </div>
      {def.resource.kind === 'ConfigMap' && <DataSection data={obj.data ?? {}} />}
      {def.resource.kind === 'Secret' && <SecretDataSection cluster={cluster} namespace={namespace} name={name} count={obj.dataCount ?? Object.keys(obj.data ?? {}).length} canReveal={canReveal} />}
      {selector && (
        <section className="section" aria-labelledby="pods-title">
          <h2 id="pods-title">{t('glossary|Pods')}</h2>
          <PodList cluster={cluster} namespace={namespace} labelSelector={selector} />
        </section>
      )}
      {(def.status || conditions.length > 0) && <ConditionsSection conditions={conditions} />}
      <EventsSection cluster={cluster} namespace={namespace} kind={def.resource.kind} name={name} />
      <section className="section" aria-labelledby="yaml-title">
        <h2 id="yaml-title">{t('YAML')}</h2>
        <pre className="yaml-view" aria-labelledby="yaml-title" tabIndex={0}>
          {toYAML(obj, def.resource)}
        </pre>
      </section>
      {action && (
        <ActionDialog
          action={action}
          cluster={cluster}
          def={def}
          object={obj}
          onClose={() => setAction(null)}
          onDone={(a) => {
            if (a === 'delete') void navigate(back);
          }}
        />
      )}
    </section>
  );
}
