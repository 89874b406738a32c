import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError, listAuthProviders, LOCAL_LOGIN_URL } from '../../lib/api';
import { useSession } from '../../lib/session';
import { Loading } from '../common/Loading';
import { useTitle } from '../common/useTitle';
import { LanguageSwitch } from '../layout/LanguageSwitch';

interface LoginState {
  from?: string;
}

// Only a path of this site is a place to return to.
function safeReturnPath(from: string | undefined): string {
  return from && from.startsWith('/') && !from.startsWith('//') && !from.startsWith('/login') ? from : '/';
}

export function LoginPage() {
  const { t, i18n } = useTranslation();
  const { state, login } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const { from } = (location.state ?? {}) as LoginState;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // The failure itself is kept, so its message follows a language switch.
  const [error, setError] = useState<{ err: unknown; at: number } | null>(null);
  const [pending, setPending] = useState(false);
  const [via, setVia] = useState(LOCAL_LOGIN_URL);
  const providers = useQuery({ queryKey: ['v1', 'auth', 'providers'], queryFn: ({ signal }) => listAuthProviders(signal), staleTime: 60_000, retry: false });
  const redirects = (providers.data ?? []).filter((p) => p.type !== 'LDAP');
  const directories = (providers.data ?? []).filter((p) => p.type === 'LDAP');
  useTitle(t('Log in'));

  if (state.status === 'loading') return <Loading fullPage />;
  if (state.status === 'authenticated' && !pending) return <Navigate to={safeReturnPath(from)} replace />;
  const reason = state.status === 'anonymous' ? state.reason : 'none';

  const errorText = (err: unknown): string => {
    if (!(err instanceof ApiError)) return t('Something went wrong. Try again.');
    switch (err.code) {
      case 'InvalidCredentials':
        return t('The user name or password is wrong.');
      case 'TooManyRequests': {
        const wait = err.retryAfterSeconds ?? 60;
        const at = new Date((error?.at ?? Date.now()) + wait * 1000).toLocaleTimeString(i18n.language, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
        return t('Too many failed attempts. You can try again at {{time}}.', { time: at });
      }
      case 'UserDisabled':
        return t('This account is disabled. Ask an administrator to enable it.');
      case 'NetworkError':
        return t('Cannot reach the bokujo server. Check your connection and try again.');
      default:
        return t('Login failed: {{message}}', { message: err.message });
    }
  };

  const onSubmit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setError(null);
    setPending(true);
    try {
      await login(username.trim(), password, via);
      navigate(safeReturnPath(from), { replace: true });
    } catch (err) {
      setError({ err, at: Date.now() });
      setPassword('');
    } finally {
      setPending(false);
    }
  };

  return (
    <div className="login-page">
      <main className="login-card" aria-labelledby="login-title">
        <div className="login-brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width="40" height="40" />
          <span>bokujo</span>
        </div>
        <h1 id="login-title">{t('Log in to bokujo')}</h1>
        {reason !== 'none' && !error && (
          <p className="notice" role="status">
            {reason === 'ended' ? t('Your session has ended. Log in again to continue.') : t('You have logged out.')}
          </p>
        )}
        {error && (
          <p className="error-text" role="alert">
            {errorText(error.err)}
          </p>
        )}
        {redirects.length > 0 && (
          <div className="provider-buttons">
            {redirects.map((p) => (
              // A full navigation: the provider's site takes over, then
              // sends the browser back with a session.
              <a key={p.name} className="button provider" href={p.loginURL}>
                {t('Log in with {{provider}}', { provider: p.displayName })}
              </a>
            ))}
            <p className="or">{t('or with a password')}</p>
          </div>
        )}
        <form onSubmit={onSubmit}>
          {directories.length > 0 && (
            <>
              <label htmlFor="login-via">{t('Account')}</label>
              <select id="login-via" value={via} onChange={(e) => setVia(e.target.value)}>
                <option value={LOCAL_LOGIN_URL}>{t('bokujo account')}</option>
                {directories.map((p) => (
                  <option key={p.name} value={p.loginURL}>
                    {p.displayName}
                  </option>
                ))}
              </select>
            </>
          )}
          <label htmlFor="login-username">{t('User name')}</label>
          <input
            id="login-username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            required
            autoFocus
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
          <label htmlFor="login-password">{t('Password')}</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <button type="submit" className="button primary" disabled={pending}>
            {pending ? t('Logging in…') : t('Log in')}
          </button>
        </form>
        <p className="hint">{t('Local accounts are created by your bokujo administrator.')}</p>
      </main>
      <footer className="login-footer">
        <LanguageSwitch />
      </footer>
    </div>
  );
}
