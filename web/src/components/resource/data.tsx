import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { request } from '../../lib/api';
import { decodeSecretValue, MASK } from '../../lib/k8s/display';
import { clusterPath } from '../../lib/k8s/resource';
import { ErrorMessage } from '../common/ErrorMessage';

/** DataSection shows a ConfigMap's keys and values. */
export function DataSection({ data }: { data: Record<string, string> }) {
  const { t } = useTranslation();
  const entries = Object.entries(data).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section className="section" aria-labelledby="data-title">
      <h2 id="data-title">{t('Data')}</h2>
      {entries.length === 0 ? (
        <p className="empty-inline">{t('No data.')}</p>
      ) : (
        <dl className="data-list">
          {entries.map(([k, v]) => (
            <div key={k}>
              <dt className="mono">{k}</dt>
              <dd>
                <pre className="yaml-view">{v}</pre>
              </dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

/**
 * SecretDataSection says how many keys a Secret holds; the page read only
 * its metadata, so neither keys nor values are in the browser. Reveal is
 * offered only when a SelfSubjectAccessReview says the user may get the
 * Secret, and reads it afresh, so the apiserver decides at that moment.
 */
export function SecretDataSection({ cluster, namespace, name, count, canReveal }: { cluster: string; namespace: string; name: string; count: number; canReveal: boolean }) {
  const { t } = useTranslation();
  const [values, setValues] = useState<Record<string, string> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const reveal = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const s = await request<{ data?: Record<string, string> }>(clusterPath(cluster, `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`));
      setValues(s.data ?? {});
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const entries = Object.entries(values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section className="section" aria-labelledby="data-title">
      <div className="section-header">
        <h2 id="data-title">{t('Data')}</h2>
        {values ? (
          <button type="button" className="button small" onClick={() => setValues(null)}>
            {t('Hide values')}
          </button>
        ) : (
          <button type="button" className="button small" disabled={!canReveal || busy} title={canReveal ? undefined : t('You may not read this secret.')} onClick={() => void reveal()}>
            {t('Reveal values')}
          </button>
        )}
      </div>
      {error !== undefined && <ErrorMessage title={t('Could not read the secret.')} error={error} />}
      {!values ? (
        <p className="empty-inline">
          <span className="mono" aria-label={t('hidden value')}>
            {MASK}
          </span>{' '}
          {t('{{n}} keys; their names and values stay on the server until you reveal them.', { n: count })}
        </p>
      ) : entries.length === 0 ? (
        <p className="empty-inline">{t('No data.')}</p>
      ) : (
        <dl className="data-list">
          {entries.map(([k, v]) => {
            const decoded = decodeSecretValue(v);
            return (
              <div key={k}>
                <dt className="mono">{k}</dt>
                <dd>
                  <pre className="yaml-view">{decoded.binary ? `${t('(binary, base64)')} ${decoded.text}` : decoded.text}</pre>
                </dd>
              </div>
            );
          })}
        </dl>
      )}
    </section>
  );
}
