import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { kindById, kinds } from '../../lib/k8s/kinds';
import { useNamespaces } from '../../lib/k8s/namespace';
import { MLTaskList } from '../mltask/List';
import { PodList } from '../pod/List';
import { KindList } from '../resource/KindList';

const DEFAULT_NAMESPACE = 'default';

const deployments = kindById('deployments')!;

/**
 * Workloads shows a namespace's objects of one kind, live; by default its
 * Deployments and Pods. The namespace and kind are in the address
 * (?namespace=&kind=), so a link or a reload keeps them.
 */
export function Workloads({ cluster }: { cluster: string }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const namespace = params.get('namespace') || DEFAULT_NAMESPACE;
  const kindParam = params.get('kind') ?? '';
  const def = kindById(kindParam);
  const namespaces = useNamespaces(cluster);
  const pickerId = useId();
  // A user who may not list namespaces still works in the one named.
  const options = namespaces.data && namespaces.data.length > 0 ? [...namespaces.data] : [namespace];
  if (!options.includes(namespace)) options.push(namespace);
  const c = encodeURIComponent(cluster);
  const ns = encodeURIComponent(namespace);
  const tab = (kind: string) => {
    const next = new URLSearchParams(params);
    if (kind) next.set('kind', kind);
    else next.delete('kind');
    return `?${next.toString()}`;
  };
  const current = def?.listed ? def.id : kindParam === 'pods' || kindParam === 'mltasks' ? kindParam : '';
  return (
    <section className="section" aria-labelledby="workloads-title">
      <div className="section-header">
        <h2 id="workloads-title">{t('Workloads')}</h2>
        <div className="namespace-picker">
          <label htmlFor={pickerId}>{t('glossary|Namespace')}</label>
          <select
            id={pickerId}
            value={namespace}
            onChange={(e) => {
              const next = new URLSearchParams(params);
              next.set('namespace', e.target.value);
              setParams(next, { replace: true });
            }}
          >
            {options.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
          <Link className="button" to={`/clusters/${c}/deploy?namespace=${ns}`}>
            {t('Run a container')}
          </Link>
          <Link className="button primary" to={`/clusters/${c}/apply?namespace=${ns}`}>
            {t('Apply YAML')}
          </Link>
          <Link className="button" to={`/clusters/${encodeURIComponent(cluster)}/mltasks/new?namespace=${encodeURIComponent(namespace)}`}>
            {t('New training task')}
          </Link>
        </div>
      </div>
      <nav className="kind-tabs" aria-label={t('Kinds')}>
        <Link to={tab('')} aria-current={current === '' ? 'page' : undefined}>
          {t('Overview')}
        </Link>
        <Link to={tab('pods')} aria-current={current === 'pods' ? 'page' : undefined}>
          {t('glossary|Pods')}
        </Link>
        <Link to={tab('mltasks')} aria-current={current === 'mltasks' ? 'page' : undefined}>
          {t('ML tasks')}
        </Link>
        {kinds
          .filter((k) => k.listed)
          .map((k) => (
            <Link key={k.id} to={tab(k.id)} aria-current={current === k.id ? 'page' : undefined}>
              {k.label(t)}
            </Link>
          ))}
      </nav>
      {current === '' && (
        <>
          <h3 id="deployments-title" className="subsection">
            {t('glossary|Deployments')}
          </h3>
          <KindList key={`d-${namespace}`} cluster={cluster} namespace={namespace} def={deployments} />
          <h3 id="pods-title" className="subsection">
            {t('glossary|Pods')}
          </h3>
          <PodList key={`p-${namespace}`} cluster={cluster} namespace={namespace} />
          <h3 id="mltasks-title" className="subsection">
            {t('ML tasks')}
          </h3>
          <MLTaskList key={`m-${namespace}`} cluster={cluster} namespace={namespace} />
        </>
      )}
      {current === 'mltasks' && <MLTaskList key={`m-${namespace}`} cluster={cluster} namespace={namespace} />}
      {current === 'pods' && <PodList key={`p-${namespace}`} cluster={cluster} namespace={namespace} />}
      {def && current === def.id && <KindList key={`${def.id}-${namespace}`} cluster={cluster} namespace={namespace} def={def} />}
    </section>
  );
}
