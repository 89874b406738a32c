import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useLocation, useNavigate } from 'react-router';
import { ApiError, changePassword } from '../../lib/api';
import { useMe, useSession } from '../../lib/session';
import { useTitle } from '../common/useTitle';

/** MIN_LENGTH mirrors the server's policy so the form can say so before sending; the server decides. */
const MIN_LENGTH = 12;

// Only a path of this site is a place to return to.
function safeReturnPath(from: unknown): string {
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//') && !from.startsWith('/account/password') ? from : '/';
}

/**
 * PasswordPage changes the user's own password; after an administrator
 * set it ("choose a new password at first login") it is the only page
 * the app shows until they do.
 */
export function PasswordPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { refresh } = useSession();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from;
  useTitle(t('Change password'));
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const ids = { current: useId(), next: useId(), repeat: useId() };
  const problem = next && [...next].length < MIN_LENGTH ? t('Use at least {{count}} characters.', { count: MIN_LENGTH }) : repeat && repeat !== next ? t('The two new passwords differ.') : '';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (problem || !next || next !== repeat) return;
    setBusy(true);
    setError('');
    try {
      await changePassword(current, next);
      await refresh();
      void navigate(safeReturnPath(from), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'InvalidCredentials') setError(t('The current password is wrong.'));
      else if (err instanceof ApiError && err.code === 'WeakPassword') setError(t('The server refused the new password: {{reason}}', { reason: err.message }));
      else setError(t('Could not change the password: {{message}}', { message: err instanceof Error ? err.message : String(err) }));
      setBusy(false);
    }
  };
  return (
    <section className="page narrow" aria-labelledby="password-title">
      <h1 id="password-title">{me.mustChangePassword ? t('Choose your own password') : t('Change password')}</h1>
      {me.mustChangePassword && <p className="notice">{t('An administrator set your password. Choose one only you know before going on.')}</p>}
      <form className="dialog-form card" onSubmit={(e) => void submit(e)}>
        <label htmlFor={ids.current}>{t('Current password')}</label>
        <input id={ids.current} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
        <label htmlFor={ids.next}>{t('New password')}</label>
        <input id={ids.next} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} aria-invalid={!!problem} />
        <label htmlFor={ids.repeat}>{t('New password again')}</label>
        <input id={ids.repeat} type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} aria-invalid={!!problem} />
        {problem && <p className="error-text">{problem}</p>}
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-buttons">
          <button type="submit" className="button primary" disabled={busy || !!problem || !current || !next || next !== repeat}>
            {t('Change password')}
          </button>
        </div>
      </form>
    </section>
  );
}
