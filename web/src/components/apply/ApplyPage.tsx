import { useId, useState, type ChangeEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { UnknownKindError } from '../../lib/k8s/discovery';
import { applyObject, dryRunObject, type PlanResult } from '../../lib/k8s/apply';
import { useNamespaces } from '../../lib/k8s/namespace';
import type { KubeObject } from '../../lib/k8s/resource';
import { splitDocuments, type ManifestDoc } from '../../lib/yamlDocs';
import { useTitle } from '../common/useTitle';
import { DiffView } from './DiffView';

type Obj = KubeObject & Record<string, unknown>;

interface DocResult {
  doc: ManifestDoc;
  plan?: PlanResult & { path: string; body: Obj };
  error?: string;
  applied?: boolean;
}

/** MAX_BYTES keeps an accidental upload of a huge file out of the page. */
const MAX_BYTES = 2 * 1024 * 1024;


/**
 * ApplyPage applies one or many YAML documents: a server-side dry run
 * first, showing per document what would be created or changed, then the
 * apply itself.
 */
export function ApplyPage() {
  const { t } = useTranslation();
  const cluster = useParams().name ?? '';
  const [params] = useSearchParams();
  useTitle(t('Apply YAML'));
  const [text, setText] = useState('');
  const [namespace, setNamespace] = useState(params.get('namespace') || 'default');
  const [results, setResults] = useState<DocResult[] | null>(null);
  const [checkedText, setCheckedText] = useState<string | null>(null);
  const [busy, setBusy] = useState<'dry-run' | 'apply' | null>(null);
  const [fileError, setFileError] = useState('');
  const namespaces = useNamespaces(cluster);
  const message = (err: unknown): string => {
    if (err instanceof UnknownKindError) return t('This cluster does not serve {{kind}} in {{apiVersion}}.', { kind: err.kind, apiVersion: err.apiVersion });
    // The apiserver's own words: they name the field that is wrong.
    return err instanceof Error ? err.message : String(err);
  };
  const problem = (doc: ManifestDoc): string => {
    switch (doc.problem) {
      case 'syntax':
        return t('This is not valid YAML: {{detail}}', { detail: doc.error ?? '' });
      case 'notObject':
        return t('This is not a Kubernetes object: it must be a mapping with apiVersion and kind.');
      case 'noKind':
        return t('apiVersion and kind are required.');
      default:
        return t('metadata.name is required.');
    }
  };
  const ids = { text: useId(), file: useId(), ns: useId(), help: useId() };

  const upload = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    setFileError('');
    if (!file) return;
    if (file.size > MAX_BYTES) {
      setFileError(t('{{file}} is too large (more than 2 MiB).', { file: file.name }));
      return;
    }
    setText(await file.text());
    setResults(null);
  };

  const dryRun = async () => {
    setBusy('dry-run');
    const docs = splitDocuments(text);
    const out: DocResult[] = [];
    for (const doc of docs) {
      if (!doc.object) {
        out.push({ doc, error: problem(doc) });
        continue;
      }
      try {
        out.push({ doc, plan: await dryRunObject(cluster, doc.object, namespace) });
      } catch (err) {
        out.push({ doc, error: message(err) });
      }
    }
    setResults(out);
    setCheckedText(text + '\n' + namespace);
    setBusy(null);
  };

  const apply = async () => {
    if (!results) return;
    setBusy('apply');
    const out: DocResult[] = [];
    // In order: a Namespace or ConfigMap before what uses it.
    for (const r of results) {
      if (!r.plan) {
        out.push(r);
        continue;
      }
      try {
        await applyObject(r.plan.path, r.plan.body, false);
        out.push({ ...r, applied: true });
      } catch (err) {
        out.push({ ...r, error: message(err) });
      }
      setResults([...out, ...results.slice(out.length)]);
    }
    setResults(out);
    setCheckedText(null);
    setBusy(null);
  };

  const current = checkedText === text + '\n' + namespace;
  const allOk = results !== null && results.length > 0 && results.every((r) => r.plan && !r.error);
  const applied = results?.some((r) => r.applied) ?? false;
  const nsOptions = namespaces.data && namespaces.data.length > 0 ? namespaces.data : [namespace];
  if (!nsOptions.includes(namespace)) nsOptions.push(namespace);

  return (
    <section className="page" aria-labelledby="apply-title">
      <nav aria-label={t('Breadcrumb')} className="breadcrumb">
        <ol>
          <li>
            <Link to="/">{t('glossary|Clusters')}</Link>
          </li>
          <li>
            <Link to={`/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}`}>{cluster}</Link>
          </li>
          <li aria-current="page">{t('Apply YAML')}</li>
        </ol>
      </nav>
      <h1 id="apply-title">{t('Apply YAML')}</h1>
      <p className="muted" id={ids.help}>
        {t('Paste or upload Kubernetes objects; separate several with a line of three dashes (---). A dry run shows what would change before anything does.')}
      </p>
      <div className="apply-form">
        <div className="field-row">
          <label htmlFor={ids.ns}>{t('Namespace for objects that name none')}</label>
          <select id={ids.ns} value={namespace} onChange={(e) => setNamespace(e.target.value)}>
            {nsOptions.map((ns) => (
              <option key={ns} value={ns}>
                {ns}
              </option>
            ))}
          </select>
          <label htmlFor={ids.file}>{t('Upload a file')}</label>
          <input id={ids.file} type="file" accept=".yaml,.yml,.json,text/yaml,application/json" onChange={(e) => void upload(e)} />
        </div>
        {fileError && <p className="error-text" role="alert">{fileError}</p>}
        <label htmlFor={ids.text} className="field-label">
          {t('YAML')}
        </label>
        <textarea
          id={ids.text}
          className="yaml-input mono"
          rows={18}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          aria-describedby={ids.help}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <div className="form-buttons">
          <button type="button" className="button" disabled={busy !== null || text.trim() === ''} onClick={() => void dryRun()}>
            {busy === 'dry-run' ? t('Checking…') : t('Dry run')}
          </button>
          <button type="button" className="button primary" disabled={busy !== null || !current || !allOk} onClick={() => void apply()}>
            {busy === 'apply' ? t('Applying…') : t('Apply')}
          </button>
          {results !== null && !current && !applied && <span className="muted">{t('The YAML changed since the dry run: run it again.')}</span>}
          {results === null && <span className="muted">{t('Apply becomes available once a dry run passes for every document.')}</span>}
        </div>
      </div>
      {results !== null && (
        <section className="section" aria-labelledby="results-title">
          <h2 id="results-title">{applied ? t('Apply results') : t('Dry run results')}</h2>
          {applied && (
            <p>
              <Link to={`/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}`}>{t('See the workloads in {{namespace}}', { namespace })}</Link>
            </p>
          )}
          {results.length === 0 ? (
            <p className="empty-inline">{t('No objects found in the YAML.')}</p>
          ) : (
            <ol className="doc-results">
              {results.map((r) => (
                <DocResultView key={r.doc.index} r={r} />
              ))}
            </ol>
          )}
        </section>
      )}
    </section>
  );
}

