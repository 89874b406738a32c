// The terminal panel: xterm.js over the /v1/terminal WebSocket. At the
// prompt, LineEditor edits the line locally; while a command runs, every
// key goes to it (its own pseudo-terminal on the server does the echo, so
// Ctrl-C, Ctrl-D and full-screen shells work as on a laptop).
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { getCsrfToken } from '../../lib/api';
import { useClusters } from '../../lib/queries';
import { completeLine, installStyleShim, LineEditor, terminalURL, type TerminalMessage } from '../../lib/terminal';
import type { TerminalTarget } from './TerminalContext';

type Status = 'connecting' | 'ready' | 'running' | 'closed';

const HISTORY_KEY = 'bokujo.terminal.history';

function loadHistory(): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

const red = (s: string) => `\x1b[31m${s}\x1b[0m`;
const dim = (s: string) => `\x1b[2m${s}\x1b[0m`;

export function TerminalPanel({ target: initial, onClose }: { target: TerminalTarget; onClose: () => void }) {
  const { t } = useTranslation();
  const screenRef = useRef<HTMLDivElement>(null);
  const [target, setTarget] = useState(initial);
  const clusters = useClusters();
  const firstCluster = clusters.data?.[0]?.name;
  const cluster = target.cluster ?? firstCluster;
  const [status, setStatus] = useState<Status>('connecting');
  const [context, setContext] = useState({ cluster: cluster ?? '', namespace: target.namespace ?? '' });
  const [names, setNames] = useState<string[]>([]);
  const [closedReason, setClosedReason] = useState('');
  const [nsDraft, setNsDraft] = useState(target.namespace ?? '');
  const sendRef = useRef<(m: TerminalMessage) => void>(() => {});
  const [conn, setConn] = useState(0);

  useEffect(() => {
    const el = screenRef.current;
    if (!el || !cluster) return;
    const uninstall = installStyleShim();
    const term = new Terminal({
      cursorBlink: true,
      convertEol: false,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      fontSize: 13,
      scrollback: 5000,
      theme: { background: '#1d2021', foreground: '#e8e6e3' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    // The size the remote side sees, for the curious and for the e2e test.
    const showSize = () => {
      el.dataset.cols = String(term.cols);
      el.dataset.rows = String(term.rows);
    };
    fit.fit();
    showSize();
    term.focus();

    const editor = new LineEditor(loadHistory());
    let state: Status = 'connecting';
    let ctx = { cluster, namespace: target.namespace ?? '' };
    let pendingCommand = target.command;
    let completionID = 0;
    const setState = (s: Status) => {
      state = s;
      setStatus(s);
    };
    const prompt = () => `\x1b[32m${ctx.cluster}\x1b[0m:\x1b[34m${ctx.namespace || 'default'}\x1b[0m$ `;
    const drawLine = () => {
      const back = editor.line.length - editor.cursor;
      term.write(`\r\x1b[K${prompt()}${editor.line}${back > 0 ? `\x1b[${back}D` : ''}`);
    };

    const ws = new WebSocket(terminalURL(window.location, cluster, target.namespace ?? '', getCsrfToken()));
    ws.binaryType = 'arraybuffer';
    const send = (m: TerminalMessage) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
    };
    sendRef.current = send;
    const run = (line: string) => {
      term.write('\r\n');
      if (line.trim() === '') {
        drawLine();
        return;
      }
      sessionStorage.setItem(HISTORY_KEY, JSON.stringify(editor.entries));
      setState('running');
      send({ type: 'run', line, cols: term.cols, rows: term.rows });
    };

    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') {
        term.write(new Uint8Array(ev.data));
        return;
      }
      const m = JSON.parse(ev.data) as TerminalMessage;
      switch (m.type) {
        case 'ready':
          setNames(m.clusters ?? []);
          ctx = { cluster: m.cluster ?? ctx.cluster, namespace: m.namespace ?? '' };
          setContext(ctx);
          term.writeln(dim(t('kubectl as {{user}}. Tab completes, Up and Down recall commands, Ctrl-C stops a command.', { user: m.user ?? '' })));
          setState('ready');
          if (pendingCommand) {
            editor.setLine(pendingCommand);
            drawLine();
            const line = pendingCommand;
            pendingCommand = undefined;
            editor.feed('\r');
            run(line);
          } else {
            drawLine();
          }
          break;
        case 'exit':
          setState('ready');
          // Once the output before is parsed: output without a final
          // newline keeps its line, the prompt starts on the next.
          term.write('', () => {
            if (term.buffer.active.cursorX !== 0) term.write('\r\n');
            if (m.message) term.writeln(red(m.message));
            else if (m.code) term.writeln(dim(`[exit ${m.code}]`));
            drawLine();
          });
          break;
        case 'refused':
          term.writeln(red(`${t('Refused')} (${m.rule ?? ''}): ${m.message ?? ''}`));
          setState('ready');
          drawLine();
          break;
        case 'error':
          term.writeln(red(m.message ?? ''));
          if (state === 'running') break;
          setState('ready');
          drawLine();
          break;
        case 'context':
          ctx = { cluster: m.cluster ?? ctx.cluster, namespace: m.namespace ?? '' };
          setContext(ctx);
          setNsDraft(ctx.namespace);
          if (state !== 'running') drawLine();
          break;
        case 'completions': {
          if (m.id !== completionID || state !== 'ready') break;
          const before = editor.line.slice(0, editor.cursor);
          const { insert, list } = completeLine(before, m.items ?? []);
          if (list) {
            term.write(`\r\n${(m.items ?? []).join('  ')}\r\n`);
          }
          editor.insert(insert);
          drawLine();
          break;
        }
      }
    };
    ws.onclose = (ev) => {
      setState('closed');
      setClosedReason(ev.reason);
      term.writeln(`\r\n${red(ev.reason || t('The terminal is disconnected.'))}`);
    };

    const onData = term.onData((data) => {
      if (state === 'running') {
        send({ type: 'input', data });
        return;
      }
      if (state !== 'ready') return;
      for (const a of editor.feed(data)) {
        switch (a.kind) {
          case 'redraw':
            drawLine();
            break;
          case 'submit':
            run(a.line);
            break;
          case 'complete':
            completionID++;
            send({ type: 'complete', line: a.line, id: completionID });
            break;
          case 'cancel':
            term.write('^C\r\n');
            drawLine();
            break;
          case 'clear':
            term.clear();
            drawLine();
            break;
        }
      }
    });
    const onResize = term.onResize(({ cols, rows }) => {
      showSize();
      send({ type: 'resize', cols, rows });
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(el);
    return () => {
      observer.disconnect();
      onData.dispose();
      onResize.dispose();
      ws.onclose = null;
      ws.close();
      term.dispose();
      uninstall();
    };
    // One session per target and per reconnect; namespace switches travel
    // as messages. t is stable.
  }, [cluster, conn, target]);

  const switchContext = (next: { cluster: string; namespace: string }) => {
    if (next.cluster !== context.cluster) {
      // Another cluster is another session, with that cluster's grants.
      setTarget({ cluster: next.cluster, namespace: next.namespace });
      setContext(next);
      setNsDraft(next.namespace);
      return;
    }
    sendRef.current({ type: 'context', cluster: next.cluster, namespace: next.namespace });
  };

  const statusText: Record<Status, string> = {
    connecting: t('Connecting…'),
    ready: t('Connected'),
    running: t('Running'),
    closed: t('Disconnected'),
  };

  return (
    <section className="terminal-panel" aria-label={t('Terminal')}>
      <div className="terminal-toolbar">
        <strong>{t('Terminal')}</strong>
        <label>
          {t('glossary|Cluster')}
          <select
            value={context.cluster}
            disabled={status === 'running' || names.length === 0}
            onChange={(e) => switchContext({ cluster: e.target.value, namespace: '' })}
          >
            {(names.length ? names : [context.cluster]).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <form
          className="terminal-ns"
          onSubmit={(e) => {
            e.preventDefault();
            switchContext({ cluster: context.cluster, namespace: nsDraft.trim() });
          }}
        >
          <label>
            {t('glossary|Namespace')}
            <input value={nsDraft} placeholder="default" onChange={(e) => setNsDraft(e.target.value)} disabled={status !== 'ready'} spellCheck={false} />
          </label>
          <button type="submit" className="button small" disabled={status !== 'ready'}>
            {t('Switch')}
          </button>
        </form>
        <span role="status" className="terminal-status" title={closedReason || undefined}>
          {statusText[status]}
        </span>
        {status === 'closed' && (
          <button type="button" className="button small" onClick={() => setConn((c) => c + 1)}>
            {t('Reconnect')}
          </button>
        )}
        <button type="button" className="button small" onClick={onClose} aria-label={t('Close the terminal')}>
          ×
        </button>
      </div>
      {!cluster && clusters.isSuccess ? (
        <p className="terminal-empty">{t('You have no cluster to run kubectl in.')}</p>
      ) : (
        <div className="terminal-screen" ref={screenRef} role="application" aria-label={t('Terminal screen')} />
      )}
    </section>
  );
}
