// The workload kinds the UI lists, described once each: where they live in
// the API, the columns of their table and how their status reads. One
// generic table and one generic details page use these, so a kind costs
// a description, not a copy of a page.
import type { TFunction } from 'i18next';
import { summarizeDeployment, type Deployment } from './deployment';
import type { Tone } from './pod';
import type { KubeObject, ObjectMeta, ResourceKind } from './resource';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

/** AnyObject is any Kubernetes object as JSON: spec and status untyped. */
export interface AnyObject extends KubeObject {
  metadata: ObjectMeta & { ownerReferences?: OwnerReference[]; deletionTimestamp?: string; generation?: number };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  data?: Record<string, string>;
  type?: string;
  /** How many keys a metadata-only Secret has (its values were not read). */
  dataCount?: number;
}

export interface Status {
  text: string;
  tone: Tone;
}

export interface KindColumn {
  id: string;
  header: (t: TFunction) => string;
  /** What the column shows and sorts by. */
  value: (o: AnyObject) => string | number;
  /** Shown instead of value, when it differs. */
  display?: (o: AnyObject) => string;
  numeric?: boolean;
}

export type Action = 'scale' | 'restart' | 'rollback' | 'delete';

export interface KindDef {
  /** The plural, also the kind's segment in UI addresses. */
  id: string;
  resource: ResourceKind;
  /** Plural name for headings and tables. */
  label: (t: TFunction) => string;
  empty: (t: TFunction) => string;
  status?: (o: AnyObject) => Status;
  columns: KindColumn[];
  actions: Action[];
  /** Listed in the kind picker; ReplicaSets are reached as owners only. */
  listed: boolean;
}

const apps = (kind: string, plural: string): ResourceKind => ({ kind, group: 'apps', version: 'v1', plural, namespaced: true });
const core = (kind: string, plural: string): ResourceKind => ({ kind, group: '', version: 'v1', plural, namespaced: true });

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function condition(o: AnyObject, type: string): Condition | undefined {
  const list = o.status?.conditions;
  return Array.isArray(list) ? (list as Condition[]).find((c) => c.type === type) : undefined;
}

// ---- status of each kind, the way kubectl get reads it -------------------

export function deploymentStatus(o: AnyObject): Status {
  const s = summarizeDeployment(o as Deployment);
  return { text: s.status, tone: s.tone };
}

/** replicated reads a StatefulSet or ReplicaSet: ready against desired. */
export function replicatedStatus(o: AnyObject): Status {
  if (o.metadata.deletionTimestamp) return { text: 'Deleting', tone: 'unknown' };
  const desired = o.spec?.replicas ?? 1;
  const ready = num(o.status?.readyReplicas);
  if (desired === 0) return { text: 'Scaled to zero', tone: 'unknown' };
  if (ready >= desired && num(o.status?.updatedReplicas ?? ready) >= desired) return { text: 'Ready', tone: 'ok' };
  return { text: 'Progressing', tone: 'unknown' };
}

export function daemonSetStatus(o: AnyObject): Status {
  if (o.metadata.deletionTimestamp) return { text: 'Deleting', tone: 'unknown' };
  const desired = num(o.status?.desiredNumberScheduled);
  const ready = num(o.status?.numberReady);
  if (desired === 0) return { text: 'No nodes', tone: 'unknown' };
  if (ready >= desired) return { text: 'Ready', tone: 'ok' };
  return { text: 'Progressing', tone: 'unknown' };
}

export function jobStatus(o: AnyObject): Status {
  if (o.metadata.deletionTimestamp) return { text: 'Deleting', tone: 'unknown' };
  if (condition(o, 'Complete')?.status === 'True') return { text: 'Complete', tone: 'ok' };
  if (condition(o, 'Failed')?.status === 'True') return { text: 'Failed', tone: 'bad' };
  if (condition(o, 'Suspended')?.status === 'True' || o.spec?.suspend === true) return { text: 'Suspended', tone: 'unknown' };
  return { text: 'Running', tone: 'unknown' };
}

export function cronJobStatus(o: AnyObject): Status {
  if (o.spec?.suspend === true) return { text: 'Suspended', tone: 'unknown' };
  const active = Array.isArray(o.status?.active) ? o.status.active.length : 0;
  return active > 0 ? { text: 'Running', tone: 'ok' } : { text: 'Scheduled', tone: 'ok' };
}

