import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newQueryClient } from '../../App';
import { setCsrfToken } from '../../lib/api';
import { SessionProvider } from '../../lib/session';
import { json, mockFetch, type Call } from '../../test/fetch';
import { LoginPage } from './LoginPage';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

function renderLogin(loginAnswer: (c: Call) => Response, providers: unknown[] = []) {
  const calls = mockFetch((c) => {
    if (c.url === '/v1/auth/providers') return json(200, { items: providers });
    if (c.url === '/v1/me') return json(401, { error: { code: 'Unauthorized', message: 'authentication required' } });
    if (c.url === '/v1/login') return loginAnswer(c);
    return json(404, { error: { code: 'NotFound', message: 'not found' } });
  });
  render(
    <QueryClientProvider client={newQueryClient()}>
      <MemoryRouter initialEntries={['/login']}>
        <SessionProvider>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/" element={<p>home page</p>} />
          </Routes>
        </SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return calls;
}

async function submit(user: string, password: string) {
  const ue = userEvent.setup();
  await ue.type(await screen.findByLabelText('User name'), user);
  await ue.type(screen.getByLabelText('Password'), password);
  await ue.click(screen.getByRole('button', { name: 'Log in' }));
}

describe('LoginPage', () => {
  it('says when the password is wrong and clears it', async () => {
    const calls = renderLogin(() => json(401, { error: { code: 'InvalidCredentials', message: 'invalid username or password' } }));
    await submit('admin', 'nope');
    expect((await screen.findByRole('alert')).textContent).toBe('The user name or password is wrong.');
    expect((screen.getByLabelText('Password') as HTMLInputElement).value).toBe('');
    expect(JSON.parse(calls.find((c) => c.url === '/v1/login')?.body ?? '{}')).toEqual({ username: 'admin', password: 'nope' });
  });

  it('says when to try again after too many attempts', async () => {
    renderLogin(() => json(429, { error: { code: 'TooManyRequests', message: 'too many failed attempts; try again later' } }, { 'Retry-After': '90' }));
    await submit('admin', 'nope');
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Too many failed attempts\. You can try again at .+\.$/);
  });

  it('goes home after a successful login', async () => {
    let loggedIn = false;
    mockFetch((c) => {
      if (c.url === '/v1/me') {
        return loggedIn
          ? json(200, { name: 'admin', username: 'admin', groups: [], globalRoles: ['admin'], csrfToken: 'c' })
          : json(401, { error: { code: 'Unauthorized', message: 'authentication required' } });
      }
      if (c.url !== '/v1/login') return json(200, { items: [] });
      loggedIn = true;
      return json(200, { user: { name: 'admin' }, csrfToken: 'c', expiresAt: '2030-01-01T00:00:00Z' });
    });
    render(
      <QueryClientProvider client={newQueryClient()}>
        <MemoryRouter initialEntries={['/login']}>
          <SessionProvider>
            <Routes>
              <Route path="/login" element={<LoginPage />} />
              <Route path="/" element={<p>home page</p>} />
            </Routes>
          </SessionProvider>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    await submit('admin', 'right');
    expect(await screen.findByText('home page')).toBeTruthy();
  });

  it('offers a button per redirect provider and a directory choice for LDAP, ignoring foreign URLs', async () => {
    const ue = userEvent.setup();
    const calls = renderLogin(() => json(401, { error: { code: 'InvalidCredentials', message: 'invalid username or password' } }), [
      { name: 'corp', type: 'OIDC', displayName: 'Corp SSO', loginURL: '/v1/auth/corp/start' },
      { name: 'gh', type: 'GitHub', displayName: 'GitHub', loginURL: '/v1/auth/gh/start' },
      { name: 'ad', type: 'LDAP', displayName: 'Active Directory', loginURL: '/v1/auth/ldap/ad/login' },
      { name: 'evil', type: 'OIDC', displayName: 'Evil', loginURL: 'https://evil.example.com/steal' },
    ]);
    expect((await screen.findByRole('link', { name: 'Log in with Corp SSO' })).getAttribute('href')).toBe('/v1/auth/corp/start');
    expect(screen.getByRole('link', { name: 'Log in with GitHub' }).getAttribute('href')).toBe('/v1/auth/gh/start');
    expect(screen.queryByRole('link', { name: 'Log in with Evil' })).toBeNull();
    await ue.selectOptions(screen.getByLabelText('Account'), 'Active Directory');
    await submit('alice', 'pw');
    await screen.findByRole('alert');
    expect(calls.some((c) => c.url === '/v1/auth/ldap/ad/login' && c.method === 'POST')).toBe(true);
    expect(calls.some((c) => c.url === '/v1/login')).toBe(false);
  });

  it('shows no provider buttons when none is enabled', async () => {
    renderLogin(() => json(500, {}));
    await screen.findByLabelText('User name');
    expect(screen.queryByRole('link', { name: /^Log in with/ })).toBeNull();
    expect(screen.queryByLabelText('Account')).toBeNull();
  });
});
