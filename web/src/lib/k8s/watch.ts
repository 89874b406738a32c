// Live lists: list once, then watch from the list's resourceVersion, as
// client-go's informers do. The watch is a stream of newline-delimited JSON
// events; when the server has compacted past our resourceVersion it says
// 410 Gone (as an HTTP status or an ERROR event) and the list starts over.
// No polling: a quiet namespace costs one open request.
import { useEffect, useState } from 'react';
import { ApiError, stream } from '../api';
import { clusterPath, isTable, list, resourcePath, TABLE_ACCEPT, TableReader, type KubeList, type KubeObject, type ResourceKind } from './resource';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KubeObject> {
  type: WatchEventType;
  object: T | WatchStatus;
}

/** WatchStatus is the object of an ERROR event. */
export interface WatchStatus {
  kind?: 'Status';
  code?: number;
  reason?: string;
  message?: string;
  metadata?: { resourceVersion?: string };
}

/** WatchState is what a live list holds between events. */
export interface WatchState<T extends KubeObject> {
  /** Objects by namespace/name. */
  items: ReadonlyMap<string, T>;
  resourceVersion: string;
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function fromList<T extends KubeObject>(l: KubeList<T>): WatchState<T> {
  return { items: new Map(l.items.map((o) => [objectKey(o), o])), resourceVersion: l.metadata.resourceVersion ?? '' };
}

/** GoneError says the watch must start over from a new list. */
export class GoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoneError';
  }
}

/**
 * applyEvents folds a batch of events into the state, returning a new
 * state (the old one is left alone, so React sees a change). An ERROR
 * event throws: GoneError for 410, an ApiError for anything else.
 */
export function applyEvents<T extends KubeObject>(state: WatchState<T>, events: WatchEvent<T>[]): WatchState<T> {
  if (events.length === 0) return state;
  const items = new Map(state.items);
  let resourceVersion = state.resourceVersion;
  for (const ev of events) {
    if (ev.type === 'ERROR') {
      const s = ev.object as WatchStatus;
      if (s.code === 410) throw new GoneError(s.message ?? 'resource version too old');
      throw new ApiError(s.code ?? 500, s.reason ?? 'WatchError', s.message ?? 'the watch failed');
    }
    const obj = ev.object as T;
    resourceVersion = obj.metadata?.resourceVersion || resourceVersion;
    // A bookmark only moves the resourceVersion on.
    if (ev.type === 'BOOKMARK') continue;
    if (ev.type === 'DELETED') items.delete(objectKey(obj));
    else items.set(objectKey(obj), obj);
  }
  return { items, resourceVersion };
}

/**
 * tableEvents unpacks the events of a Table watch (metadata-only kinds):
 * each event's object is a Table whose rows are the changed objects; a
 * Table without rows only moves the resourceVersion on (a bookmark). An
 * event whose object is neither a Table nor a Status is refused, since it
 * could carry a whole object the UI must not hold.
 */
export function tableEvents<T extends KubeObject>(reader: TableReader, events: WatchEvent<T>[]): WatchEvent<T>[] {
  const out: WatchEvent<T>[] = [];
  for (const ev of events) {
    const o: unknown = ev.object;
    if (ev.type === 'ERROR') {
      out.push(ev);
    } else if (isTable(o)) {
      const rows = reader.rows<T>(o);
      for (const r of rows) out.push({ type: ev.type, object: r });
      if (rows.length === 0 && o.metadata?.resourceVersion) out.push({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: o.metadata.resourceVersion } } as T });
    } else if (ev.type === 'BOOKMARK') {
      const rv = (o as KubeObject | undefined)?.metadata?.resourceVersion;
      if (rv) out.push({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: rv } } as T });
    } else {
      throw new ApiError(500, 'NotATable', 'the watch sent a whole object where a Table of metadata was asked for');
    }
  }
  return out;
}

/**
 * LineSplitter turns chunks of a stream into complete lines; a line split
 * across two chunks is held until its end arrives.
 */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder();
  /** Blank lines are dropped (watch events) unless kept (logs). */
  private readonly keepEmpty: boolean;

  constructor(opts: { keepEmpty?: boolean } = {}) {
    this.keepEmpty = opts.keepEmpty ?? false;
  }

  push(chunk: Uint8Array): string[] {
    this.rest += this.decoder.decode(chunk, { stream: true });
    const lines = this.rest.split('\n');
    this.rest = lines.pop() ?? '';
    return this.keepEmpty ? lines.map((l) => l.replace(/\r$/, '')) : lines.filter((l) => l.trim() !== '');
  }

  /** flush returns what is left after the stream ended: a last line without its newline. */
  flush(): string {
    this.rest += this.decoder.decode();
    const rest = this.rest;
    this.rest = '';
    return rest;
  }
}