export function pvcStatus(o: AnyObject): Status {
  const phase = String(o.status?.phase ?? 'Pending');
  return { text: phase, tone: phase === 'Bound' ? 'ok' : phase === 'Lost' ? 'bad' : 'unknown' };
}

// ---- columns -------------------------------------------------------------

export function servicePorts(o: AnyObject): string {
  const ports = (o.spec?.ports ?? []) as { port: number; protocol?: string; nodePort?: number; targetPort?: number | string }[];
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(', ');
}

export function ingressHosts(o: AnyObject): string {
  const rules = (o.spec?.rules ?? []) as { host?: string }[];
  const hosts = rules.map((r) => r.host || '*');
  return hosts.length ? hosts.join(', ') : '*';
}

export function loadBalancerAddress(o: AnyObject): string {
  const ing = (o.status?.loadBalancer?.ingress ?? []) as { ip?: string; hostname?: string }[];
  return ing.map((i) => i.ip || i.hostname || '').filter(Boolean).join(', ');
}

const keys = (o: AnyObject): number =>
  o.dataCount ?? Object.keys(o.data ?? {}).length + Object.keys((o as { binaryData?: object }).binaryData ?? {}).length;

const ratio = (id: string, header: (t: TFunction) => string, ready: (o: AnyObject) => number, desired: (o: AnyObject) => number): KindColumn => ({
  id,
  header,
  value: ready,
  display: (o) => `${ready(o)}/${desired(o)}`,
  numeric: true,
});