function DocResultView({ r }: { r: DocResult }) {
  const { t } = useTranslation();
  const o = r.doc.object;
  const title = o ? `${o.kind} ${o.metadata.namespace ?? r.plan?.body.metadata.namespace ?? ''}${o.metadata.namespace || r.plan?.body.metadata.namespace ? '/' : ''}${o.metadata.name}` : t('Document {{n}}', { n: r.doc.index });
  let badge: { tone: string; text: string };
  if (r.error) badge = { tone: 'bad', text: t('Error') };
  else if (r.applied) badge = { tone: 'ok', text: r.plan?.outcome === 'created' ? t('Created') : r.plan?.outcome === 'changed' ? t('Changed') : t('Unchanged') };
  else if (r.plan?.outcome === 'created') badge = { tone: 'ok', text: t('Will be created') };
  else if (r.plan?.outcome === 'changed') badge = { tone: 'warn', text: t('Will be changed') };
  else badge = { tone: 'unknown', text: t('Unchanged') };
  return (
    <li className="doc-result card" aria-label={title}>
      <div className="doc-result-header">
        <h3 className="mono">{title}</h3>
        <span className={`status-badge ${badge.tone}`}>
          <span className="status-dot" aria-hidden="true" />
          {badge.text}
        </span>
      </div>
      {r.error && (
        <p className="error-detail" role="alert">
          {t('Document {{n}} (line {{line}}): {{message}}', { n: r.doc.index, line: r.doc.line, message: r.error })}
        </p>
      )}
      {!r.error && r.plan && r.plan.outcome !== 'unchanged' && !r.applied && <DiffView diff={r.plan.diff} label={t('Changes to {{name}}', { name: title })} />}
    </li>
  );
}
