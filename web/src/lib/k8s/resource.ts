// Typed access to the Kubernetes APIs of a cluster through bokujo's proxy,
// /k8s/clusters/{cluster}/…, with the user's session. The proxy
// impersonates the user, so every answer is what the user may see, and
// errors are Kubernetes Status objects (see ApiError.code for the reason).
import { request, type RequestOptions } from '../api';

/** ResourceKind says where a kind lives in the Kubernetes API. */
export interface ResourceKind {
  kind: string;
  /** API group; "" for the core group (/api/v1). */
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. "nodes". */
  plural: string;
  namespaced: boolean;
  /**
   * Lists and watches of this kind ask for a server-side Table with only
   * each object's metadata (includeObject=Metadata), never the objects:
   * a Secret's values must not reach the browser unless the user reveals
   * one.
   */
  metadataOnly?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T extends KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

const PROXY_PREFIX = '/k8s/clusters/';

/** clusterPath is the proxy URL of path (which starts with "/") in cluster. */
export function clusterPath(cluster: string, path: string): string {
  if (cluster === '') throw new Error('cluster name is empty');
  if (!path.startsWith('/')) throw new Error(`path ${path} must start with /`);
  return PROXY_PREFIX + encodeURIComponent(cluster) + path;
}

export interface Locator {
  namespace?: string;
  name?: string;
}

/** resourcePath is the API path of a kind, a namespace's objects or one object. */
export function resourcePath(kind: ResourceKind, at: Locator = {}): string {
  let path = kind.group === '' ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  if (kind.namespaced && at.namespace) {
    path += `/namespaces/${encodeURIComponent(at.namespace)}`;
  } else if (!kind.namespaced && at.namespace) {
    throw new Error(`${kind.kind} is not namespaced`);
  }
  path += `/${kind.plural}`;
  if (at.name) path += `/${encodeURIComponent(at.name)}`;
  return path;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  /** The continue token of the previous page. */
  continue?: string;
  signal?: AbortSignal;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** TABLE_ACCEPT asks the apiserver for a meta.k8s.io Table instead of the objects. */
export const TABLE_ACCEPT = 'application/json;as=Table;g=meta.k8s.io;v=v1, application/json;as=Table;g=meta.k8s.io;v=v1beta1';

interface TableColumn {
  name: string;
}

interface TableRow {
  cells: unknown[];
  object?: { metadata?: ObjectMeta };
}

/** Table is a meta.k8s.io Table answer (a list, or one watch event's object). */
export interface Table {
  kind: 'Table';
  metadata?: { resourceVersion?: string; continue?: string };
  columnDefinitions?: TableColumn[];
  rows?: TableRow[];
}

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Table';
}

/**
 * TableReader turns Table rows into objects that carry only metadata plus
 * the Table's columns by name (a Secret's "Type" as type, "Data" as
 * dataCount). Watch events may leave the column definitions out; the
 * reader keeps the last ones it saw.
 */
export class TableReader {
  private columns: string[] = [];

  constructor(private readonly kind: ResourceKind) {}

  rows<T extends KubeObject>(table: Table): T[] {
    if (table.columnDefinitions?.length) this.columns = table.columnDefinitions.map((c) => c.name);
    const at = (row: TableRow, name: string) => {
      const i = this.columns.indexOf(name);
      return i < 0 ? undefined : row.cells[i];
    };
    return (table.rows ?? [])
      .filter((r) => r.object?.metadata?.name)
      .map((r) => {
        const metadata = { ...r.object!.metadata! };
        // kubectl apply's annotation repeats the whole object, a Secret's
        // values included: it is dropped on arrival, never kept or shown.
        if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
          const { [LAST_APPLIED]: _dropped, ...rest } = metadata.annotations;
          void _dropped;
          metadata.annotations = rest;
        }
        const o: Record<string, unknown> = {
          apiVersion: this.kind.group === '' ? this.kind.version : `${this.kind.group}/${this.kind.version}`,
          kind: this.kind.kind,
          metadata,
        };
        const type = at(r, 'Type');
        if (typeof type === 'string') o.type = type;
        const data = at(r, 'Data');
        if (typeof data === 'number') o.dataCount = data;
        return o as unknown as T;
      });
  }
}

/** list reads the objects of a kind in a cluster (one namespace or all). */
export async function list<T extends KubeObject>(cluster: string, kind: ResourceKind, opts: ListOptions = {}, reader?: TableReader): Promise<KubeList<T>> {
  const query = new URLSearchParams();
  if (kind.metadataOnly) query.set('includeObject', 'Metadata');
  if (opts.labelSelector) query.set('labelSelector', opts.labelSelector);
  if (opts.fieldSelector) query.set('fieldSelector', opts.fieldSelector);
  if (opts.limit) query.set('limit', String(opts.limit));
  if (opts.continue) query.set('continue', opts.continue);
  const qs = query.toString();
  const path = resourcePath(kind, { namespace: opts.namespace }) + (qs ? `?${qs}` : '');
  if (!kind.metadataOnly) return request<KubeList<T>>(clusterPath(cluster, path), { signal: opts.signal });
  const table = await request<unknown>(clusterPath(cluster, path), { signal: opts.signal, accept: TABLE_ACCEPT });
  // Anything but a Table could carry the objects themselves: refuse it.
  if (!isTable(table)) throw new Error(`the cluster did not answer ${kind.plural} as a Table of metadata; refusing to read the objects`);
  return { metadata: table.metadata ?? {}, items: (reader ?? new TableReader(kind)).rows<T>(table) };
}

/** get reads one object. */
export function get<T extends KubeObject>(cluster: string, kind: ResourceKind, at: Locator & { name: string }, opts: Pick<RequestOptions, 'signal'> = {}): Promise<T> {
  return request<T>(clusterPath(cluster, resourcePath(kind, at)), opts);
}
