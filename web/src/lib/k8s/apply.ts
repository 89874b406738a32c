// Server-side apply of manifests, with a dry run first that says, per
// document, whether it creates, changes or leaves alone what exists.
import { stringify } from 'yaml';
import { ApiError, request } from '../api';
import { diffLines, isUnchanged, type DiffLine } from '../diff';
import { resolveKind } from './discovery';
import { clusterPath, resourcePath, type KubeObject } from './resource';

export const FIELD_MANAGER = 'bokujo-ui';

type Obj = KubeObject & Record<string, unknown>;

export type Outcome = 'created' | 'changed' | 'unchanged';

export interface PlanResult {
  outcome: Outcome;
  /** What exists (empty when created) against the dry run's result. */
  diff: DiffLine[];
}

/**
 * comparable keeps what the user declared and the server defaulted in the
 * object's body: bookkeeping that changes on every write (resourceVersion,
 * managedFields, generation, status) would make every apply a change.
 */
export function comparable(o: Obj | undefined): string {
  if (!o) return '';
  const { metadata, status: _status, ...rest } = o;
  void _status;
  const meta: Record<string, unknown> = { name: metadata.name };
  if (metadata.namespace) meta.namespace = metadata.namespace;
  if (metadata.labels && Object.keys(metadata.labels).length) meta.labels = metadata.labels;
  const annotations = Object.fromEntries(Object.entries(metadata.annotations ?? {}).filter(([k]) => !k.startsWith('deployment.kubernetes.io/')));
  if (Object.keys(annotations).length) meta.annotations = annotations;
  return stringify({ ...rest, metadata: meta }, { sortMapEntries: true });
}

/** plan compares what exists with the dry run's result. */
export function plan(existing: Obj | undefined, dryRun: Obj): PlanResult {
  const diff = diffLines(comparable(existing), comparable(dryRun));
  if (!existing) return { outcome: 'created', diff };
  return { outcome: isUnchanged(diff) ? 'unchanged' : 'changed', diff };
}

/** objectPath is the REST path of obj, its namespace defaulted to namespace when it needs one. */
export async function objectPath(cluster: string, obj: Obj, namespace: string): Promise<{ path: string; body: Obj }> {
  const kind = await resolveKind(cluster, obj.apiVersion ?? '', obj.kind ?? '');
  let body = obj;
  if (kind.namespaced && !obj.metadata.namespace) body = { ...obj, metadata: { ...obj.metadata, namespace } };
  if (!kind.namespaced && obj.metadata.namespace) {
    // The apiserver ignores it; dropping it keeps the path valid.
    const { namespace: _ns, ...meta } = obj.metadata;
    void _ns;
    body = { ...obj, metadata: meta };
  }
  const path = clusterPath(cluster, resourcePath(kind, { namespace: kind.namespaced ? body.metadata.namespace : undefined, name: obj.metadata.name }));
  return { path, body };
}

/** applyObject sends obj as a server-side apply; dryRun asks what would happen. */
export function applyObject(path: string, body: Obj, dryRun: boolean): Promise<Obj> {
  const q = new URLSearchParams({ fieldManager: FIELD_MANAGER });
  if (dryRun) q.set('dryRun', 'All');
  // JSON is YAML: the apply content type takes it as is.
  return request<Obj>(`${path}?${q.toString()}`, { method: 'PATCH', body: JSON.stringify(body), contentType: 'application/apply-patch+yaml' });
}

/** dryRunObject resolves, reads what exists, dry-runs and compares. */
export async function dryRunObject(cluster: string, obj: Obj, namespace: string): Promise<PlanResult & { path: string; body: Obj }> {
  const { path, body } = await objectPath(cluster, obj, namespace);
  let existing: Obj | undefined;
  try {
    existing = await request<Obj>(path);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const result = await applyObject(path, body, true);
  return { ...plan(existing, result), path, body };
}
