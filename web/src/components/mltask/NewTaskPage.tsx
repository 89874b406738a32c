import { useId, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { stringify } from 'yaml';
import { buildTask, createTask, emptyTask, validateTask, type NewTask, type TaskProblem } from '../../lib/k8s/mltask';
import { ErrorMessage } from '../common/ErrorMessage';
import { useTitle } from '../common/useTitle';

/**
 * NewTaskPage is the "New training task" form: the simple settings, a
 * preview of the YAML that will be sent, and the create.
 */
export function NewTaskPage() {
  const { t } = useTranslation();
  const cluster = useParams().name ?? '';
  const [params] = useSearchParams();
  const namespace = params.get('namespace') || 'default';
  const navigate = useNavigate();
  useTitle(t('New training task'));
  const [form, setForm] = useState<NewTask>(emptyTask);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const id = useId();
  const problems = validateTask(form);
  const yaml = useMemo(() => stringify(buildTask(form, namespace)), [form, namespace]);
  const back = `/clusters/${encodeURIComponent(cluster)}?namespace=${encodeURIComponent(namespace)}`;
  const hints: Record<TaskProblem, string> = {
    name: t('Lower-case letters, digits and dashes, at most 52 characters.'),
    image: t('Enter the container image.'),
    workers: t('Enter a whole number from 1 to 256.'),
    gpus: t('Enter a whole number from 0 to 64.'),
    gpuProduct: t('Letters, digits, dashes, dots and underscores, or leave it empty.'),
    queue: t('Lower-case letters, digits and dashes.'),
    priority: t('Enter a whole number from -1000 to 1000.'),
  };
  const set = (k: keyof NewTask) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const field = (k: TaskProblem, label: string, input: React.ReactNode) => {
    const bad = touched && problems.includes(k);
    return (
      <div className="form-field">
        <label htmlFor={`${id}-${k}`}>{label}</label>
        {input}
        {bad && (
          <p className="error-text" id={`${id}-${k}-error`}>
            {hints[k]}
          </p>
        )}
      </div>
    );
  };
  const props = (k: TaskProblem) => ({
    id: `${id}-${k}`,
    value: form[k],
    onChange: set(k),
    'aria-invalid': touched && problems.includes(k),
    'aria-describedby': touched && problems.includes(k) ? `${id}-${k}-error` : undefined,
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (problems.length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      await createTask(cluster, buildTask(form, namespace));
      void navigate(back);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <section className="section" aria-labelledby={`${id}-title`}>
      <div className="section-header">
        <h1 id={`${id}-title`}>{t('New training task')}</h1>
        <Link to={back}>{t('Back to workloads')}</Link>
      </div>
      <p>{t('In {{namespace}} on {{cluster}}.', { namespace, cluster })}</p>
      <div className="task-form">
        <form onSubmit={(e) => void submit(e)} className="dialog-form" noValidate>
          {field('name', t('Name'), <input {...props('name')} required autoComplete="off" />)}
          <div className="form-field">
            <label htmlFor={`${id}-mode`}>{t('Mode')}</label>
            <select id={`${id}-mode`} value={form.mode} onChange={set('mode')}>
              <option value="Training">{t('Training')}</option>
              <option value="Interactive">{t('Interactive')}</option>
            </select>
          </div>
          {field('image', t('Image'), <input {...props('image')} required placeholder="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime" />)}
          <div className="form-field">
            <label htmlFor={`${id}-command`}>{t('Command')}</label>
            <input id={`${id}-command`} value={form.command} onChange={set('command')} placeholder="torchrun train.py" />
          </div>
          {field('workers', t('Workers'), <input {...props('workers')} type="number" min={1} max={256} />)}
          {field('gpus', t('GPUs per worker'), <input {...props('gpus')} type="number" min={0} max={64} />)}
          {field('gpuProduct', t('GPU product (optional)'), <input {...props('gpuProduct')} placeholder="NVIDIA-A100-SXM4-80GB" />)}
          {field('queue', t('Queue'), <input {...props('queue')} />)}
          {field('priority', t('Priority'), <input {...props('priority')} type="number" min={-1000} max={1000} />)}
          {error !== undefined && <ErrorMessage title={t('Could not create the task.')} error={error} />}
          <div className="dialog-buttons">
            <Link className="button" to={back}>
              {t('Cancel')}
            </Link>
            <button type="submit" className="button primary" disabled={busy}>
              {t('Create task')}
            </button>
          </div>
        </form>
        <div>
          <h3 className="subsection" id={`${id}-preview`}>
            {t('YAML preview')}
          </h3>
          <pre className="yaml-preview" aria-labelledby={`${id}-preview`}>
            {yaml}
          </pre>
        </div>
      </div>
    </section>
  );
}
