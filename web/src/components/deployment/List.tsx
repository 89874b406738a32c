import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useCan } from '../../lib/k8s/access';
import { formatAge } from '../../lib/k8s/age';
import { DeploymentKind, deleteDeployment, scaleDeployment, summarizeDeployment, type Deployment, type DeploymentSummary } from '../../lib/k8s/deployment';
import { useWatchList } from '../../lib/k8s/watch';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';
import { useNow } from '../common/useNow';

type Action = { kind: 'scale' | 'delete'; deployment: DeploymentSummary };

/** DeploymentList is the live table of a namespace's Deployments, with the actions the user may take. */
export function DeploymentList({ cluster, namespace }: { cluster: string; namespace: string }) {
  const { t } = useTranslation();
  const live = useWatchList<Deployment>(cluster, DeploymentKind, namespace);
  const now = useNow();
  const canScale = useCan(cluster, { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', namespace });
  const canDelete = useCan(cluster, { verb: 'delete', group: 'apps', resource: 'deployments', namespace });
  const [action, setAction] = useState<Action | null>(null);
  const rows = useMemo(() => live.items?.map(summarizeDeployment) ?? [], [live.items]);
  const statusText: Record<DeploymentSummary['status'], string> = {
    Available: t('Available'),
    Progressing: t('Progressing'),
    Unavailable: t('Unavailable'),
    'Scaled to zero': t('Scaled to zero'),
    Deleting: t('Deleting'),
  };
  const columns: Column<DeploymentSummary>[] = [
    { id: 'name', header: t('Name'), value: (d) => d.name },
    { id: 'status', header: t('Status'), value: (d) => d.status, render: (d) => <StatusBadge tone={d.tone}>{statusText[d.status]}</StatusBadge> },
    { id: 'ready', header: t('Ready'), value: (d) => d.ready, render: (d) => `${d.ready}/${d.desired}`, numeric: true },
    { id: 'updated', header: t('Up to date'), value: (d) => d.upToDate, numeric: true },
    { id: 'age', header: t('Age'), value: (d) => -Date.parse(d.created), render: (d) => formatAge(d.created, now), numeric: true },
  ];
  if (canScale || canDelete) {
    columns.push({
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (d) => (
        <span className="row-actions">
          {canScale && (
            <button type="button" className="button small" aria-label={t('Scale {{name}}', { name: d.name })} onClick={() => setAction({ kind: 'scale', deployment: d })}>
              {t('Scale')}
            </button>
          )}
          {canDelete && (
            <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: d.name })} onClick={() => setAction({ kind: 'delete', deployment: d })}>
              {t('Delete')}
            </button>
          )}
        </span>
      ),
    });
  }
  if (live.items === undefined) {
    return live.error ? <ErrorMessage title={t('Could not load the deployments.')} error={live.error} /> : <Loading />;
  }
  return (
    <>
      {live.error !== undefined && <ErrorMessage title={t('Live updates stopped; retrying.')} error={live.error} />}
      <ResourceTable label={t('glossary|Deployments')} rows={rows} rowKey={(d) => d.name} columns={columns} empty={t('No deployments in this namespace.')} />
      {action?.kind === 'scale' && <ScaleDialog cluster={cluster} deployment={action.deployment} onClose={() => setAction(null)} />}
      {action?.kind === 'delete' && <DeleteDialog cluster={cluster} deployment={action.deployment} onClose={() => setAction(null)} />}
    </>
  );
}

function ScaleDialog({ cluster, deployment, onClose }: { cluster: string; deployment: DeploymentSummary; onClose: () => void }) {
  const { t } = useTranslation();
  const [replicas, setReplicas] = useState(String(deployment.desired));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const n = Number(replicas);
  const valid = replicas.trim() !== '' && Number.isInteger(n) && n >= 0;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!valid) return;
    setBusy(true);
    try {
      await scaleDeployment(cluster, deployment.namespace, deployment.name, n);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('Scale {{name}}', { name: deployment.name })} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} className="dialog-form">
        <label htmlFor="replicas">{t('Replicas')}</label>
        <input id="replicas" type="number" min={0} step={1} required value={replicas} onChange={(e) => setReplicas(e.target.value)} aria-invalid={!valid} />
        {!valid && <p className="error-text">{t('Enter a whole number, 0 or more.')}</p>}
        {error !== undefined && <ErrorMessage title={t('Could not scale {{name}}.', { name: deployment.name })} error={error} />}
        <div className="dialog-buttons">
          <button type="button" className="button" onClick={onClose}>
            {t('Cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !valid}>
            {t('Scale')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog({ cluster, deployment, onClose }: { cluster: string; deployment: DeploymentSummary; onClose: () => void }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const confirm = async () => {
    setBusy(true);
    try {
      await deleteDeployment(cluster, deployment.namespace, deployment.name);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('Delete {{name}}?', { name: deployment.name })} onClose={onClose}>
      <p>{t('The deployment {{name}} and its pods in {{namespace}} will be deleted. This cannot be undone.', { name: deployment.name, namespace: deployment.namespace })}</p>
      {error !== undefined && <ErrorMessage title={t('Could not delete {{name}}.', { name: deployment.name })} error={error} />}
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
