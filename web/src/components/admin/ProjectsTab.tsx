import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { createProject, deleteProject, getProject, GPU_QUOTA, updateProject, type ProjectObject } from '../../lib/admin';
import { listClusters, listProjects, type Project } from '../../lib/api';
import { parseQuantity } from '../../lib/k8s/quantity';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';

const PROJECT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The quota keys the form offers; others already on a project are kept as they are. */
const QUOTA: { key: string; label: (t: TFunction) => string; placeholder: string }[] = [
  { key: GPU_QUOTA, label: (t) => t('GPUs (requests.nvidia.com/gpu)'), placeholder: '4' },
  { key: 'requests.cpu', label: (t) => t('CPU requests'), placeholder: '16' },
  { key: 'requests.memory', label: (t) => t('Memory requests'), placeholder: '64Gi' },
  { key: 'limits.cpu', label: (t) => t('CPU limits'), placeholder: '32' },
  { key: 'limits.memory', label: (t) => t('Memory limits'), placeholder: '128Gi' },
  { key: 'pods', label: (t) => t('Pods'), placeholder: '100' },
];

const DEFAULTS: { key: 'defaultRequests' | 'defaultLimits'; resource: string; label: (t: TFunction) => string; placeholder: string }[] = [
  { key: 'defaultRequests', resource: 'cpu', label: (t) => t('Default CPU request'), placeholder: '100m' },
  { key: 'defaultRequests', resource: 'memory', label: (t) => t('Default memory request'), placeholder: '128Mi' },
  { key: 'defaultLimits', resource: 'cpu', label: (t) => t('Default CPU limit'), placeholder: '1' },
  { key: 'defaultLimits', resource: 'memory', label: (t) => t('Default memory limit'), placeholder: '1Gi' },
];

