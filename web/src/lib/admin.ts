// The administration side of /v1: users, cluster and project members,
// identity providers. The server checks every call; the UI only shows
// these pages to administrators.
import { request, type Condition, type List } from './api';

export interface User {
  name: string;
  username?: string;
  displayName?: string;
  state: 'Active' | 'Disabled' | string;
  groups?: string[];
  lastLoginTime?: string;
}

export interface Subject {
  kind: 'User' | 'Group';
  name: string;
}

export interface Member {
  binding: string;
  subject: Subject;
  roleTemplate: string;
}

export interface AuthProvider {
  name: string;
  spec: { type: string; displayName?: string; state?: 'Enabled' | 'Disabled' } & Record<string, unknown>;
  conditions?: Condition[];
  lastTestTime?: string;
}

export type Scope = 'clusters' | 'projects';

/** The role templates bokujo installs, by the scope they grant in. */
export const BUILTIN_TEMPLATES: Record<Scope, string[]> = {
  clusters: ['cluster-owner', 'cluster-member', 'cluster-viewer'],
  projects: ['project-owner', 'project-member', 'project-viewer'],
};

const seg = encodeURIComponent;

async function all<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  let token = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await request<List<T>>(`${path}${sep}limit=1000${token ? `&continue=${seg(token)}` : ''}`, { signal });
    items.push(...page.items);
    if (!page.continue) return items;
    token = page.continue;
  }
}

export const listUsers = (signal?: AbortSignal) => all<User>('/v1/users', signal);

export const createUser = (username: string, displayName: string, password: string, mustChangePassword = false) =>
  request<User>('/v1/users', { method: 'POST', body: { username, displayName: displayName || undefined, password, mustChangePassword: mustChangePassword || undefined } });

export const setUserEnabled = (name: string, enabled: boolean) => request<unknown>(`/v1/users/${seg(name)}/${enabled ? 'enable' : 'disable'}`, { method: 'POST' });

export const listMembers = (scope: Scope, name: string, signal?: AbortSignal) => all<Member>(`/v1/${scope}/${seg(name)}/members`, signal);

export const addMember = (scope: Scope, name: string, subject: Subject, roleTemplate: string) =>
  request<Member>(`/v1/${scope}/${seg(name)}/members`, { method: 'POST', body: { subject, roleTemplate } });

export const removeMember = (scope: Scope, name: string, binding: string) => request<unknown>(`/v1/${scope}/${seg(name)}/members/${seg(binding)}`, { method: 'DELETE' });

export const listAuthProvidersAdmin = (signal?: AbortSignal) => all<AuthProvider>('/v1/admin/authproviders', signal);

/** setProviderState enables or disables a provider, keeping the rest of its spec and its stored secret. */
export const setProviderState = (p: AuthProvider, state: 'Enabled' | 'Disabled') =>
  request<AuthProvider>(`/v1/admin/authproviders/${seg(p.name)}`, { method: 'PUT', body: { spec: { ...p.spec, state } } });

export const deleteProvider = (name: string) => request<unknown>(`/v1/admin/authproviders/${seg(name)}`, { method: 'DELETE' });

/** ProviderTest is the result of a connection test: reason names the step that failed (DNSFailed, TLSFailed, BindFailed, ...). */
export interface ProviderTest {
  ready: boolean;
  reason: string;
  message: string;
}

export const testProvider = (name: string) => request<ProviderTest>(`/v1/auth/providers/${seg(name)}/test`, { method: 'POST' });

/**
 * putProvider creates or replaces a provider. secret (client secret or
 * bind password) is write-only: the server never returns it, and an
 * update without it keeps the stored one.
 */
export const putProvider = (name: string, spec: AuthProvider['spec'], secret: string) =>
  request<AuthProvider>(`/v1/admin/authproviders/${seg(name)}`, { method: 'PUT', body: { spec, secret: secret || undefined } });

/** groupsOf lists every group the users belong to, with its members. */
export function groupsOf(users: User[]): { group: string; members: string[] }[] {
  const m = new Map<string, string[]>();
  for (const u of users) for (const g of u.groups ?? []) m.set(g, [...(m.get(g) ?? []), u.username || u.name]);
  return [...m.entries()].map(([group, members]) => ({ group, members: members.sort() })).sort((a, b) => a.group.localeCompare(b.group));
}

// ---- clusters --------------------------------------------------------------

/** importCluster adds a cluster that bokujo reaches with the given kubeconfig's credentials. */
export const importCluster = (name: string, displayName: string, kubeconfig: string, context: string) =>
  request<{ name: string }>('/v1/clusters', { method: 'POST', body: { name, displayName: displayName || undefined, kubeconfig, context: context || undefined } });

/** AgentCluster is what to run in a cluster so its agent connects to bokujo. */
export interface AgentCluster {
  name: string;
  token: string;
  expiresAt: string;
  manifestURL: string;
  command: string;
  /** The command to use when the server's certificate is signed by bokujo's own CA. */
  commandWithCA?: string;
  caCertificate?: string;
  helmCommand: string;
}

