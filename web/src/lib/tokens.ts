// API tokens: every user lists, creates and revokes their own; an
// administrator may list and revoke everyone's. The value of a new token
// is in the create answer only: the server keeps its hash.
import { request, type List } from './api';

export interface Token {
  id: string;
  /** The owner's user object name. */
  userName: string;
  kind: 'Session' | 'API' | 'Kubeconfig' | string;
  description?: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedTime?: string;
  expired: boolean;
  /** The token of this very session. */
  current: boolean;
}

export interface NewToken extends Token {
  /** The value, shown once. */
  token: string;
}

export async function listTokens(all: boolean, signal?: AbortSignal): Promise<Token[]> {
  const page = await request<List<Token>>(all ? '/v1/tokens?all=true' : '/v1/tokens', { signal });
  return page.items ?? [];
}

/** createToken mints an API token; ttlSeconds 0 takes the server's default lifetime. */
export function createToken(description: string, ttlSeconds: number): Promise<NewToken> {
  return request<NewToken>('/v1/tokens', { method: 'POST', body: { description, ttlSeconds, kind: 'API' } });
}

export function revokeToken(id: string): Promise<void> {
  return request<void>(`/v1/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** TOKEN_LIFETIMES are the expiry choices, in days; 0 is the server's default. */
export const TOKEN_LIFETIMES = [0, 1, 7, 30, 90, 365] as const;
