import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { LogBuffer, logPath, readLog } from '../../lib/k8s/logs';
import { ErrorMessage } from '../common/ErrorMessage';

/** How many lines the view keeps; older ones are dropped (download has them all). */
export const MAX_LINES = 5000;
/** Lines from the end shown when the view opens. */
export const TAIL_LINES = 500;

type State = 'loading' | 'streaming' | 'ended' | 'failed';

/**
 * PodLogs shows a container's log: followed live by default, the
 * previous container's on request, the whole log as a download.
 */
export function PodLogs({ cluster, namespace, pod, containers }: { cluster: string; namespace: string; pod: string; containers: string[] }) {
  const { t } = useTranslation();
  const [container, setContainer] = useState(containers[0] ?? '');
  const [previous, setPrevious] = useState(false);
  const [follow, setFollow] = useState(true);
  const [attempt, setAttempt] = useState(0);
  const [view, setView] = useState<{ lines: readonly string[]; dropped: number; state: State; error?: unknown }>({ lines: [], dropped: 0, state: 'loading' });
  const pre = useRef<HTMLPreElement>(null);
  const ids = { container: useId(), previous: useId(), follow: useId() };

  useEffect(() => {
    if (!container) return;
    const ctl = new AbortController();
    const buf = new LogBuffer(MAX_LINES);
    setView({ lines: [], dropped: 0, state: 'loading' });
    const path = logPath(cluster, namespace, pod, { container, previous, follow: follow && !previous, tailLines: TAIL_LINES });
    readLog(path, ctl.signal, (lines) => {
      buf.push(lines);
      setView({ lines: [...buf.all], dropped: buf.dropped, state: 'streaming' });
    }).then(
      () => !ctl.signal.aborted && setView({ lines: [...buf.all], dropped: buf.dropped, state: 'ended' }),
      (error) => !ctl.signal.aborted && setView({ lines: [...buf.all], dropped: buf.dropped, state: 'failed', error }),
    );
    return () => ctl.abort();
  }, [cluster, namespace, pod, container, previous, follow, attempt]);

  useEffect(() => {
    const el = pre.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [view.lines, follow]);

  const download = logPath(cluster, namespace, pod, { container, previous });
  const status =
    view.state === 'loading'
      ? t('Loading…')
      : view.state === 'failed'
        ? ''
        : follow && !previous && view.state === 'streaming'
          ? t('Following the log live.')
          : t('Showing the last {{count}} lines.', { count: TAIL_LINES });
  return (
    <section className="section" aria-labelledby="logs-title">
      <div className="section-header">
        <h2 id="logs-title">{t('Logs')}</h2>
        <div className="log-controls">
          {containers.length > 1 && (
            <>
              <label htmlFor={ids.container}>{t('Container')}</label>
              <select id={ids.container} value={container} onChange={(e) => setContainer(e.target.value)}>
                {containers.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </>
          )}
          <label className="check">
            <input id={ids.follow} type="checkbox" checked={follow} disabled={previous} onChange={(e) => setFollow(e.target.checked)} />
            {t('Follow')}
          </label>
          <label className="check">
            <input id={ids.previous} type="checkbox" checked={previous} onChange={(e) => setPrevious(e.target.checked)} />
            {t('Previous container')}
          </label>
          <a className="button small" href={download} download={`${pod}-${container}${previous ? '-previous' : ''}.log`}>
            {t('Download')}
          </a>
        </div>
      </div>
      <p className="muted" role="status">
        {status}
        {view.dropped > 0 && ` ${t('{{count}} older lines are not shown; download the log to read them.', { count: view.dropped })}`}
      </p>
      {view.state === 'failed' && (
        <ErrorMessage
          title={previous ? t('Could not read the previous container’s log.') : t('Could not read the log.')}
          error={view.error}
          onRetry={() => setAttempt((n) => n + 1)}
        />
      )}
      <pre ref={pre} className="log-view" aria-label={t('Log of {{container}}', { container })} tabIndex={0}>
        {view.lines.length === 0 && view.state !== 'loading' && view.state !== 'failed' ? t('The log is empty.') : view.lines.join('\n')}
      </pre>
    </section>
  );
}