/** ProjectsTab lists projects and creates, edits and deletes them. */
export function ProjectsTab() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'projects', ''];
  const projects = useQuery({ queryKey: key, queryFn: ({ signal }) => listProjects('', signal) });
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Project | null>(null);
  const refresh = () => void qc.invalidateQueries({ queryKey: ['v1', 'projects'] });
  const columns: Column<Project>[] = [
    { id: 'name', header: t('Name'), value: (p) => p.name },
    { id: 'display', header: t('Display name'), value: (p) => p.displayName ?? '' },
    { id: 'cluster', header: t('glossary|Cluster'), value: (p) => p.cluster },
    { id: 'namespaces', header: t('glossary|Namespaces'), value: (p) => (p.namespaces ?? []).join(', ') },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (p) => (
        <span className="row-actions">
          <button type="button" className="button small" aria-label={t('Edit {{name}}', { name: p.name })} onClick={() => setEditing(p.name)}>
            {t('Edit')}
          </button>
          <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: p.name })} onClick={() => setDeleting(p)}>
            {t('Delete')}
          </button>
        </span>
      ),
    },
  ];
  return (
    <section className="section" aria-labelledby="projects-title">
      <div className="section-header">
        <h2 id="projects-title">{t('Projects')}</h2>
        <button type="button" className="button primary" onClick={() => setEditing('new')}>
          {t('Create a project')}
        </button>
      </div>
      <p className="muted">{t('A project groups namespaces of one cluster: grant it to people under Members, and give each of its namespaces a quota.')}</p>
      {editing === 'new' && <ProjectForm onClose={() => setEditing(null)} onSaved={refresh} />}
      {editing && editing !== 'new' && <EditProject key={editing} name={editing} onClose={() => setEditing(null)} onSaved={refresh} />}
      {projects.error ? (
        <ErrorMessage title={t('Could not load the projects.')} error={projects.error} onRetry={() => void projects.refetch()} />
      ) : !projects.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('Projects')} rows={projects.data} rowKey={(p) => p.name} columns={columns} empty={t('No projects yet: create one to hand namespaces of a cluster to a team.')} />
      )}
      {deleting && (
        <ConfirmDialog
          title={t('Delete {{name}}?', { name: deleting.name })}
          body={t('Its members lose their access to its namespaces, and their quotas and defaults are removed. The namespaces and their workloads stay.')}
          action={t('Delete')}
          typeToConfirm={deleting.name}
          run={async () => {
            await deleteProject(deleting.name);
            refresh();
          }}
          onClose={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

function EditProject({ name, onClose, onSaved }: { name: string; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const project = useQuery({ queryKey: ['v1', 'projects', 'object', name], queryFn: ({ signal }) => getProject(name, signal), staleTime: 0 });
  if (project.error) return <ErrorMessage title={t('Could not load {{name}}.', { name })} error={project.error} />;
  if (!project.data) return <Loading />;
  return <ProjectForm existing={project.data} onClose={onClose} onSaved={onSaved} />;
}

/** projectFrom builds the request body from the form: empty quantities are left out, other existing keys kept. */
export function projectFrom(base: ProjectObject, quota: Record<string, string>, defaults: Record<string, string>): ProjectObject {
  const hard: Record<string, string> = { ...(base.resourceQuota?.hard ?? {}) };
  for (const q of QUOTA) {
    const v = quota[q.key]?.trim();
    if (v) hard[q.key] = v;
    else delete hard[q.key];
  }
  const out: ProjectObject = { ...base };
  delete out.status;
  if (Object.keys(hard).length) out.resourceQuota = { hard };
  else delete out.resourceQuota;
  const lr = { defaultRequests: { ...(base.limitRange?.defaultRequests ?? {}) }, defaultLimits: { ...(base.limitRange?.defaultLimits ?? {}) } };
  for (const d of DEFAULTS) {
    const v = defaults[`${d.key}/${d.resource}`]?.trim();
    if (v) lr[d.key][d.resource] = v;
    else delete lr[d.key][d.resource];
  }
  const limitRange: ProjectObject['limitRange'] = {};
  if (Object.keys(lr.defaultRequests).length) limitRange.defaultRequests = lr.defaultRequests;
  if (Object.keys(lr.defaultLimits).length) limitRange.defaultLimits = lr.defaultLimits;
  if (Object.keys(limitRange).length) out.limitRange = limitRange;
  else delete out.limitRange;
  return out;
}

function ProjectForm({ existing, onClose, onSaved }: { existing?: ProjectObject; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const clusters = useQuery({ queryKey: ['v1', 'clusters'], queryFn: ({ signal }) => listClusters(signal) });
  const [name, setName] = useState(existing?.name ?? '');
  const [cluster, setCluster] = useState(existing?.clusterName ?? '');
  const [displayName, setDisplayName] = useState(existing?.displayName ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [namespaces, setNamespaces] = useState((existing?.namespaces ?? []).join(', '));
  const [quota, setQuota] = useState<Record<string, string>>(() => Object.fromEntries(QUOTA.map((q) => [q.key, existing?.resourceQuota?.hard?.[q.key] ?? ''])));
  const [defaults, setDefaults] = useState<Record<string, string>>(() => Object.fromEntries(DEFAULTS.map((d) => [`${d.key}/${d.resource}`, existing?.limitRange?.[d.key]?.[d.resource] ?? ''])));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ids = { name: useId(), cluster: useId(), display: useId(), desc: useId(), ns: useId() };
  const qid = useId();
  const chosen = cluster || clusters.data?.[0]?.name || '';
  const nsList = namespaces
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badNs = nsList.filter((n) => !NAMESPACE.test(n));
  const badQuantities = [...Object.values(quota), ...Object.values(defaults)].filter((v) => v.trim() && Number.isNaN(parseQuantity(v)));
  const title = existing ? t('Edit {{name}}', { name: existing.name }) : t('Create a project');
  const live = existing?.status?.namespaces ?? [];
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const base: ProjectObject = { ...(existing ?? {}), name, clusterName: chosen, displayName: displayName.trim() || undefined, description: description.trim() || undefined, namespaces: nsList.length ? nsList : undefined };
    try {
      const body = projectFrom(base, quota, defaults);
      await (existing ? updateProject(body) : createProject(body));
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={title}>
      <h3>{title}</h3>
      <label htmlFor={ids.name}>{t('Name')}</label>
      <input id={ids.name} required disabled={existing !== undefined} autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={name !== '' && !PROJECT_NAME.test(name)} placeholder="ml-research" />
      <label htmlFor={ids.cluster}>{t('glossary|Cluster')}</label>
      <select id={ids.cluster} value={chosen} disabled={existing !== undefined || !clusters.data?.length} onChange={(e) => setCluster(e.target.value)}>
        {existing && !clusters.data?.some((c) => c.name === chosen) && <option value={chosen}>{chosen}</option>}
        {(clusters.data ?? []).map((c) => (
          <option key={c.name} value={c.name}>
            {c.displayName || c.name}
          </option>
        ))}
      </select>
      {clusters.data?.length === 0 && <p className="error-text">{t('No clusters yet: add a cluster first.')}</p>}
      <label htmlFor={ids.display}>{t('Display name')}</label>
      <input id={ids.display} autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      <label htmlFor={ids.desc}>{t('Description')}</label>
      <input id={ids.desc} autoComplete="off" value={description} onChange={(e) => setDescription(e.target.value)} />
      <label htmlFor={ids.ns}>{t('glossary|Namespaces')}</label>
      <input id={ids.ns} autoComplete="off" spellCheck={false} value={namespaces} onChange={(e) => setNamespaces(e.target.value)} aria-invalid={badNs.length > 0} placeholder="ml-train, ml-serve" />
      <p className={badNs.length ? 'error-text' : 'field-hint'}>{badNs.length ? t('Not a namespace name: {{names}}', { names: badNs.join(', ') }) : t('Comma-separated. Namespaces already labelled bokujo.io/project with this name belong to it as well.')}</p>
      {live.length > 0 && <p className="field-hint">{t('In the project now: {{names}}', { names: live.join(', ') })}</p>}
      <fieldset className="subsection">
        <legend>{t('Quota of each namespace')}</legend>
        <div className="field-grid">
          {QUOTA.map((q) => (
            <span key={q.key} className="form-field">
              <label htmlFor={`${qid}-${q.key}`}>{q.label(t)}</label>
              <input id={`${qid}-${q.key}`} className="mono" autoComplete="off" value={quota[q.key] ?? ''} placeholder={q.placeholder} aria-invalid={!!quota[q.key]?.trim() && Number.isNaN(parseQuantity(quota[q.key]))} onChange={(e) => setQuota({ ...quota, [q.key]: e.target.value })} />
            </span>
          ))}
        </div>
      </fieldset>
      <fieldset className="subsection">
        <legend>{t('Defaults for containers that set no resources')}</legend>
        <div className="field-grid">
          {DEFAULTS.map((d) => {
            const k = `${d.key}/${d.resource}`;
            return (
              <span key={k} className="form-field">
                <label htmlFor={`${qid}-${k}`}>{d.label(t)}</label>
                <input id={`${qid}-${k}`} className="mono" autoComplete="off" value={defaults[k] ?? ''} placeholder={d.placeholder} aria-invalid={!!defaults[k]?.trim() && Number.isNaN(parseQuantity(defaults[k]))} onChange={(e) => setDefaults({ ...defaults, [k]: e.target.value })} />
              </span>
            );
          })}
        </div>
      </fieldset>
      {badQuantities.length > 0 && <p className="error-text">{t('Not a quantity: {{values}}. Write e.g. 500m, 4, 64Gi.', { values: badQuantities.join(', ') })}</p>}
      {error !== undefined && <ErrorMessage title={t('Could not save the project.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !PROJECT_NAME.test(name) || !chosen || badNs.length > 0 || badQuantities.length > 0}>
          {t('Save')}
        </button>
      </div>
    </form>
  );
}
