// Opens and closes the web terminal from anywhere: the header button, a
// cluster page, a pod's Exec button, or the global shortcut Ctrl+`.
import { createContext, lazy, Suspense, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { Loading } from '../common/Loading';

// xterm.js is most of the terminal's weight: it loads when first opened.
const TerminalPanel = lazy(() => import('./TerminalPanel').then((m) => ({ default: m.TerminalPanel })));

export interface TerminalTarget {
  cluster?: string;
  namespace?: string;
  /** A command line to run as soon as the terminal is ready. */
  command?: string;
}

interface TerminalState {
  open: boolean;
  /** seq changes with every explicit open, so a new target reconnects. */
  seq: number;
  target: TerminalTarget;
}

interface TerminalControl {
  open: boolean;
  openTerminal(target?: TerminalTarget): void;
  toggle(): void;
  close(): void;
}

const Ctx = createContext<TerminalControl | null>(null);

/** contextFromPath is the cluster and namespace a page is about. */
export function contextFromPath(pathname: string, search: string): TerminalTarget {
  const m = /^\/clusters\/([^/]+)(?:\/namespaces\/([^/]+))?/.exec(pathname);
  if (!m) return {};
  const namespace = m[2] ?? new URLSearchParams(search).get('namespace') ?? undefined;
  return { cluster: decodeURIComponent(m[1] ?? ''), namespace: namespace ? decodeURIComponent(namespace) : undefined };
}

export function TerminalProvider({ children }: { children: ReactNode }) {
  const { pathname, search } = useLocation();
  const [state, setState] = useState<TerminalState>({ open: false, seq: 0, target: {} });
  const here = useMemo(() => contextFromPath(pathname, search), [pathname, search]);

  const openTerminal = useCallback(
    (target?: TerminalTarget) => setState((s) => ({ open: true, seq: s.seq + 1, target: { ...here, ...target } })),
    [here],
  );
  const close = useCallback(() => setState((s) => ({ ...s, open: false })), []);
  const toggle = useCallback(
    () => setState((s) => (s.open ? { ...s, open: false } : { open: true, seq: s.seq + 1, target: here })),
    [here],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey && !e.altKey && !e.metaKey && e.code === 'Backquote') {
        e.preventDefault();
        toggle();
      }
    };
    // Capture: xterm stops the keys it handles from bubbling.
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [toggle]);

  const value = useMemo(() => ({ open: state.open, openTerminal, toggle, close }), [state.open, openTerminal, toggle, close]);
  return (
    <Ctx.Provider value={value}>
      {children}
      {state.open && (
        <Suspense fallback={<Loading />}>
          <TerminalPanel key={state.seq} target={state.target} onClose={close} />
        </Suspense>
      )}
    </Ctx.Provider>
  );
}

export function useTerminal(): TerminalControl {
  const c = useContext(Ctx);
  if (!c) throw new Error('useTerminal outside TerminalProvider');
  return c;
}
