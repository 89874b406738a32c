// The one client the UI talks to bokujo with: /v1 (bokujo's API) and
// /k8s/clusters/{cluster}/… (the impersonating proxy). Credentials never
// live in the browser's storage: the session is an HttpOnly cookie the
// browser sends by itself; the CSRF token that unsafe requests must carry is
// held in memory only and recovered from GET /v1/me after a reload.

/** ApiError is any answer that is not 2xx, or a request that never got one. */
export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /**
   * Machine-readable reason: the /v1 error code ("InvalidCredentials",
   * "TooManyRequests", …) or the Kubernetes Status reason ("Forbidden",
   * "NotFound", …); "NetworkError" when the server could not be reached.
   */
  readonly code: string;
  /** Seconds the server asked to wait (Retry-After), if it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const CSRF_HEADER = 'X-CSRF-Token';

let csrfToken = '';
let unauthorizedHandler: (() => void) | null = null;

/** setCsrfToken keeps the session's CSRF token for unsafe requests. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** getCsrfToken is the session's CSRF token ('' without a session). */
export function getCsrfToken(): string {
  return csrfToken;
}

/**
 * setUnauthorizedHandler registers what happens when the server answers 401
 * to a request made with a session: the session ended (expired, revoked, or
 * the user logged out in another tab), so the app sends the user to login.
 */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON unless it is a string (sent as is, with contentType). */
  body?: unknown;
  contentType?: string;
  /** The Accept header; JSON by default. */
  accept?: string;
  signal?: AbortSignal;
  /**
   * A 401 is an answer the caller handles itself (a wrong password at
   * login, or "not logged in yet" at start-up), not an ended session.
   */
  expectUnauthorized?: boolean;
}

function isSafe(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** request sends one request and returns the parsed JSON (or text) body. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers = new Headers({ Accept: options.accept ?? 'application/json' });
  let body: string | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string') {
      body = options.body;
      headers.set('Content-Type', options.contentType ?? 'text/plain');
    } else {
      body = JSON.stringify(options.body);
      headers.set('Content-Type', options.contentType ?? 'application/json');
    }
  }
  if (!isSafe(method) && csrfToken !== '') {
    headers.set(CSRF_HEADER, csrfToken);
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      signal: options.signal,
      credentials: 'same-origin',
      // Answers carry CSRF tokens and user data: never from a cache.
      cache: 'no-store',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') {
      throw err;
    }
    throw new ApiError(0, 'NetworkError', err instanceof Error ? err.message : String(err));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !options.expectUnauthorized) {
      unauthorizedHandler?.();
    }
    throw error;
  }
  if (response.status === 204 || method === 'HEAD') {
    return undefined as T;
  }
  const type = response.headers.get('Content-Type') ?? '';
  if (type.includes('json')) {
    return (await response.json()) as T;
  }
  return (await response.text()) as T;
}

/** V1Error is the body of every /v1 error answer. */
interface V1Error {
  error: { code: string; message: string };
}

/** KubernetesStatus is the body of a failed Kubernetes API call. */
interface KubernetesStatus {
  kind: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

function isV1Error(v: unknown): v is V1Error {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false;
  const e = (v as { error: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}

function isStatus(v: unknown): v is KubernetesStatus {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Status';
}

/** errorFrom turns a failed answer of either API into an ApiError. */
export async function errorFrom(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  const text = await response.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isV1Error(parsed)) {
    return new ApiError(response.status, parsed.error.code || String(response.status), parsed.error.message, retryAfter);
  }
  if (isStatus(parsed)) {
    return new ApiError(
      response.status,
      parsed.reason || String(parsed.code ?? response.status),
      parsed.message || response.statusText,
      retryAfter,
    );
  }
  const message = text.trim() !== '' && text.length < 500 ? text.trim() : response.statusText || `HTTP ${response.status}`;
  return new ApiError(response.status, String(response.status), message, retryAfter);
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

// ---- /v1 ----------------------------------------------------------------

/** ResourceList maps resource names (cpu, memory, nvidia.com/gpu) to quantities. */
export type ResourceList = Record<string, string>;

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Cluster {
  name: string;
  displayName?: string;
  source?: string;
  ready: boolean;
  message?: string;
  kubernetesVersion?: string;
  nodes: number;
  capacity?: ResourceList;
  allocatable?: ResourceList;
  requested?: ResourceList;
  projects?: string[];
  conditions?: Condition[];
}

export interface Project {
  name: string;
  cluster: string;
  displayName?: string;
  namespaces?: string[];
}

export interface List<T> {
  items: T[];
  continue?: string;
}

export interface Me {
  name: string;
  username?: string;
  displayName?: string;
  groups: string[];
  globalRoles: string[];
  csrfToken?: string;
  /** An administrator asked the user to choose a new password before going on. */
  mustChangePassword?: boolean;
}

export interface LoginResponse {
  user: { name: string; username?: string; displayName?: string };
  csrfToken: string;
  expiresAt: string;
}

/** KUBECONFIG_URL downloads a kubeconfig for every cluster the user may use. */
export const KUBECONFIG_URL = '/v1/kubeconfig';

/** AuthProviderInfo is an enabled external identity provider, for the login page. */
export interface AuthProviderInfo {
  name: string;
  type: 'OIDC' | 'LDAP' | 'GitHub' | string;
  displayName: string;
  /** Where its button goes (OIDC, GitHub) or where its form posts (LDAP). */
  loginURL: string;
}

export const LOCAL_LOGIN_URL = '/v1/login';

/** listAuthProviders lists the enabled external providers; it needs no session. */
export async function listAuthProviders(signal?: AbortSignal): Promise<AuthProviderInfo[]> {
  const list = await request<List<AuthProviderInfo>>('/v1/auth/providers', { signal, expectUnauthorized: true });
  // Only this server's own login routes are followed.
  return list.items.filter((p) => typeof p.loginURL === 'string' && /^\/v1\/auth\/[a-z0-9][-a-z0-9.]*\/(start|login)$|^\/v1\/auth\/ldap\/[a-z0-9][-a-z0-9.]*\/login$/.test(p.loginURL));
}

/**
 * login opens a session with a password: a local account by default, or
 * through an LDAP provider's login URL.
 */
export async function login(username: string, password: string, url = LOCAL_LOGIN_URL): Promise<LoginResponse> {
  if (url !== LOCAL_LOGIN_URL && !/^\/v1\/auth\/ldap\/[a-z0-9][-a-z0-9.]*\/login$/.test(url)) throw new Error(`refusing to send a password to ${url}`);
  const resp = await request<LoginResponse>(url, {
    method: 'POST',
    body: { username, password },
    expectUnauthorized: true,
  });
  setCsrfToken(resp.csrfToken);
  return resp;
}

/** changePassword sets a new password; the current one proves it is the user. */
export function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  return request<void>('/v1/me/password', { method: 'POST', body: { currentPassword, newPassword } });
}

export async function logout(): Promise<void> {
  await request<void>('/v1/logout', { method: 'POST', expectUnauthorized: true });
  setCsrfToken('');
}

/** getMe returns the logged-in user, or null without a session. */
export async function getMe(signal?: AbortSignal): Promise<Me | null> {
  try {
    const me = await request<Me>('/v1/me', { signal, expectUnauthorized: true });
    setCsrfToken(me.csrfToken ?? '');
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setCsrfToken('');
      return null;
    }
    throw err;
  }
}

export function isAdmin(me: Me | null | undefined): boolean {
  return me?.globalRoles.includes('admin') ?? false;
}

// /v1 lists are paged (at most 1000 a page); the UI wants them whole.
async function listAll<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  let token = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=1000${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const page = await request<List<T>>(url, { signal });
    items.push(...page.items);
    if (!page.continue) return items;
    token = page.continue;
  }
}

