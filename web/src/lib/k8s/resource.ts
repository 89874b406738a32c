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

/** list reads the objects of a kind in a cluster (one namespace or all). */
export function list<T extends KubeObject>(cluster: string, kind: ResourceKind, opts: ListOptions = {}): Promise<KubeList<T>> {
  const query = new URLSearchParams();
  if (opts.labelSelector) query.set('labelSelector', opts.labelSelector);
  if (opts.fieldSelector) query.set('fieldSelector', opts.fieldSelector);
  if (opts.limit) query.set('limit', String(opts.limit));
  if (opts.continue) query.set('continue', opts.continue);
  const qs = query.toString();
  const path = resourcePath(kind, { namespace: opts.namespace }) + (qs ? `?${qs}` : '');
  return request<KubeList<T>>(clusterPath(cluster, path), { signal: opts.signal });
}

/** get reads one object. */
export function get<T extends KubeObject>(cluster: string, kind: ResourceKind, at: Locator & { name: string }, opts: Pick<RequestOptions, 'signal'> = {}): Promise<T> {
  return request<T>(clusterPath(cluster, resourcePath(kind, at)), opts);
}
