import { useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { stringify } from 'yaml';
import { emptyForm, manifests, validate, type DeployForm, type EnvField, type Expose, type Problem, type Protocol, type VolumeField } from '../../lib/deploy';
import type { DiffLine } from '../../lib/diff';
import { applyObject, dryRunObject, objectPath, type Outcome } from '../../lib/k8s/apply';
import { useNodes } from '../../lib/k8s/node';
import { UnknownKindError } from '../../lib/k8s/discovery';
import { DiffView } from '../apply/DiffView';
import { StatusBadge } from '../common/StatusBadge';
import { useTitle } from '../common/useTitle';

type Step = { kind: string; name: string; outcome?: Outcome; diff?: DiffLine[]; error?: string; applied?: boolean };

/**
 * DeployPage is "Run a container": a form for the image, replicas,
 * command, ports, environment, CPU/memory/GPU and volumes, optionally
 * exposed by a Service and an Ingress; it shows the YAML it will send,
 * checks it with a server-side dry run, then creates it.
 */
export function DeployPage() {
  const { t } = useTranslation();
  const cluster = useParams().name ?? '';
  const [params] = useSearchParams();
  useTitle(t('Run a container'));
  const [form, setForm] = useState<DeployForm>(() => emptyForm(params.get('namespace') || 'default'));
  const [touched, setTouched] = useState(false);
  const [steps, setSteps] = useState<Step[] | null>(null);
  const [checked, setChecked] = useState<string | null>(null);
  const [busy, setBusy] = useState<'dry-run' | 'create' | null>(null);
  const nodes = useNodes(cluster);
  const products = useMemo(() => [...new Set((nodes.data ?? []).filter((n) => n.gpus > 0 && n.gpuProduct).map((n) => n.gpuProduct))].sort(), [nodes.data]);
  const problems = validate(form);
  const valid = Object.keys(problems).length === 0;
  const objects = useMemo(() => (valid ? manifests(form) : []), [form, valid]);
  const yaml = useMemo(() => objects.map((o) => stringify(o, { aliasDuplicateObjects: false })).join('---\n'), [objects]);
  const set = <K extends keyof DeployForm>(k: K, v: DeployForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const words: Record<Problem, string> = {
    required: t('Required.'),
    dnsLabel: t('Use lower-case letters, digits and dashes, starting and ending with a letter or digit (at most 63).'),
    wholeNumber: t('Enter a whole number, 0 or more.'),
    port: t('Enter a port from 1 to 65535.'),
    quantity: t('Enter a quantity such as 500m, 2, 512Mi or 4Gi.'),
    envName: t('Use letters, digits, dots, dashes and underscores, not starting with a digit.'),
    limitBelowRequest: t('The limit cannot be lower than the request.'),
    needsPort: t('Add a port to expose first.'),
    hostname: t('Enter a host name such as app.example.com.'),
    absolutePath: t('Enter an absolute path such as /data.'),
    duplicate: t('Already used above.'),
  };
  const err = (field: string) => (touched && problems[field] ? words[problems[field]] : undefined);
  const message = (e: unknown) =>
    e instanceof UnknownKindError ? t('This cluster does not serve {{kind}} in {{apiVersion}}.', { kind: e.kind, apiVersion: e.apiVersion }) : e instanceof Error ? e.message : String(e);

  const dryRun = async (e?: FormEvent) => {
    e?.preventDefault();
    setTouched(true);
    if (!valid) return;
    setBusy('dry-run');
    const out: Step[] = [];
    for (const o of objects) {
      try {
        const plan = await dryRunObject(cluster, o, form.namespace);
        out.push({ kind: o.kind ?? '', name: o.metadata.name, outcome: plan.outcome, diff: plan.diff });
      } catch (error) {
        out.push({ kind: o.kind ?? '', name: o.metadata.name, error: message(error) });
      }
    }
    setSteps(out);
    setChecked(yaml);
    setBusy(null);
  };
  const create = async () => {
    setBusy('create');
    const out: Step[] = [];
    let failed = false;
    for (const o of objects) {
      if (failed) break;
      try {
        const { path, body } = await objectPath(cluster, o, form.namespace);
        await applyObject(path, body, false);
        out.push({ ...(steps?.find((s) => s.kind === o.kind) ?? { kind: o.kind ?? '', name: o.metadata.name }), applied: true });
      } catch (error) {
        failed = true;
        out.push({ kind: o.kind ?? '', name: o.metadata.name, error: message(error) });
      }
      setSteps([...out]);
    }
    setBusy(null);
  };
  const fresh = checked !== null && checked === yaml;
  const canCreate = fresh && !!steps && steps.every((s) => !s.error) && !steps.some((s) => s.applied) && busy === null;
  const done = !!steps && steps.length === objects.length && steps.every((s) => s.applied);
  const c = encodeURIComponent(cluster);
  const ns = encodeURIComponent(form.namespace);

  return (
    <section className="page" aria-labelledby="deploy-title">
      <nav aria-label={t('Breadcrumb')} className="breadcrumb">
        <ol>
          <li>
            <Link to="/">{t('glossary|Clusters')}</Link>
          </li>
          <li>
            <Link to={`/clusters/${c}?namespace=${ns}`}>{cluster}</Link>
          </li>
          <li aria-current="page">{t('Run a container')}</li>
        </ol>
      </nav>
      <h1 id="deploy-title">{t('Run a container')}</h1>
      <p className="muted">{t('Fill in what to run; the YAML it becomes is shown on the right. Check it with a dry run, then create it.')}</p>
      <div className="deploy-layout">
        <form className="deploy-form" onSubmit={(e) => void dryRun(e)} noValidate>
          <fieldset>
            <legend>{t('Container')}</legend>
            <Field label={t('Name')} error={err('name')}>
              {(p) => <input {...p} value={form.name} onChange={(e) => set('name', e.target.value)} autoComplete="off" />}
            </Field>
            <Field label={t('glossary|Namespace')} error={err('namespace')}>
              {(p) => <input {...p} value={form.namespace} onChange={(e) => set('namespace', e.target.value)} autoComplete="off" />}
            </Field>
            <Field label={t('Image')} error={err('image')} hint={t('For example nginx:1.27 or registry.example.com/team/app:v2.')}>
              {(p) => <input {...p} value={form.image} onChange={(e) => set('image', e.target.value)} autoComplete="off" />}
            </Field>
            <Field label={t('Replicas')} error={err('replicas')}>
              {(p) => <input {...p} type="number" min={0} step={1} value={form.replicas} onChange={(e) => set('replicas', e.target.value)} />}
            </Field>
            <Field label={t('Command')} hint={t('One argument per line; empty keeps the image’s own.')}>
              {(p) => <textarea {...p} rows={2} value={form.command} onChange={(e) => set('command', e.target.value)} />}
            </Field>
            <Field label={t('Arguments')} hint={t('One argument per line.')}>
              {(p) => <textarea {...p} rows={2} value={form.args} onChange={(e) => set('args', e.target.value)} />}
            </Field>
          </fieldset>

          <fieldset>
            <legend>{t('Resources')}</legend>
            <div className="field-grid">
              <Field label={t('CPU request')} error={err('cpuRequest')} hint={t('e.g. 500m')}>
                {(p) => <input {...p} value={form.cpuRequest} onChange={(e) => set('cpuRequest', e.target.value)} />}
              </Field>
              <Field label={t('CPU limit')} error={err('cpuLimit')}>
                {(p) => <input {...p} value={form.cpuLimit} onChange={(e) => set('cpuLimit', e.target.value)} />}
              </Field>
              <Field label={t('Memory request')} error={err('memoryRequest')} hint={t('e.g. 512Mi')}>
                {(p) => <input {...p} value={form.memoryRequest} onChange={(e) => set('memoryRequest', e.target.value)} />}
              </Field>
              <Field label={t('Memory limit')} error={err('memoryLimit')}>
                {(p) => <input {...p} value={form.memoryLimit} onChange={(e) => set('memoryLimit', e.target.value)} />}
              </Field>
              <Field label={t('GPUs')} error={err('gpus')}>
                {(p) => <input {...p} type="number" min={0} step={1} value={form.gpus} onChange={(e) => set('gpus', e.target.value)} />}
              </Field>
              <Field label={t('GPU product')} hint={products.length === 0 ? t('No GPU nodes in this cluster.') : undefined}>
                {(p) => (
                  <select {...p} value={form.gpuProduct} onChange={(e) => set('gpuProduct', e.target.value)} disabled={products.length === 0}>
                    <option value="">{t('Any')}</option>
                    {products.map((g) => (
                      <option key={g} value={g}>
                        {g}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
          </fieldset>

          <fieldset>
            <legend>{t('Ports')}</legend>
            {form.ports.map((port, i) => (
              <div className="row-fields" key={i}>
                <Field label={t('Port {{n}}', { n: i + 1 })} error={err(`ports.${i}`)}>
                  {(p) => <input {...p} type="number" min={1} max={65535} value={port.port} onChange={(e) => set('ports', form.ports.map((x, j) => (j === i ? { ...x, port: e.target.value } : x)))} />}
                </Field>
                <Field label={t('Protocol of port {{n}}', { n: i + 1 })}>
                  {(p) => (
                    <select {...p} value={port.protocol} onChange={(e) => set('ports', form.ports.map((x, j) => (j === i ? { ...x, protocol: e.target.value as Protocol } : x)))}>
                      <option value="TCP">TCP</option>
                      <option value="UDP">UDP</option>
                    </select>
                  )}
                </Field>
                <button type="button" className="button small" aria-label={t('Remove port {{n}}', { n: i + 1 })} onClick={() => set('ports', form.ports.filter((_, j) => j !== i))}>
                  {t('Remove')}
                </button>
              </div>
            ))}
            <button type="button" className="button small" onClick={() => set('ports', [...form.ports, { port: '', protocol: 'TCP' }])}>
              {t('Add port')}
            </button>
            <Field label={t('Expose as a Service')} error={err('expose')}>
              {(p) => (
                <select {...p} value={form.expose} onChange={(e) => set('expose', e.target.value as Expose)}>
                  <option value="none">{t('Not exposed')}</option>
                  <option value="ClusterIP">{t('ClusterIP (inside the cluster)')}</option>
                  <option value="NodePort">{t('NodePort (a port on every node)')}</option>
                  <option value="LoadBalancer">{t('LoadBalancer (an external address)')}</option>
                </select>
              )}
            </Field>
            <Field label={t('Ingress host (optional)')} error={err('ingressHost')}>
              {(p) => <input {...p} value={form.ingressHost} onChange={(e) => set('ingressHost', e.target.value)} placeholder="app.example.com" />}
            </Field>
          </fieldset>

          <fieldset>
            <legend>{t('Environment')}</legend>
            {form.env.map((v, i) => {
              const update = (patch: Partial<EnvField>) => set('env', form.env.map((x, j) => (j === i ? { ...x, ...patch } : x)));
              return (
                <div className="row-fields" key={i}>
                  <Field label={t('Variable {{n}}', { n: i + 1 })} error={err(`env.${i}.name`)}>
                    {(p) => <input {...p} value={v.name} onChange={(e) => update({ name: e.target.value })} />}
                  </Field>
                  <Field label={t('Source of variable {{n}}', { n: i + 1 })}>
                    {(p) => (
                      <select {...p} value={v.source} onChange={(e) => update({ source: e.target.value as EnvField['source'] })}>
                        <option value="value">{t('Value')}</option>
                        <option value="secret">{t('From a Secret')}</option>
                        <option value="configMap">{t('From a ConfigMap')}</option>
                      </select>
                    )}
                  </Field>
                  <Field label={v.source === 'value' ? t('Value of variable {{n}}', { n: i + 1 }) : t('Object name of variable {{n}}', { n: i + 1 })} error={err(`env.${i}.value`)}>
                    {(p) => <input {...p} value={v.value} onChange={(e) => update({ value: e.target.value })} />}
                  </Field>
                  {v.source !== 'value' && (
                    <Field label={t('Key of variable {{n}}', { n: i + 1 })} error={err(`env.${i}.key`)}>
                      {(p) => <input {...p} value={v.key} onChange={(e) => update({ key: e.target.value })} />}
                    </Field>
                  )}
                  <button type="button" className="button small" aria-label={t('Remove variable {{n}}', { n: i + 1 })} onClick={() => set('env', form.env.filter((_, j) => j !== i))}>
                    {t('Remove')}
                  </button>
                </div>
              );
            })}
            <button type="button" className="button small" onClick={() => set('env', [...form.env, { name: '', source: 'value', value: '', key: '' }])}>
              {t('Add variable')}
            </button>
          </fieldset>

          <fieldset>
            <legend>{t('Volumes')}</legend>
            {form.volumes.map((v, i) => {
              const update = (patch: Partial<VolumeField>) => set('volumes', form.volumes.map((x, j) => (j === i ? { ...x, ...patch } : x)));
              return (
                <div className="row-fields" key={i}>
                  <Field label={t('Volume {{n}}', { n: i + 1 })}>
                    {(p) => (
                      <select {...p} value={v.kind} onChange={(e) => update({ kind: e.target.value as VolumeField['kind'] })}>
                        <option value="emptyDir">{t('Scratch space (emptyDir)')}</option>
                        <option value="pvc">{t('PersistentVolumeClaim')}</option>
                      </select>
                    )}
                  </Field>
                  {v.kind === 'pvc' && (
                    <Field label={t('Claim of volume {{n}}', { n: i + 1 })} error={err(`volumes.${i}.claim`)}>
                      {(p) => <input {...p} value={v.claim} onChange={(e) => update({ claim: e.target.value })} />}
                    </Field>
                  )}
                  <Field label={t('Mount path of volume {{n}}', { n: i + 1 })} error={err(`volumes.${i}.mountPath`)}>
                    {(p) => <input {...p} value={v.mountPath} onChange={(e) => update({ mountPath: e.target.value })} placeholder="/data" />}
                  </Field>
                  <button type="button" className="button small" aria-label={t('Remove volume {{n}}', { n: i + 1 })} onClick={() => set('volumes', form.volumes.filter((_, j) => j !== i))}>
                    {t('Remove')}
                  </button>
                </div>
              );
            })}
            <button type="button" className="button small" onClick={() => set('volumes', [...form.volumes, { kind: 'emptyDir', claim: '', mountPath: '' }])}>
              {t('Add volume')}
            </button>
          </fieldset>

          {touched && !valid && (
            <p className="error-text" role="alert">
              {t('Some fields need attention; each says what is wrong.')}
            </p>
          )}
          <div className="form-buttons">
            <button type="submit" className="button" disabled={busy !== null}>
              {busy === 'dry-run' ? t('Checking…') : t('Check (dry run)')}
            </button>
            <button type="button" className="button primary" disabled={!canCreate} onClick={() => void create()}>
              {busy === 'create' ? t('Creating…') : t('Create')}
            </button>
          </div>
          {!fresh && steps && !done && <p className="muted">{t('The form changed since the dry run: check again before creating.')}</p>}
        </form>

        <div className="deploy-side">
          <h2 id="preview-title">{t('YAML preview')}</h2>
          <pre className="yaml-view" aria-labelledby="preview-title" tabIndex={0}>
            {yaml || t('Fill in the name and image to see the YAML.')}
          </pre>
          {steps && (
            <section aria-labelledby="deploy-results">
              <h2 id="deploy-results">{steps.some((s) => s.applied) ? t('Results') : t('Dry run results')}</h2>
              <ul className="apply-results">
                {steps.map((s) => (
                  <li key={`${s.kind}/${s.name}`} aria-label={`${s.kind} ${s.name}`} className="card">
                    <div className="card-header">
                      <strong>
                        {s.kind} {s.name}
                      </strong>
                      {s.error ? (
                        <StatusBadge tone="bad">{t('Failed')}</StatusBadge>
                      ) : s.applied ? (
                        <StatusBadge tone="ok">{s.outcome === 'changed' ? t('Changed') : s.outcome === 'unchanged' ? t('Unchanged') : t('Created')}</StatusBadge>
                      ) : (
                        <StatusBadge tone={s.outcome === 'changed' ? 'unknown' : 'ok'}>{s.outcome === 'created' ? t('Will be created') : s.outcome === 'changed' ? t('Will be changed') : t('Unchanged')}</StatusBadge>
                      )}
                    </div>
                    {s.error && (
                      <p className="error-text" role="alert">
                        {s.error}
                      </p>
                    )}
                    {!s.error && !s.applied && s.outcome === 'changed' && s.diff && <DiffView diff={s.diff} label={t('Changes to {{name}}', { name: `${s.kind} ${s.name}` })} />}
                  </li>
                ))}
              </ul>
              {done && (
                <p>
                  <Link className="button primary" to={`/clusters/${c}?namespace=${ns}`}>
                    {t('See its pods')}
                  </Link>{' '}
                  <Link to={`/clusters/${c}/namespaces/${ns}/deployments/${encodeURIComponent(form.name)}`}>{t('Open the Deployment')}</Link>
                </p>
              )}
            </section>
          )}
        </div>
      </div>
    </section>
  );
}

/** Field is a labelled control with its hint and error tied to it for screen readers. */
function Field({ label, error, hint, children }: { label: string; error?: string; hint?: string; children: (p: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode }) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': described })}
      {hint && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="error-text" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}