export const addAgentCluster = (name: string, displayName: string, clusterAdmin: boolean) =>
  request<AgentCluster>('/v1/clusters/agent', { method: 'POST', body: { name, displayName: displayName || undefined, clusterAdmin: clusterAdmin || undefined } });

export const removeCluster = (name: string) => request<unknown>(`/v1/clusters/${seg(name)}`, { method: 'DELETE' });

/** CLUSTER_NAME is what the server accepts as a cluster name (a DNS label of at most 40 characters). */
export const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

// ---- audit -----------------------------------------------------------------

/** AuditRecord is one line of the audit log (internal/audit.Record). */
export interface AuditRecord {
  time: string;
  /** "request" (proxied Kubernetes call), "management" (bokujo's own objects), "terminal" (a web terminal command). */
  kind: string;
  user: string;
  groups?: string[];
  cluster?: string;
  verb: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  status: number;
  latencyMs: number;
  sourceIP?: string;
  command?: string[];
}

export interface AuditFilter {
  user?: string;
  cluster?: string;
  kind?: string;
  verb?: string;
  /** RFC 3339 bounds: since is inclusive, until exclusive. */
  since?: string;
  until?: string;
}

/** AUDIT_PAGE is how many records one page of the viewer asks for. */
export const AUDIT_PAGE = 50;

/**
 * searchAudit reads one page of the audit log, newest first. Older pages
 * are read with until set to the oldest record's time of the page before.
 */
export async function searchAudit(f: AuditFilter, limit = AUDIT_PAGE, signal?: AbortSignal): Promise<AuditRecord[]> {
  const q = new URLSearchParams();
  for (const k of ['user', 'cluster', 'kind', 'verb', 'since', 'until'] as const) {
    const v = f[k]?.trim();
    if (v) q.set(k, v);
  }
  q.set('limit', String(limit));
  const page = await request<List<AuditRecord>>(`/v1/audit?${q.toString()}`, { signal });
  return page.items ?? [];
}

// ---- role templates, groups, projects ---------------------------------------

/** PolicyRule is a Kubernetes RBAC rule (rbacv1.PolicyRule). */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export type TemplateContext = 'Cluster' | 'Project';

export interface RoleTemplate {
  name: string;
  displayName?: string;
  description?: string;
  /** Cluster or Project; read case-insensitively (see contextOf). */
  context: TemplateContext | string;
  rules?: PolicyRule[];
  inherits?: string[];
  state?: 'Active' | 'Locked' | string;
  builtin?: boolean;
}

/** contextOf reads a template's context whatever its case. */
export const contextOf = (rt: RoleTemplate): TemplateContext => (rt.context.toLowerCase() === 'cluster' ? 'Cluster' : 'Project');

export const listRoleTemplates = (signal?: AbortSignal) => all<RoleTemplate>('/v1/roletemplates', signal);
export const createRoleTemplate = (rt: RoleTemplate) => request<RoleTemplate>('/v1/roletemplates', { method: 'POST', body: rt });
export const deleteRoleTemplate = (name: string) => request<unknown>(`/v1/roletemplates/${seg(name)}`, { method: 'DELETE' });

/** Group is a bokujo group of local users (not an identity provider's). */
export interface Group {
  name: string;
  displayName?: string;
  description?: string;
  /** User object names. */
  members?: string[];
}

export const listGroups = (signal?: AbortSignal) => all<Group>('/v1/groups', signal);
export const createGroup = (g: Group) => request<Group>('/v1/groups', { method: 'POST', body: g });
export const updateGroup = (g: Group) => request<Group>(`/v1/groups/${seg(g.name)}`, { method: 'PUT', body: g });
export const deleteGroup = (name: string) => request<unknown>(`/v1/groups/${seg(name)}`, { method: 'DELETE' });

/** ProjectObject is a project as the admin API reads and writes it. */
export interface ProjectObject {
  name: string;
  clusterName: string;
  displayName?: string;
  description?: string;
  namespaces?: string[];
  resourceQuota?: { hard: Record<string, string> };
  limitRange?: { defaultLimits?: Record<string, string>; defaultRequests?: Record<string, string> };
  /** The namespaces that belong to the project now (listed or labelled), when the server says. */
  status?: { namespaces?: string[] };
}

export const getProject = (name: string, signal?: AbortSignal) => request<ProjectObject>(`/v1/projects/${seg(name)}`, { signal });
export const createProject = (p: ProjectObject) => request<ProjectObject>('/v1/projects', { method: 'POST', body: p });
export const updateProject = (p: ProjectObject) => request<ProjectObject>(`/v1/projects/${seg(p.name)}`, { method: 'PUT', body: p });
export const deleteProject = (name: string) => request<unknown>(`/v1/projects/${seg(name)}`, { method: 'DELETE' });

/** GPU_RESOURCE is the extended resource of NVIDIA GPUs; its quota key is requests.nvidia.com/gpu. */
export const GPU_QUOTA = 'requests.nvidia.com/gpu';
