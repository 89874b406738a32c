import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { formatAge } from '../../lib/k8s/age';
import { EventKind, eventTime, involvedSelector, type KubeEvent } from '../../lib/k8s/event';
import { objectURL, type Condition } from '../../lib/k8s/kinds';
import { Link } from 'react-router';
import { useWatchList } from '../../lib/k8s/watch';
import { StatusBadge } from '../common/StatusBadge';
import { useNow } from '../common/useNow';

/** ConditionsSection lists an object's status conditions. */
export function ConditionsSection({ conditions }: { conditions: Condition[] }) {
  const { t } = useTranslation();
  return (
    <section className="section" aria-labelledby="conditions-title">
      <h2 id="conditions-title">{t('Conditions')}</h2>
      {conditions.length === 0 ? (
        <p className="empty-inline">{t('No conditions reported.')}</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table" aria-labelledby="conditions-title">
            <thead>
              <tr>
                <th scope="col">{t('Type')}</th>
                <th scope="col">{t('Status')}</th>
                <th scope="col">{t('Reason')}</th>
                <th scope="col">{t('Message')}</th>
              </tr>
            </thead>
            <tbody>
              {conditions.map((c) => (
                <tr key={c.type}>
                  <th scope="row">{c.type}</th>
                  <td>{c.status}</td>
                  <td>{c.reason ?? '—'}</td>
                  <td className="wrap">{c.message ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** EventsSection lists the events about one object, live, newest first. */
export function EventsSection({ cluster, namespace, kind, name }: { cluster: string; namespace: string; kind: string; name: string }) {
  const { t } = useTranslation();
  const now = useNow();
  const events = useWatchList<KubeEvent>(cluster, EventKind, namespace, true, involvedSelector(kind, name));
  const sorted = useMemo(() => [...(events.items ?? [])].sort((a, b) => eventTime(b).localeCompare(eventTime(a))), [events.items]);
  return (
    <section className="section" aria-labelledby="events-title">
      <h2 id="events-title">{t('glossary|Events')}</h2>
      {sorted.length === 0 ? (
        <p className="empty-inline">{events.items === undefined ? t('Loading…') : t('No events for this object. Events are kept for about an hour.')}</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table" aria-labelledby="events-title">
            <thead>
              <tr>
                <th scope="col">{t('Type')}</th>
                <th scope="col">{t('Reason')}</th>
                <th scope="col">{t('Message')}</th>
                <th scope="col" className="num">
                  {t('Age')}
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((e) => (
                <tr key={e.metadata.uid ?? e.metadata.name}>
                  <td>{e.type === 'Warning' ? <StatusBadge tone="bad">{e.type}</StatusBadge> : e.type}</td>
                  <th scope="row">{e.reason}</th>
                  <td className="wrap">{e.message}</td>
                  <td className="num">{formatAge(eventTime(e), now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** OwnerLink names an owner, linked to its page when the UI has one for its kind. */
export function OwnerLink({ cluster, namespace, kind, name }: { cluster: string; namespace: string; kind: string; name: string }) {
  const url = objectURL(cluster, namespace, kind, name);
  return url ? (
    <Link to={url}>
      {kind}/{name}
    </Link>
  ) : (
    <>{`${kind}/${name}`}</>
  );
}
