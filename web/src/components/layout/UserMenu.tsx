import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { isAdmin } from '../../lib/api';
import { useMe, useSession } from '../../lib/session';

/**
 * UserMenu is a disclosure: a button naming the user that opens a panel
 * with who they are and "Log out". Escape or a click elsewhere closes it
 * and focus returns to the button.
 */
export function UserMenu() {
  const { t } = useTranslation();
  const me = useMe();
  const { logout } = useSession();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const panelId = useId();
  const buttonRef = useRef<HTMLButtonElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const firstItemRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    firstItemRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    const onPointer = (e: PointerEvent) => {
      if (rootRef.current && !rootRef.current.contains(e.target as globalThis.Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open]);

  const onLogout = async () => {
    setError(null);
    try {
      // The session state changes and the app shows the login page.
      await logout();
    } catch (err) {
      setError(t('Could not log out: {{message}}', { message: err instanceof Error ? err.message : String(err) }));
    }
  };

  const shown = me.displayName || me.username || me.name;
  return (
    <div className="user-menu" ref={rootRef}>
      <button
        ref={buttonRef}
        type="button"
        className="user-button"
        aria-expanded={open}
        aria-controls={panelId}
        aria-label={t('Account menu for {{name}}', { name: shown })}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="avatar" aria-hidden="true">
          {shown.slice(0, 1).toUpperCase()}
        </span>
        <span className="user-name">{shown}</span>
      </button>
      {open && (
        <div id={panelId} className="user-panel">
          <p className="user-panel-who">
            {t('Logged in as {{name}}', { name: me.username || me.name })}
            {isAdmin(me) && <span className="badge">{t('Administrator')}</span>}
          </p>
          {me.groups.length > 0 && (
            <p className="user-panel-groups">
              {t('Groups: {{groups}}', { groups: me.groups.join(', ') })}
            </p>
          )}
          {error && (
            <p className="error-text" role="alert">
              {error}
            </p>
          )}
          {me.username && (
            <Link className="button" to="/account/password" onClick={() => setOpen(false)}>
              {t('Change password')}
            </Link>
          )}
          <button ref={firstItemRef} type="button" className="button" onClick={() => void onLogout()}>
            {t('Log out')}
          </button>
        </div>
      )}
    </div>
  );
}
