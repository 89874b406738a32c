import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'react-router';
import { isAdmin } from '../../lib/api';
import { useNotifications } from '../../lib/queries';
import { useSession } from '../../lib/session';
import { TerminalProvider, useTerminal } from '../terminal/TerminalContext';
import { LanguageSwitch } from './LanguageSwitch';
import { UserMenu } from './UserMenu';

/** AppShell frames every page of a logged-in user: header, navigation, main, terminal. */
export function AppShell({ children }: { children: ReactNode }) {
  return (
    <TerminalProvider>
      <Shell>{children}</Shell>
    </TerminalProvider>
  );
}

/** TerminalButton opens the web terminal in the page's cluster (also Ctrl+`). */
function TerminalButton() {
  const { t } = useTranslation();
  const terminal = useTerminal();
  return (
    <button type="button" className="button small" aria-pressed={terminal.open} onClick={terminal.toggle} title={t('Terminal (Ctrl+`)')}>
      {t('Terminal')}
    </button>
  );
}

/** NotificationsLink leads to the feed and says how many are unread. */
function NotificationsLink({ active }: { active: boolean }) {
  const { t } = useTranslation();
  const unread = useNotifications().data?.unread ?? 0;
  return (
    <Link
      to="/notifications"
      className={active ? 'active' : undefined}
      aria-current={active ? 'page' : undefined}
      aria-label={unread > 0 ? t('Notifications, {{count}} unread', { count: unread }) : t('Notifications')}
    >
      {t('Notifications')}
      {unread > 0 && (
        <span className="nav-count" aria-hidden="true">
          {unread}
        </span>
      )}
    </Link>
  );
}

function Shell({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { pathname } = useLocation();
  // A cluster's pages belong to "Clusters" too.
  const inClusters = pathname === '/' || pathname.startsWith('/clusters/');
  const { state } = useSession();
  const admin = state.status === 'authenticated' && isAdmin(state.me);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('Skip to content')}
      </a>
      <header className="app-header">
        <Link to="/" className="brand" aria-label={t('bokujo home')}>
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span aria-hidden="true">bokujo</span>
        </Link>
        <nav aria-label={t('Main')} className="main-nav">
          <Link to="/" className={inClusters ? 'active' : undefined} aria-current={pathname === '/' ? 'page' : undefined}>
            {t('glossary|Clusters')}
          </Link>
          <NotificationsLink active={pathname === '/notifications'} />
          <Link to="/account/tokens" className={pathname === '/account/tokens' ? 'active' : undefined} aria-current={pathname === '/account/tokens' ? 'page' : undefined}>
            {t('Tokens')}
          </Link>
          {admin && (
            <Link to="/admin" className={pathname.startsWith('/admin') ? 'active' : undefined} aria-current={pathname.startsWith('/admin') ? 'page' : undefined}>
              {t('Administration')}
            </Link>
          )}
        </nav>
        <div className="header-tools">
          <TerminalButton />
          <LanguageSwitch />
          <UserMenu />
        </div>
      </header>
      <main id="main" tabIndex={-1} className="app-main">
        {children}
      </main>
    </div>
  );
}
