import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { useNamespaces } from '../../lib/k8s/namespace';
import { DeploymentList } from '../deployment/List';
import { MLTaskList } from '../mltask/List';
import { PodList } from '../pod/List';

const DEFAULT_NAMESPACE = 'default';

/**
 * Workloads shows a namespace's Deployments and Pods, live. The namespace
 * is in the address (?namespace=), so a link or a reload keeps it.
 */
export function Workloads({ cluster }: { cluster: string }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const namespace = params.get('namespace') || DEFAULT_NAMESPACE;
  const namespaces = useNamespaces(cluster);
  const pickerId = useId();
  // A user who may not list namespaces still works in the one named.
  const options = namespaces.data && namespaces.data.length > 0 ? namespaces.data : [namespace];
  if (!options.includes(namespace)) options.push(namespace);
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
            {options.map((ns) => (
              <option key={ns} value={ns}>
                {ns}
              </option>
            ))}
          </select>
          <Link className="button primary" to={`/clusters/${encodeURIComponent(cluster)}/apply?namespace=${encodeURIComponent(namespace)}`}>
            {t('Apply YAML')}
          </Link>
          <Link className="button" to={`/clusters/${encodeURIComponent(cluster)}/mltasks/new?namespace=${encodeURIComponent(namespace)}`}>
            {t('New training task')}
          </Link>
        </div>
      </div>
      <h3 id="deployments-title" className="subsection">{t('glossary|Deployments')}</h3>
      <DeploymentList key={`d-${namespace}`} cluster={cluster} namespace={namespace} />
      <h3 id="mltasks-title" className="subsection">{t('ML tasks')}</h3>
      <MLTaskList key={`m-${namespace}`} cluster={cluster} namespace={namespace} />
      <h3 id="pods-title" className="subsection">{t('glossary|Pods')}</h3>
      <PodList key={`p-${namespace}`} cluster={cluster} namespace={namespace} />
    </section>
  );
}
