import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, CSRF_HEADER, getMe, login, request, setCsrfToken, setUnauthorizedHandler } from './api';
import { json, mockFetch } from '../test/fetch';

afterEach(() => {
  setCsrfToken('');
  setUnauthorizedHandler(null);
  vi.unstubAllGlobals();
});

describe('CSRF header', () => {
  it('is sent on unsafe methods only, with the token from login', async () => {
    const calls = mockFetch((c) =>
      c.url === '/v1/login' ? json(200, { user: { name: 'admin' }, csrfToken: 'tok-1', expiresAt: '2030-01-01T00:00:00Z' }) : json(200, {}),
    );
    await login('admin', 'pw');
    expect(calls[0]?.headers.get(CSRF_HEADER)).toBeNull(); // login has no session yet
    await request('/v1/clusters');
    await request('/k8s/clusters/dev/api/v1/namespaces/default/pods/p', { method: 'DELETE' });
    await request('/v1/tokens', { method: 'POST', body: { description: 'x' } });
    await request('/v1/clusters', { method: 'HEAD' });
    expect(calls.map((c) => [c.method, c.headers.get(CSRF_HEADER)])).toEqual([
      ['POST', null],
      ['GET', null],
      ['DELETE', 'tok-1'],
      ['POST', 'tok-1'],
      ['HEAD', null],
    ]);
    expect(calls[3]?.headers.get('Content-Type')).toBe('application/json');
  });

  it('is recovered from /v1/me after a reload', async () => {
    const calls = mockFetch((c) => (c.url === '/v1/me' ? json(200, { name: 'u', groups: [], globalRoles: [], csrfToken: 'from-me' }) : json(200, {})));
    await getMe();
    await request('/v1/logout', { method: 'POST' });
    expect(calls[1]?.headers.get(CSRF_HEADER)).toBe('from-me');
  });
});

describe('errors', () => {
  it('parses the /v1 error shape and Retry-After', async () => {
    mockFetch(() => json(429, { error: { code: 'TooManyRequests', message: 'too many failed attempts; try again later' } }, { 'Retry-After': '30' }));
    const err = await request('/v1/login', { method: 'POST', body: {}, expectUnauthorized: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, code: 'TooManyRequests', message: 'too many failed attempts; try again later', retryAfterSeconds: 30 });
  });

  it('parses Kubernetes Status objects', async () => {
    mockFetch(() =>
      json(403, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'nodes is forbidden: User "alice" cannot list resource "nodes"' }),
    );
    const err = await request('/k8s/clusters/dev/api/v1/nodes').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, code: 'Forbidden', message: 'nodes is forbidden: User "alice" cannot list resource "nodes"' });
  });

  it('keeps short plain-text bodies and names network failures', async () => {
    mockFetch(() => new Response('404 page not found\n', { status: 404 }));
    await expect(request('/v1/nope')).rejects.toMatchObject({ status: 404, code: '404', message: '404 page not found' });
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')));
    await expect(request('/v1/clusters')).rejects.toMatchObject({ status: 0, code: 'NetworkError' });
  });
});

describe('401', () => {
  it('calls the unauthorized handler for an ended session', async () => {
    const onUnauthorized = vi.fn();
    setUnauthorizedHandler(onUnauthorized);
    mockFetch(() => json(401, { error: { code: 'Unauthorized', message: 'authentication required' } }));
    await expect(request('/v1/clusters')).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('does not for a wrong password or a first visit', async () => {
    const onUnauthorized = vi.fn();
    setUnauthorizedHandler(onUnauthorized);
    mockFetch(() => json(401, { error: { code: 'InvalidCredentials', message: 'invalid username or password' } }));
    await expect(login('admin', 'wrong')).rejects.toMatchObject({ code: 'InvalidCredentials' });
    await expect(getMe()).resolves.toBeNull();
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
});