export function watchPath(cluster: string, kind: ResourceKind, namespace: string | undefined, resourceVersion: string, fieldSelector = '', labelSelector = ''): string {
  const q = new URLSearchParams({ watch: '1', allowWatchBookmarks: 'true', resourceVersion });
  if (kind.metadataOnly) q.set('includeObject', 'Metadata');
  if (fieldSelector) q.set('fieldSelector', fieldSelector);
  if (labelSelector) q.set('labelSelector', labelSelector);
  return clusterPath(cluster, resourcePath(kind, { namespace })) + '?' + q.toString();
}

const MAX_BACKOFF_MS = 30_000;
/**
 * The first list page is small, so a namespace of 30,000 pods shows its
 * first rows at once (as client-go's pager pages); the rest come in larger
 * pages, fewer round trips.
 */
export const FIRST_PAGE = 500;
export const NEXT_PAGES = 5000;

/**
 * listInPages lists in pages and tells onState after the first page and
 * each time the count has doubled since it last told (then at the end):
 * the first rows show early, and re-rendering a growing table costs
 * O(n log n) overall, not a render per page. Every page is of the same
 * snapshot, so the watch starts from the whole list's resourceVersion.
 */
async function listInPages<T extends KubeObject>(
  cluster: string,
  kind: ResourceKind,
  namespace: string | undefined,
  fieldSelector: string,
  labelSelector: string,
  signal: AbortSignal,
  onState: (s: WatchState<T>) => void,
  reader?: TableReader,
): Promise<WatchState<T>> {
  const items = new Map<string, T>();
  let token = '';
  let told = 0;
  for (;;) {
    const page = await list<T>(cluster, kind, { namespace, signal, fieldSelector, labelSelector, limit: token ? NEXT_PAGES : FIRST_PAGE, continue: token || undefined }, reader);
    for (const o of page.items) items.set(objectKey(o), o);
    token = page.metadata.continue ?? '';
    const state: WatchState<T> = { items: new Map(items), resourceVersion: page.metadata.resourceVersion ?? '' };
    if (!token) {
      onState(state);
      return state;
    }
    if (told === 0 || items.size >= 2 * told) {
      onState(state);
      told = items.size;
    }
  }
}

/** A watch that ends this soon without an event counts as a failure. */
const QUICK_END_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * runWatch keeps onState up to date until signal aborts: list, watch,
 * re-list on 410, resume from the last resourceVersion when the server
 * ends the stream, back off after failures. A refusal (401/403/404) is
 * final: retrying cannot change the answer.
 */
export async function runWatch<T extends KubeObject>(
  cluster: string,
  kind: ResourceKind,
  namespace: string | undefined,
  signal: AbortSignal,
  onState: (s: WatchState<T>) => void,
  onError: (err: unknown) => void,
  fieldSelector = '',
  labelSelector = '',
): Promise<void> {
  let backoff = 1000;
  while (!signal.aborted) {
    try {
      const tables = kind.metadataOnly ? new TableReader(kind) : undefined;
      let state = await listInPages<T>(cluster, kind, namespace, fieldSelector, labelSelector, signal, onState, tables);
      while (!signal.aborted) {
        const started = Date.now();
        const body = await stream(watchPath(cluster, kind, namespace, state.resourceVersion, fieldSelector, labelSelector), signal, tables ? TABLE_ACCEPT : undefined);
        const reader = body.getReader();
        const lines = new LineSplitter();
        let events = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const parsed = lines.push(value).map((l) => JSON.parse(l) as WatchEvent<T>);
          const batch = tables ? tableEvents(tables, parsed) : parsed;
          events += batch.length;
          const next = applyEvents(state, batch);
          if (next !== state) {
            state = next;
            onState(state);
          }
          backoff = 1000;
        }
        // The server ended the watch (its timeout): resume where we were,
        // but not in a tight loop when something ends every watch at once.
        if (events === 0 && Date.now() - started < QUICK_END_MS) {
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof GoneError || (err instanceof ApiError && err.status === 410)) continue;
      onError(err);
      if (err instanceof ApiError && [401, 403, 404].includes(err.status)) return;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

export interface LiveList<T extends KubeObject> {
  /** undefined until the first list has arrived. */
  items: T[] | undefined;
  /** The last failure; cleared by the next successful list or event. */
  error: unknown;
}

/**
 * useWatchList is a live list of kind in a namespace (all when undefined),
 * narrowed by fieldSelector (metadata.name=x for one object) and
 * labelSelector (a workload's pods).
 */
export function useWatchList<T extends KubeObject>(cluster: string, kind: ResourceKind, namespace: string | undefined, enabled = true, fieldSelector = '', labelSelector = ''): LiveList<T> {
  const [live, setLive] = useState<LiveList<T>>({ items: undefined, error: undefined });
  useEffect(() => {
    setLive({ items: undefined, error: undefined });
    if (!enabled) return;
    const ctl = new AbortController();
    void runWatch<T>(
      cluster,
      kind,
      namespace,
      ctl.signal,
      (s) => setLive({ items: [...s.items.values()], error: undefined }),
      (error) => setLive((prev) => ({ ...prev, error })),
      fieldSelector,
      labelSelector,
    );
    return () => ctl.abort();
  }, [cluster, kind, namespace, enabled, fieldSelector, labelSelector]);
  return live;
}
