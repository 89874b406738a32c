// The logged-in user, shared by every page. The session itself is an
// HttpOnly cookie; this only mirrors who it belongs to.
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import * as api from './api';

export type SessionState =
  | { status: 'loading' }
  // reason tells the login page what to say: nothing on a first visit,
  // that the session ended, or that the user logged out.
  | { status: 'anonymous'; reason: 'none' | 'ended' | 'loggedOut' }
  | { status: 'authenticated'; me: api.Me };

export interface Session {
  state: SessionState;
  /** login with a password; via is an LDAP provider's login URL, else a local account. */
  login(username: string, password: string, via?: string): Promise<void>;
  logout(): Promise<void>;
  /** refresh reads the user again (after a password change). */
  refresh(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  useEffect(() => {
    const ctrl = new AbortController();
    api
      .getMe(ctrl.signal)
      .then((me) => setState(me ? { status: 'authenticated', me } : { status: 'anonymous', reason: 'none' }))
      .catch((err: unknown) => {
        if (err instanceof DOMException && err.name === 'AbortError') return;
        // The server is unreachable or failing: the login page says so
        // when the user tries, which beats a blank page.
        setState({ status: 'anonymous', reason: 'none' });
      });
    return () => ctrl.abort();
  }, []);

  useEffect(() => {
    // A 401 on any request means the session ended (expired, revoked, or
    // logged out in another tab). Cached data belonged to it: drop it.
    api.setUnauthorizedHandler(() => {
      api.setCsrfToken('');
      queryClient.clear();
      setState((prev) => (prev.status === 'anonymous' ? prev : { status: 'anonymous', reason: 'ended' }));
    });
    return () => api.setUnauthorizedHandler(null);
  }, [queryClient]);

  const login = useCallback(
    async (username: string, password: string, via?: string) => {
      await api.login(username, password, via);
      queryClient.clear();
      const me = await api.getMe();
      if (!me) throw new api.ApiError(401, 'Unauthorized', 'the new session was not accepted');
      setState({ status: 'authenticated', me });
    },
    [queryClient],
  );

  // A failed logout throws and keeps the state: the session may still be
  // valid, and the user must not walk away believing it ended.
  const logout = useCallback(async () => {
    await api.logout();
    queryClient.clear();
    setState({ status: 'anonymous', reason: 'loggedOut' });
  }, [queryClient]);

  const refresh = useCallback(async () => {
    const me = await api.getMe();
    setState(me ? { status: 'authenticated', me } : { status: 'anonymous', reason: 'ended' });
  }, []);

  const value = useMemo(() => ({ state, login, logout, refresh }), [state, login, logout, refresh]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** useMe is the logged-in user; only for pages behind RequireAuth. */
export function useMe(): api.Me {
  const { state } = useSession();
  if (state.status !== 'authenticated') throw new Error('useMe without a session');
  return state.me;
}
