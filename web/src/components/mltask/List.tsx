import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../lib/api';
import { useCan } from '../../lib/k8s/access';
import { formatAge } from '../../lib/k8s/age';
import { deleteTask, MLTaskKind, setTaskState, summarizeMLTask, type MLTask, type MLTaskSummary } from '../../lib/k8s/mltask';
import { useWatchList } from '../../lib/k8s/watch';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';
import { useNow } from '../common/useNow';
import { GPUUsage } from './Usage';

/** MLTaskList is the live table of a namespace's MLTasks with their queue position. */
export function MLTaskList({ cluster, namespace }: { cluster: string; namespace: string }) {
  const { t } = useTranslation();
  const live = useWatchList<MLTask>(cluster, MLTaskKind, namespace);
  const now = useNow();
  const canPatch = useCan(cluster, { verb: 'patch', group: 'ml.bokujo.io', resource: 'mltasks', namespace });
  const canDelete = useCan(cluster, { verb: 'delete', group: 'ml.bokujo.io', resource: 'mltasks', namespace });
  const [deleting, setDeleting] = useState<MLTaskSummary | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const rows = useMemo(() => live.items?.map(summarizeMLTask) ?? [], [live.items]);
  const phaseText: Record<MLTaskSummary['phase'], string> = {
    Pending: t('Pending'),
    Queued: t('Queued'),
    Admitted: t('Admitted'),
    Running: t('Running'),
    Succeeded: t('Succeeded'),
    Failed: t('Failed'),
    Stopped: t('Stopped'),
  };
  const modeText: Record<MLTaskSummary['mode'], string> = { Training: t('Training'), Interactive: t('Interactive') };
  const toggle = async (task: MLTaskSummary) => {
    setError(undefined);
    try {
      await setTaskState(cluster, task.namespace, task.name, task.phase === 'Stopped' ? 'Running' : 'Stopped');
    } catch (err) {
      setError(err);
    }
  };
  const columns: Column<MLTaskSummary>[] = [
    { id: 'name', header: t('Name'), value: (r) => r.name },
    { id: 'mode', header: t('Mode'), value: (r) => r.mode, render: (r) => modeText[r.mode] },
    {
      id: 'phase',
      header: t('Status'),
      value: (r) => r.phase,
      render: (r) => (
        <span title={r.message}>
          <StatusBadge tone={r.tone}>{phaseText[r.phase]}</StatusBadge>
        </span>
      ),
    },
    { id: 'ready', header: t('Ready'), value: (r) => r.ready, render: (r) => `${r.ready}/${r.workers}`, numeric: true },
    { id: 'gpus', header: t('GPUs'), value: (r) => r.gpus, numeric: true },
    { id: 'queue', header: t('Queue'), value: (r) => r.queue },
    { id: 'position', header: t('Position'), value: (r) => r.position ?? 0, render: (r) => (r.position === undefined ? '–' : String(r.position)), numeric: true },
    { id: 'age', header: t('Age'), value: (r) => -Date.parse(r.created), render: (r) => formatAge(r.created, now), numeric: true },
  ];
  if (canPatch || canDelete) {
    columns.push({
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (r) => (
        <span className="row-actions">
          {canPatch && r.mode === 'Interactive' && (
            <button type="button" className="button small" onClick={() => void toggle(r)} aria-label={r.phase === 'Stopped' ? t('Start {{name}}', { name: r.name }) : t('Stop {{name}}', { name: r.name })}>
              {r.phase === 'Stopped' ? t('Start') : t('Stop')}
            </button>
          )}
          {canDelete && (
            <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: r.name })} onClick={() => setDeleting(r)}>
              {t('Delete')}
            </button>
          )}
        </span>
      ),
    });
  }
  if (live.error instanceof ApiError && live.error.status === 404) {
    // The cluster does not serve the ml.bokujo.io API (yet).
    return <p className="muted">{t('ML tasks are not available on this cluster.')}</p>;
  }
  if (live.items === undefined) {
    return live.error ? <ErrorMessage title={t('Could not load the ML tasks.')} error={live.error} /> : <Loading />;
  }
  return (
    <>
      {live.error !== undefined && <ErrorMessage title={t('Live updates stopped; retrying.')} error={live.error} />}
      {error !== undefined && <ErrorMessage title={t('Could not change the task.')} error={error} />}
      <GPUUsage cluster={cluster} namespace={namespace} />
      <ResourceTable label={t('ML tasks')} rows={rows} rowKey={(r) => r.name} columns={columns} empty={t('No ML tasks in this namespace.')} />
      {deleting && <DeleteTaskDialog cluster={cluster} task={deleting} onClose={() => setDeleting(null)} />}
    </>
  );
}

function DeleteTaskDialog({ cluster, task, onClose }: { cluster: string; task: MLTaskSummary; onClose: () => void }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const confirm = async () => {
    setBusy(true);
    try {
      await deleteTask(cluster, task.namespace, task.name);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('Delete {{name}}?', { name: task.name })} onClose={onClose}>
      <p>{t('The ML task {{name}} and its workers, Job or StatefulSet and Service in {{namespace}} will be deleted. This cannot be undone.', { name: task.name, namespace: task.namespace })}</p>
      {error !== undefined && <ErrorMessage title={t('Could not delete {{name}}.', { name: task.name })} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose} autoFocus>
          {t('Cancel')}
        </button>
        <button type="button" className="button danger-solid" disabled={busy} onClick={() => void confirm()}>
          {t('Delete')}
        </button>
      </div>
    </Dialog>
  );
}
