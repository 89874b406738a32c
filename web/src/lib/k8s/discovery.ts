// Where a kind lives, learnt from the cluster's API discovery (/api and
// /apis, then each group version's resource list), so custom resources
// work as well as built-in ones. Resource lists are cached per cluster and
// group version for the page's life; a failed fetch is forgotten so the
// next attempt asks again.
import { ApiError, request } from '../api';
import { clusterPath, type ResourceKind } from './resource';

export interface APIResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

export interface APIResourceList {
  groupVersion: string;
  resources: APIResource[];
}

/**
 * CORE_FALLBACK is used only when /api/v1 cannot be read: the core kinds
 * people apply most.
 */
const CORE_FALLBACK: APIResource[] = [
  { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { name: 'secrets', kind: 'Secret', namespaced: true },
  { name: 'services', kind: 'Service', namespaced: true },
  { name: 'pods', kind: 'Pod', namespaced: true },
  { name: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { name: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  { name: 'namespaces', kind: 'Namespace', namespaced: false },
];

/** splitApiVersion turns "apps/v1" into ["apps", "v1"] and "v1" into ["", "v1"]. */
export function splitApiVersion(apiVersion: string): [string, string] {
  const i = apiVersion.indexOf('/');
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

/** findKind picks kind's resource in a list; subresources (pods/log) are skipped. */
export function findKind(list: APIResourceList, kind: string): ResourceKind | undefined {
  const r = list.resources.find((x) => x.kind === kind && !x.name.includes('/'));
  if (!r) return undefined;
  const [group, version] = splitApiVersion(list.groupVersion);
  return { kind, group, version, plural: r.name, namespaced: r.namespaced };
}

export function discoveryPath(apiVersion: string): string {
  const [group, version] = splitApiVersion(apiVersion);
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

const cache = new Map<string, Promise<APIResourceList>>();

/** resourceList fetches (once) the resources of apiVersion in cluster. */
export function resourceList(cluster: string, apiVersion: string): Promise<APIResourceList> {
  const key = `${cluster}\n${apiVersion}`;
  let p = cache.get(key);
  if (!p) {
    p = request<APIResourceList>(clusterPath(cluster, discoveryPath(apiVersion))).catch((err: unknown) => {
      cache.delete(key);
      if (apiVersion === 'v1' && !(err instanceof ApiError && err.status === 404)) {
        return { groupVersion: 'v1', resources: CORE_FALLBACK };
      }
      throw err;
    });
    cache.set(key, p);
  }
  return p;
}

/** clearDiscovery forgets what was learnt (a CRD was just installed). */
export function clearDiscovery(): void {
  cache.clear();
}

/** UnknownKindError: the cluster does not serve this kind at this apiVersion. */
export class UnknownKindError extends Error {
  readonly apiVersion: string;
  readonly kind: string;
  constructor(apiVersion: string, kind: string) {
    super(`the cluster does not serve ${kind} in ${apiVersion}`);
    this.name = 'UnknownKindError';
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/** resolveKind maps apiVersion and kind to their REST resource in cluster. */
export async function resolveKind(cluster: string, apiVersion: string, kind: string): Promise<ResourceKind> {
  let list: APIResourceList;
  try {
    list = await resourceList(cluster, apiVersion);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new UnknownKindError(apiVersion, kind);
    throw err;
  }
  const found = findKind(list, kind);
  if (!found) throw new UnknownKindError(apiVersion, kind);
  return found;
}