export function listClusters(signal?: AbortSignal): Promise<Cluster[]> {
  return listAll<Cluster>('/v1/clusters', signal);
}

export function getCluster(name: string, signal?: AbortSignal): Promise<Cluster> {
  return request<Cluster>(`/v1/clusters/${encodeURIComponent(name)}`, { signal });
}

/** Notification is one entry of the user's feed (access granted). */
export interface Notification {
  name: string;
  reason: string;
  cluster?: string;
  project?: string;
  roleTemplate?: string;
  via?: string;
  message: string;
  kubeconfigURL: string;
  time: string;
  readTime?: string;
}

/** NotificationFeed is the newest notifications and the unread count. */
export interface NotificationFeed {
  items: Notification[];
  unread: number;
}

/** listNotifications reads the newest 100 notifications. */
export async function listNotifications(signal?: AbortSignal): Promise<NotificationFeed> {
  const page = await request<NotificationFeed>('/v1/notifications?limit=100', { signal });
  return { items: page.items ?? [], unread: page.unread ?? 0 };
}

export function markNotificationRead(name: string): Promise<void> {
  return request<void>(`/v1/notifications/${encodeURIComponent(name)}/read`, { method: 'POST' });
}

export function markAllNotificationsRead(): Promise<void> {
  return request<void>('/v1/notifications/read', { method: 'POST' });
}

export function listProjects(cluster: string, signal?: AbortSignal): Promise<Project[]> {
  return listAll<Project>(`/v1/projects?cluster=${encodeURIComponent(cluster)}`, signal);
}

/**
 * stream opens a GET whose body is read as it arrives (a Kubernetes
 * watch); a non-2xx answer is thrown as an ApiError like request's.
 */
export async function stream(path: string, signal: AbortSignal, accept = 'application/json'): Promise<ReadableStream<Uint8Array>> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { Accept: accept }, signal, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', err instanceof Error ? err.message : String(err));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) unauthorizedHandler?.();
    throw error;
  }
  if (response.body === null) throw new ApiError(response.status, 'NoBody', 'the watch answer has no body');
  return response.body;
}

/** ClusterTool is a tool bokujo bundles (monitoring, logging) and its state in one cluster. */
export interface ClusterTool {
  tool: 'monitoring' | 'logging';
  enabled: boolean;
  removing?: boolean;
  installed: boolean;
  ready: boolean;
  message?: string;
  version?: string;
  canChange: boolean;
}

export async function listClusterTools(cluster: string, signal?: AbortSignal): Promise<ClusterTool[]> {
  const list = await request<{ items: ClusterTool[] }>(`/v1/clusters/${encodeURIComponent(cluster)}/tools`, { signal });
  return list.items;
}

export async function setClusterTool(cluster: string, tool: ClusterTool['tool'], enabled: boolean): Promise<void> {
  await request(`/v1/clusters/${encodeURIComponent(cluster)}/tools/${encodeURIComponent(tool)}`, { method: enabled ? 'PUT' : 'DELETE' });
}
