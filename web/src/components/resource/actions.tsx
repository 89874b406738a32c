import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useCan } from '../../lib/k8s/access';
import { listRevisions, remove, restart, rollback, scale, type Revision } from '../../lib/k8s/actions';
import { formatAge } from '../../lib/k8s/age';
import type { Action, AnyObject, KindDef } from '../../lib/k8s/kinds';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';

/**
 * useAllowedActions asks the cluster (SelfSubjectAccessReview) which of
 * the kind's actions the user may take in the namespace. The apiserver
 * still decides each request; this only hides buttons.
 */
export function useAllowedActions(cluster: string, def: KindDef, namespace: string): Action[] {
  const { group, plural } = def.resource;
  const canScale = useCan(cluster, { verb: 'patch', group, resource: plural, subresource: 'scale', namespace });
  const canPatch = useCan(cluster, { verb: 'patch', group, resource: plural, namespace });
  const canDelete = useCan(cluster, { verb: 'delete', group, resource: plural, namespace });
  const canListRS = useCan(cluster, { verb: 'list', group: 'apps', resource: 'replicasets', namespace });
  return useMemo(() => {
    const allowed: Record<Action, boolean> = { scale: canScale, restart: canPatch, rollback: canPatch && canListRS, delete: canDelete };
    return def.actions.filter((a) => allowed[a]);
  }, [def, canScale, canPatch, canDelete, canListRS]);
}

/** ActionButtons are the buttons of the allowed actions for one object. */
export function ActionButtons({ actions, name, onAction }: { actions: Action[]; name: string; onAction: (a: Action) => void }) {
  const { t } = useTranslation();
  const label: Record<Action, [string, string]> = {
    scale: [t('Scale'), t('Scale {{name}}', { name })],
    restart: [t('Restart'), t('Restart {{name}}', { name })],
    rollback: [t('Roll back'), t('Roll back {{name}}', { name })],
    delete: [t('Delete'), t('Delete {{name}}', { name })],
  };
  return (
    <span className="row-actions">
      {actions.map((a) => (
        <button key={a} type="button" className={`button small${a === 'delete' ? ' danger' : ''}`} aria-label={label[a][1]} onClick={() => onAction(a)}>
          {label[a][0]}
        </button>
      ))}
    </span>
  );
}

interface DialogProps {
  cluster: string;
  def: KindDef;
  object: AnyObject;
  onClose: () => void;
  /** Called after the action succeeded (before onClose). */
  onDone?: (a: Action) => void;
}

/** ActionDialog asks for what the action needs (and confirmation), then does it. */
export function ActionDialog({ action, ...props }: DialogProps & { action: Action }) {
  switch (action) {
    case 'scale':
      return <ScaleDialog {...props} />;
    case 'restart':
      return <RestartDialog {...props} />;
    case 'rollback':
      return <RollbackDialog {...props} />;
    case 'delete':
      return <DeleteDialog {...props} />;
  }
}

function useRun(onClose: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (fn: () => Promise<unknown>, then?: () => void) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      then?.();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return { busy, error, run };
}