export const kinds: KindDef[] = [
  {
    id: 'deployments',
    resource: apps('Deployment', 'deployments'),
    label: (t) => t('glossary|Deployments'),
    empty: (t) => t('No deployments in this namespace.'),
    status: deploymentStatus,
    columns: [
      ratio('ready', (t) => t('Ready'), (o) => num(o.status?.readyReplicas), (o) => o.spec?.replicas ?? 1),
      { id: 'updated', header: (t) => t('Up to date'), value: (o) => num(o.status?.updatedReplicas), numeric: true },
    ],
    actions: ['scale', 'restart', 'rollback', 'delete'],
    listed: true,
  },
  {
    id: 'statefulsets',
    resource: apps('StatefulSet', 'statefulsets'),
    label: (t) => t('glossary|StatefulSets'),
    empty: (t) => t('No StatefulSets in this namespace.'),
    status: replicatedStatus,
    columns: [ratio('ready', (t) => t('Ready'), (o) => num(o.status?.readyReplicas), (o) => o.spec?.replicas ?? 1)],
    actions: ['scale', 'restart', 'delete'],
    listed: true,
  },
  {
    id: 'daemonsets',
    resource: apps('DaemonSet', 'daemonsets'),
    label: (t) => t('glossary|DaemonSets'),
    empty: (t) => t('No DaemonSets in this namespace.'),
    status: daemonSetStatus,
    columns: [ratio('ready', (t) => t('Ready'), (o) => num(o.status?.numberReady), (o) => num(o.status?.desiredNumberScheduled))],
    actions: ['restart', 'delete'],
    listed: true,
  },
  {
    id: 'jobs',
    resource: { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs', namespaced: true },
    label: (t) => t('glossary|Jobs'),
    empty: (t) => t('No jobs in this namespace.'),
    status: jobStatus,
    columns: [ratio('completions', (t) => t('Completions'), (o) => num(o.status?.succeeded), (o) => o.spec?.completions ?? 1)],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'cronjobs',
    resource: { kind: 'CronJob', group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true },
    label: (t) => t('glossary|CronJobs'),
    empty: (t) => t('No CronJobs in this namespace.'),
    status: cronJobStatus,
    columns: [
      { id: 'schedule', header: (t) => t('Schedule'), value: (o) => String(o.spec?.schedule ?? '') },
      { id: 'active', header: (t) => t('Active'), value: (o) => (Array.isArray(o.status?.active) ? o.status.active.length : 0), numeric: true },
    ],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'services',
    resource: core('Service', 'services'),
    label: (t) => t('glossary|Services'),
    empty: (t) => t('No services in this namespace.'),
    columns: [
      { id: 'type', header: (t) => t('Type'), value: (o) => String(o.spec?.type ?? 'ClusterIP') },
      { id: 'clusterIP', header: (t) => t('Cluster IP'), value: (o) => String(o.spec?.clusterIP ?? '') },
      { id: 'ports', header: (t) => t('Ports'), value: servicePorts },
      { id: 'external', header: (t) => t('External address'), value: loadBalancerAddress },
    ],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'ingresses',
    resource: { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true },
    label: (t) => t('glossary|Ingresses'),
    empty: (t) => t('No ingresses in this namespace.'),
    columns: [
      { id: 'class', header: (t) => t('Class'), value: (o) => String(o.spec?.ingressClassName ?? '') },
      { id: 'hosts', header: (t) => t('Hosts'), value: ingressHosts },
      { id: 'address', header: (t) => t('Address'), value: loadBalancerAddress },
    ],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'configmaps',
    resource: core('ConfigMap', 'configmaps'),
    label: (t) => t('glossary|ConfigMaps'),
    empty: (t) => t('No ConfigMaps in this namespace.'),
    columns: [{ id: 'keys', header: (t) => t('Keys'), value: keys, numeric: true }],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'secrets',
    resource: { ...core('Secret', 'secrets'), metadataOnly: true },
    label: (t) => t('glossary|Secrets'),
    empty: (t) => t('No secrets in this namespace.'),
    columns: [
      { id: 'type', header: (t) => t('Type'), value: (o) => String(o.type ?? 'Opaque') },
      { id: 'keys', header: (t) => t('Keys'), value: keys, numeric: true },
    ],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'persistentvolumeclaims',
    resource: core('PersistentVolumeClaim', 'persistentvolumeclaims'),
    label: (t) => t('glossary|PersistentVolumeClaims'),
    empty: (t) => t('No PersistentVolumeClaims in this namespace.'),
    status: pvcStatus,
    columns: [
      { id: 'capacity', header: (t) => t('Capacity'), value: (o) => String(o.status?.capacity?.storage ?? o.spec?.resources?.requests?.storage ?? '') },
      { id: 'class', header: (t) => t('Storage class'), value: (o) => String(o.spec?.storageClassName ?? '') },
      { id: 'modes', header: (t) => t('Access modes'), value: (o) => ((o.spec?.accessModes ?? []) as string[]).join(', ') },
    ],
    actions: ['delete'],
    listed: true,
  },
  {
    id: 'replicasets',
    resource: apps('ReplicaSet', 'replicasets'),
    label: (t) => t('glossary|ReplicaSets'),
    empty: (t) => t('No ReplicaSets in this namespace.'),
    status: replicatedStatus,
    columns: [ratio('ready', (t) => t('Ready'), (o) => num(o.status?.readyReplicas), (o) => o.spec?.replicas ?? 1)],
    actions: ['delete'],
    listed: false,
  },
];

const byId = new Map(kinds.map((k) => [k.id, k]));
const byKind = new Map(kinds.map((k) => [k.resource.kind, k]));

export function kindById(id: string): KindDef | undefined {
  return byId.get(id);
}

/** kindOf finds the description of a kind by its name (an owner reference's kind), if the UI has one. */
export function kindOf(kind: string): KindDef | undefined {
  return byKind.get(kind);
}

/** objectURL is the UI address of an object: pods have a page of their own. */
export function objectURL(cluster: string, namespace: string, kind: string, name: string): string | undefined {
  const base = `/clusters/${encodeURIComponent(cluster)}/namespaces/${encodeURIComponent(namespace)}`;
  if (kind === 'Pod') return `${base}/pods/${encodeURIComponent(name)}`;
  const def = kindOf(kind);
  return def ? `${base}/${def.id}/${encodeURIComponent(name)}` : undefined;
}

/**
 * podSelector is the label selector of the pods an object runs or routes
 * to: a workload's spec.selector.matchLabels, a Service's spec.selector;
 * '' when it selects none.
 */
export function podSelector(kind: string, o: AnyObject): string {
  const m = kind === 'Service' ? o.spec?.selector : ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(kind) ? o.spec?.selector?.matchLabels : undefined;
  if (!m || typeof m !== 'object') return '';
  return Object.entries(m as Record<string, string>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
