import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from './Dialog';
import { ErrorMessage } from './ErrorMessage';

/**
 * ConfirmDialog asks before an action that cannot be undone and shows the
 * server's refusal if it fails. With typeToConfirm the action stays
 * disabled until the user types that name.
 */
export function ConfirmDialog({ title, body, action, run, onClose, typeToConfirm }: { title: string; body: string; action: string; run: () => Promise<void>; onClose: () => void; typeToConfirm?: string }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const inputId = useId();
  const confirmed = typeToConfirm === undefined || typed === typeToConfirm;
  return (
    <Dialog title={title} onClose={onClose}>
      <p>{body}</p>
      {typeToConfirm !== undefined && (
        <div className="dialog-form">
          <label htmlFor={inputId}>{t('Type {{name}} to confirm', { name: typeToConfirm })}</label>
          <input id={inputId} autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} />
        </div>
      )}
      {error !== undefined && <ErrorMessage title={t('It did not work.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose} autoFocus>
          {t('Cancel')}
        </button>
        <button
          type="button"
          className="button danger-solid"
          disabled={busy || !confirmed}
          onClick={() => {
            setBusy(true);
            run().then(onClose, (err: unknown) => {
              setError(err);
              setBusy(false);
            });
          }}
        >
          {action}
        </button>
      </div>
    </Dialog>
  );
}
