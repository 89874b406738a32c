import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { contextOf, createRoleTemplate, deleteRoleTemplate, listRoleTemplates, type PolicyRule, type RoleTemplate, type TemplateContext } from '../../lib/admin';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';

const TEMPLATE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const show = (xs: string[] | undefined) => (xs?.length ? xs.join(', ') : '—');

/** RoleTemplatesTab lists role templates, shows their rules, creates custom ones and deletes them. */
export function RoleTemplatesTab() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'roletemplates'];
  const templates = useQuery({ queryKey: key, queryFn: ({ signal }) => listRoleTemplates(signal) });
  const [viewing, setViewing] = useState<RoleTemplate | null>(null);
  const [deleting, setDeleting] = useState<RoleTemplate | null>(null);
  const [creating, setCreating] = useState(false);
  const columns: Column<RoleTemplate>[] = [
    { id: 'name', header: t('Name'), value: (r) => r.name },
    { id: 'display', header: t('Display name'), value: (r) => r.displayName ?? '' },
    { id: 'context', header: t('Applies to'), value: (r) => contextOf(r), render: (r) => (contextOf(r) === 'Cluster' ? t('a whole cluster') : t('a project’s namespaces')) },
    { id: 'origin', header: t('Origin'), value: (r) => (r.builtin ? 0 : 1), render: (r) => (r.builtin ? <StatusBadge tone="unknown">{t('Built in')}</StatusBadge> : t('Custom')) },
    { id: 'rules', header: t('Rules'), value: (r) => r.rules?.length ?? 0, numeric: true },
    { id: 'state', header: t('Status'), value: (r) => r.state ?? 'Active', render: (r) => (r.state === 'Locked' ? <StatusBadge tone="bad">{t('Locked')}</StatusBadge> : t('Active')) },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (r) => (
        <span className="row-actions">
          <button type="button" className="button small" aria-label={t('View the rules of {{name}}', { name: r.name })} onClick={() => setViewing(r)}>
            {t('Rules')}
          </button>
          {!r.builtin && (
            <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: r.name })} onClick={() => setDeleting(r)}>
              {t('Delete')}
            </button>
          )}
        </span>
      ),
    },
  ];
  return (
    <section className="section" aria-labelledby="templates-title">
      <div className="section-header">
        <h2 id="templates-title">{t('Role templates')}</h2>
        <button type="button" className="button primary" onClick={() => setCreating(true)}>
          {t('Create a role template')}
        </button>
      </div>
      <p className="muted">{t('A role template is a set of Kubernetes rights you grant to users and groups in a cluster or a project, under Members.')}</p>
      {creating && <TemplateForm onClose={() => setCreating(false)} onCreated={() => void qc.invalidateQueries({ queryKey: key })} />}
      {templates.error ? (
        <ErrorMessage title={t('Could not load the role templates.')} error={templates.error} onRetry={() => void templates.refetch()} />
      ) : !templates.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('Role templates')} rows={templates.data} rowKey={(r) => r.name} columns={columns} empty={t('No role templates: create one, or restart the server to restore the built-in ones.')} />
      )}
      {viewing && (
        <Dialog title={t('Rules of {{name}}', { name: viewing.name })} onClose={() => setViewing(null)}>
          {viewing.description && <p>{viewing.description}</p>}
          {viewing.inherits?.length ? <p>{t('Also includes the rules of: {{names}}', { names: viewing.inherits.join(', ') })}</p> : null}
          <RulesTable rules={viewing.rules ?? []} />
          <div className="dialog-buttons">
            <button type="button" className="button" onClick={() => setViewing(null)} autoFocus>
              {t('Close')}
            </button>
          </div>
        </Dialog>
      )}
      {deleting && (
        <ConfirmDialog
          title={t('Delete {{name}}?', { name: deleting.name })}
          body={t('A template still granted to someone cannot be deleted: remove those members first.')}
          action={t('Delete')}
          run={async () => {
            await deleteRoleTemplate(deleting.name);
            await qc.invalidateQueries({ queryKey: key });
          }}
          onClose={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

function RulesTable({ rules }: { rules: PolicyRule[] }) {
  const { t } = useTranslation();
  if (rules.length === 0) return <p className="empty-inline">{t('No rules of its own.')}</p>;
  return (
    <table className="data-table" aria-label={t('Rules')}>
      <thead>
        <tr>
          <th scope="col">{t('Verbs')}</th>
          <th scope="col">{t('API groups')}</th>
          <th scope="col">{t('Resources')}</th>
          <th scope="col">{t('Resource names')}</th>
        </tr>
      </thead>
      <tbody>
        {rules.map((r, i) => (
          <tr key={i}>
            <td className="mono">{show(r.verbs)}</td>
            <td className="mono">{r.apiGroups?.map((g) => (g === '' ? '""' : g)).join(', ') || '—'}</td>
            <td className="mono">{show(r.resources ?? r.nonResourceURLs)}</td>
            <td className="mono">{show(r.resourceNames)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface RuleRow {
  verbs: string;
  apiGroups: string;
  resources: string;
  resourceNames: string;
}

const emptyRule: RuleRow = { verbs: 'get, list, watch', apiGroups: '""', resources: '', resourceNames: '' };

/** toRule turns an editor row into a PolicyRule; "" (two quotes) is the core API group. */
export function toRule(r: RuleRow): PolicyRule {
  const rule: PolicyRule = { verbs: list(r.verbs), apiGroups: list(r.apiGroups).map((g) => (g === '""' ? '' : g)), resources: list(r.resources) };
  const names = list(r.resourceNames);
  if (names.length) rule.resourceNames = names;
  return rule;
}

function TemplateForm({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [description, setDescription] = useState('');
  const [context, setContext] = useState<TemplateContext>('Project');
  const [rules, setRules] = useState<RuleRow[]>([{ ...emptyRule }]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ids = { name: useId(), display: useId(), desc: useId(), ctx: useId() };
  const ruleId = useId();
  const incomplete = rules.some((r) => list(r.verbs).length === 0 || list(r.resources).length === 0);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await createRoleTemplate({ name, displayName: displayName.trim() || undefined, description: description.trim() || undefined, context, rules: rules.map(toRule) });
      onCreated();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const setRule = (i: number, k: keyof RuleRow, v: string) => setRules(rules.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={t('Create a role template')}>
      <label htmlFor={ids.name}>{t('Name')}</label>
      <input id={ids.name} required autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={name !== '' && !TEMPLATE_NAME.test(name)} placeholder="gpu-user" />
      <label htmlFor={ids.display}>{t('Display name')}</label>
      <input id={ids.display} autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      <label htmlFor={ids.desc}>{t('Description')}</label>
      <input id={ids.desc} autoComplete="off" value={description} onChange={(e) => setDescription(e.target.value)} />
      <label htmlFor={ids.ctx}>{t('Applies to')}</label>
      <select id={ids.ctx} value={context} onChange={(e) => setContext(e.target.value as TemplateContext)}>
        <option value="Project">{t('a project’s namespaces')}</option>
        <option value="Cluster">{t('a whole cluster')}</option>
      </select>
      <fieldset className="subsection">
        <legend>{t('Rules')}</legend>
        <p className="field-hint">{t('Comma-separated lists, as in a Kubernetes Role. Write "" for the core API group (pods, services, secrets).')}</p>
        {rules.map((r, i) => (
          <div key={i} className="row-fields" role="group" aria-label={t('Rule {{n}}', { n: i + 1 })}>
            {(
              [
                ['verbs', t('Verbs')],
                ['apiGroups', t('API groups')],
                ['resources', t('Resources')],
                ['resourceNames', t('Resource names')],
              ] as [keyof RuleRow, string][]
            ).map(([k, label]) => (
              <span key={k} className="form-field">
                <label htmlFor={`${ruleId}-${i}-${k}`}>{label}</label>
                <input id={`${ruleId}-${i}-${k}`} className="mono" autoComplete="off" spellCheck={false} value={r[k]} onChange={(e) => setRule(i, k, e.target.value)} />
              </span>
            ))}
            <button type="button" className="button small danger" disabled={rules.length === 1} aria-label={t('Remove rule {{n}}', { n: i + 1 })} onClick={() => setRules(rules.filter((_, j) => j !== i))}>
              {t('Remove')}
            </button>
          </div>
        ))}
        <button type="button" className="button small" onClick={() => setRules([...rules, { ...emptyRule }])}>
          {t('Add a rule')}
        </button>
      </fieldset>
      {error !== undefined && <ErrorMessage title={t('Could not create the role template.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !TEMPLATE_NAME.test(name) || incomplete}>
          {t('Create')}
        </button>
      </div>
    </form>
  );
}
