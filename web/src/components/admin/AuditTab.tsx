import { useQuery } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { AUDIT_PAGE, searchAudit, type AuditFilter, type AuditRecord } from '../../lib/admin';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';

const FILTERS = ['user', 'cluster', 'kind', 'verb', 'since', 'until'] as const;
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'exec'];

/** toLocalInput turns an RFC 3339 time into a datetime-local value (the browser's zone). */
function toLocalInput(rfc: string): string {
  const d = new Date(rfc);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** fromLocalInput turns a datetime-local value into RFC 3339 (UTC). */
function fromLocalInput(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

const what = (r: AuditRecord) =>
  r.command?.length ? r.command.join(' ') : [r.apiGroup ? `${r.resource ?? ''}.${r.apiGroup}` : (r.resource ?? ''), r.subresource].filter(Boolean).join('/');

const where = (r: AuditRecord) => [r.namespace, r.name].filter(Boolean).join('/');

/**
 * AuditTab searches the audit log: the filters live in the address (a
 * search can be bookmarked and shared), pages go back in time, and a
 * record opens in a drawer with every field.
 */
export function AuditTab() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const filter: AuditFilter = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as AuditFilter;
  // before: the oldest time of the page before; absent on the newest page.
  const before = params.get('before') ?? '';
  const until = before && (!filter.until || before < filter.until) ? before : (filter.until ?? '');
  const query = useQuery({
    queryKey: ['v1', 'audit', filter, before],
    queryFn: ({ signal }) => searchAudit({ ...filter, until }, AUDIT_PAGE, signal),
  });
  const [open, setOpen] = useState<AuditRecord | null>(null);
  const records = query.data ?? [];
  const setFilter = (f: AuditFilter) => {
    const next = new URLSearchParams();
    for (const k of FILTERS) if (f[k]) next.set(k, f[k]!);
    setParams(next);
  };
  const columns: Column<AuditRecord & { i: number }>[] = [
    { id: 'time', header: t('Time'), value: (r) => r.time, render: (r) => new Date(r.time).toLocaleString() },
    { id: 'user', header: t('User'), value: (r) => r.user },
    { id: 'verb', header: t('Verb'), value: (r) => r.verb },
    { id: 'what', header: t('What'), value: what, render: (r) => <span className="mono">{what(r)}</span> },
    { id: 'where', header: t('Namespace/name'), value: where },
    { id: 'cluster', header: t('glossary|Cluster'), value: (r) => r.cluster ?? '' },
    { id: 'status', header: t('Status'), value: (r) => r.status, numeric: true, render: (r) => <StatusBadge tone={r.status < 400 ? 'ok' : 'bad'}>{String(r.status)}</StatusBadge> },
    {
      id: 'details',
      header: t('Details'),
      value: () => '',
      render: (r) => (
        <button type="button" className="button small" aria-label={t('Details of {{verb}} by {{user}} at {{time}}', { verb: r.verb, user: r.user, time: new Date(r.time).toLocaleString() })} onClick={() => setOpen(r)}>
          {t('Details')}
        </button>
      ),
    },
  ];
  const filtered = FILTERS.some((k) => filter[k]);
  return (
    <section className="section" aria-labelledby="audit-title">
      <h2 id="audit-title">{t('Audit log')}</h2>
      <AuditFilters key={params.toString()} filter={filter} onApply={setFilter} />
      {query.error ? (
        <ErrorMessage title={t('Could not read the audit log.')} error={query.error} onRetry={() => void query.refetch()} />
      ) : !query.data ? (
        <Loading />
      ) : (
        <>
          <ResourceTable
            label={t('Audit records')}
            rows={records.map((r, i) => ({ ...r, i }))}
            rowKey={(r) => `${r.time}/${r.i}`}
            columns={columns}
            initialSort={{ id: 'time', asc: false }}
            empty={filtered || before ? t('No records match: widen the time range or clear a filter.') : t('Nothing was recorded yet: requests through bokujo and changes to its objects show up here.')}
          />
          <div className="toolbar" role="group" aria-label={t('Pages')}>
            <button
              type="button"
              className="button"
              disabled={!before}
              onClick={() => {
                const next = new URLSearchParams(params);
                next.delete('before');
                setParams(next);
              }}
            >
              {t('Newest')}
            </button>
            <button
              type="button"
              className="button"
              disabled={records.length < AUDIT_PAGE}
              onClick={() => {
                const next = new URLSearchParams(params);
                next.set('before', records[records.length - 1]!.time);
                setParams(next);
              }}
            >
              {t('Older')}
            </button>
          </div>
        </>
      )}
      {open && <AuditDrawer record={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

function AuditFilters({ filter, onApply }: { filter: AuditFilter; onApply: (f: AuditFilter) => void }) {
  const { t } = useTranslation();
  const [f, setF] = useState<AuditFilter>({ ...filter, since: filter.since ? toLocalInput(filter.since) : '', until: filter.until ? toLocalInput(filter.until) : '' });
  const ids = { user: useId(), cluster: useId(), kind: useId(), verb: useId(), since: useId(), until: useId(), verbs: useId() };
  const set = (k: keyof AuditFilter) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ ...f, since: fromLocalInput(f.since ?? ''), until: fromLocalInput(f.until ?? '') });
  };
  return (
    <form className="toolbar card" onSubmit={submit} aria-label={t('Filter the audit log')}>
      <label htmlFor={ids.user}>{t('User')}</label>
      <input id={ids.user} value={f.user ?? ''} onChange={set('user')} autoComplete="off" />
      <label htmlFor={ids.cluster}>{t('glossary|Cluster')}</label>
      <input id={ids.cluster} value={f.cluster ?? ''} onChange={set('cluster')} autoComplete="off" />
      <label htmlFor={ids.kind}>{t('Kind')}</label>
      <select id={ids.kind} value={f.kind ?? ''} onChange={set('kind')}>
        <option value="">{t('Any')}</option>
        <option value="request">{t('Kubernetes request')}</option>
        <option value="management">{t('bokujo change')}</option>
        <option value="terminal">{t('Terminal command')}</option>
      </select>
      <label htmlFor={ids.verb}>{t('Verb')}</label>
      <input id={ids.verb} list={ids.verbs} value={f.verb ?? ''} onChange={set('verb')} autoComplete="off" />
      <datalist id={ids.verbs}>
        {VERBS.map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
      <label htmlFor={ids.since}>{t('From')}</label>
      <input id={ids.since} type="datetime-local" value={f.since ?? ''} onChange={set('since')} />
      <label htmlFor={ids.until}>{t('Until')}</label>
      <input id={ids.until} type="datetime-local" value={f.until ?? ''} onChange={set('until')} />
      <button type="submit" className="button primary">
        {t('Search')}
      </button>
      <button type="button" className="button" onClick={() => onApply({})}>
        {t('Clear')}
      </button>
    </form>
  );
}

function AuditDrawer({ record: r, onClose }: { record: AuditRecord; onClose: () => void }) {
  const { t } = useTranslation();
  const kinds: Record<string, string> = { request: t('Kubernetes request'), management: t('bokujo change'), terminal: t('Terminal command') };
  const rows: [string, string][] = [
    [t('Time'), new Date(r.time).toLocaleString() + ` (${r.time})`],
    [t('Kind'), kinds[r.kind] ?? r.kind],
    [t('User'), r.user],
    [t('Groups'), (r.groups ?? []).join(', ')],
    [t('glossary|Cluster'), r.cluster ?? ''],
    [t('Verb'), r.verb],
    [t('API group'), r.apiGroup ?? ''],
    [t('Resource'), [r.resource, r.subresource].filter(Boolean).join('/')],
    [t('glossary|Namespace'), r.namespace ?? ''],
    [t('Name'), r.name ?? ''],
    [t('Command'), (r.command ?? []).join(' ')],
    [t('Status'), String(r.status)],
    [t('Duration'), `${r.latencyMs} ms`],
    [t('Source address'), r.sourceIP ?? ''],
  ];
  return (
    <Dialog title={t('Audit record')} onClose={onClose}>
      <dl className="facts drawer">
        {rows
          .filter(([, v]) => v !== '')
          .map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd className="mono">{v}</dd>
            </div>
          ))}
      </dl>
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose} autoFocus>
          {t('Close')}
        </button>
      </div>
    </Dialog>
  );
}