function ScaleDialog({ cluster, def, object, onClose, onDone }: DialogProps) {
  const { t } = useTranslation();
  const { name, namespace = '' } = object.metadata;
  const [replicas, setReplicas] = useState(String(object.spec?.replicas ?? 1));
  const { busy, error, run } = useRun(onClose);
  const n = Number(replicas);
  const valid = replicas.trim() !== '' && Number.isInteger(n) && n >= 0;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (valid) void run(() => scale(cluster, def.resource, namespace, name, n), () => onDone?.('scale'));
  };
  return (
    <Dialog title={t('Scale {{name}}', { name })} onClose={onClose}>
      <form onSubmit={submit} className="dialog-form">
        <label htmlFor="replicas">{t('Replicas')}</label>
        <input id="replicas" type="number" min={0} step={1} required value={replicas} onChange={(e) => setReplicas(e.target.value)} aria-invalid={!valid} />
        {!valid && <p className="error-text">{t('Enter a whole number, 0 or more.')}</p>}
        {error !== undefined && <ErrorMessage title={t('Could not scale {{name}}.', { name })} error={error} />}
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

function RestartDialog({ cluster, def, object, onClose, onDone }: DialogProps) {
  const { t } = useTranslation();
  const { name, namespace = '' } = object.metadata;
  const { busy, error, run } = useRun(onClose);
  return (
    <Dialog title={t('Restart {{name}}?', { name })} onClose={onClose}>
      <p>{t('Every pod of {{name}} is replaced, a few at a time, as the rollout strategy allows.', { name })}</p>
      {error !== undefined && <ErrorMessage title={t('Could not restart {{name}}.', { name })} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose} autoFocus>
          {t('Cancel')}
        </button>
        <button type="button" className="button primary" disabled={busy} onClick={() => void run(() => restart(cluster, def.resource, namespace, name), () => onDone?.('restart'))}>
          {t('Restart')}
        </button>
      </div>
    </Dialog>
  );
}

function RollbackDialog({ cluster, object, onClose, onDone }: DialogProps) {
  const { t } = useTranslation();
  const { name } = object.metadata;
  const { busy, error, run } = useRun(onClose);
  const [revisions, setRevisions] = useState<Revision[] | undefined>(undefined);
  const [loadError, setLoadError] = useState<unknown>(undefined);
  const [picked, setPicked] = useState<number | undefined>(undefined);
  const current = Number(object.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  useEffect(() => {
    let live = true;
    listRevisions(cluster, object).then(
      (r) => {
        if (!live) return;
        setRevisions(r);
        setPicked(r.find((x) => x.revision !== current)?.revision);
      },
      (err) => live && setLoadError(err),
    );
    return () => {
      live = false;
    };
    // The revisions are read once, when the dialog opens.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const older = revisions?.filter((r) => r.revision !== current) ?? [];
  const target = older.find((r) => r.revision === picked);
  const now = Date.now();
  return (
    <Dialog title={t('Roll back {{name}}', { name })} onClose={onClose}>
      {loadError !== undefined ? (
        <ErrorMessage title={t('Could not read the revisions of {{name}}.', { name })} error={loadError} />
      ) : revisions === undefined ? (
        <Loading />
      ) : older.length === 0 ? (
        <p>{t('{{name}} has no earlier revision to go back to.', { name })}</p>
      ) : (
        <fieldset className="revision-list">
          <legend>{t('Revision to go back to (now at {{current}})', { current })}</legend>
          {older.map((r) => (
            <label key={r.revision} className="radio-row">
              <input type="radio" name="revision" value={r.revision} checked={picked === r.revision} onChange={() => setPicked(r.revision)} />
              <span>
                {t('Revision {{revision}}', { revision: r.revision })} <span className="mono">{r.images.join(', ')}</span>{' '}
                <span className="muted">{formatAge(r.created, now)}</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {error !== undefined && <ErrorMessage title={t('Could not roll back {{name}}.', { name })} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="button" className="button primary" disabled={busy || !target} onClick={() => target && void run(() => rollback(cluster, object, target), () => onDone?.('rollback'))}>
          {t('Roll back')}
        </button>
      </div>
    </Dialog>
  );
}

function DeleteDialog({ cluster, def, object, onClose, onDone }: DialogProps) {
  const { t } = useTranslation();
  const { name, namespace = '' } = object.metadata;
  const { busy, error, run } = useRun(onClose);
  return (
    <Dialog title={t('Delete {{name}}?', { name })} onClose={onClose}>
      <p>{t('{{kind}} {{name}} in {{namespace}} will be deleted, with what it owns. This cannot be undone.', { kind: def.resource.kind, name, namespace })}</p>
      {error !== undefined && <ErrorMessage title={t('Could not delete {{name}}.', { name })} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose} autoFocus>
          {t('Cancel')}
        </button>
        <button type="button" className="button danger-solid" disabled={busy} onClick={() => void run(() => remove(cluster, def.resource, namespace, name), () => onDone?.('delete'))}>
          {t('Delete')}
        </button>
      </div>
    </Dialog>
  );
}
