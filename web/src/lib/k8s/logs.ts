// A container's log through the proxy, as kubectl logs reads it: a
// snapshot, or a stream that stays open (follow) and delivers lines as the
// container writes them.
import { stream } from '../api';
import { clusterPath } from './resource';
import { LineSplitter } from './watch';

export interface LogOptions {
  container: string;
  previous?: boolean;
  follow?: boolean;
  /** Lines from the end to start with; all when undefined. */
  tailLines?: number;
  timestamps?: boolean;
}

export function logPath(cluster: string, namespace: string, pod: string, opts: LogOptions): string {
  const q = new URLSearchParams({ container: opts.container });
  if (opts.previous) q.set('previous', 'true');
  if (opts.follow) q.set('follow', 'true');
  if (opts.tailLines !== undefined) q.set('tailLines', String(opts.tailLines));
  if (opts.timestamps) q.set('timestamps', 'true');
  return clusterPath(cluster, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`) + '?' + q.toString();
}

/**
 * LogBuffer keeps the last max lines of a log: a container that writes
 * for days must not fill the tab's memory.
 */
export class LogBuffer {
  private lines: string[] = [];
  dropped = 0;
  constructor(readonly max: number) {}

  push(lines: string[]): void {
    this.lines.push(...lines);
    const over = this.lines.length - this.max;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
  }

  get all(): readonly string[] {
    return this.lines;
  }
}

/**
 * readLog streams a log into onLines until it ends or signal aborts; a
 * last line without a newline is delivered at the end.
 */
export async function readLog(path: string, signal: AbortSignal, onLines: (lines: string[]) => void): Promise<void> {
  const body = await stream(path, signal);
  const reader = body.getReader();
  const split = new LineSplitter({ keepEmpty: true });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const lines = split.push(value);
    if (lines.length) onLines(lines);
  }
  const rest = split.flush();
  if (rest !== '') onLines([rest]);
}
