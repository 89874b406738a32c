import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppRoutes, newQueryClient } from './App';
import { setCsrfToken } from './lib/api';
import { SessionProvider } from './lib/session';
import { json, mockFetch } from './test/fetch';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

function renderAt(path: string) {
  render(
    <QueryClientProvider client={newQueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider>
          <AppRoutes />
        </SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const me = { name: 'alice', username: 'alice', groups: [], globalRoles: [], csrfToken: 'c' };
const unauthorized = () => json(401, { error: { code: 'Unauthorized', message: 'authentication required' } });

describe('App', () => {
  it('sends a visitor without a session to login', async () => {
    mockFetch(unauthorized);
    renderAt('/clusters/dev');
    expect(await screen.findByRole('heading', { name: 'Log in to bokujo' })).toBeTruthy();
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('says so when the session ends while in use', async () => {
    mockFetch((c) => (c.url === '/v1/me' ? json(200, me) : unauthorized()));
    renderAt('/');
    expect(await screen.findByRole('heading', { name: 'Log in to bokujo' })).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('Your session has ended. Log in again to continue.');
  });

  it('explains an empty home page to a user without grants', async () => {
    mockFetch((c) => (c.url === '/v1/me' ? json(200, me) : json(200, { items: [] })));
    renderAt('/');
    expect(await screen.findByRole('heading', { name: 'No clusters yet' })).toBeTruthy();
    expect(screen.getByText(/Ask an administrator to grant you access/)).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Download kubeconfig' })).toBeNull();
  });

  it('asks for a new password before anything else when an administrator set it, then goes where the user was going', async () => {
    const user = userEvent.setup();
    let changed = false;
    const calls = mockFetch((c) => {
      if (c.url === '/v1/me') return json(200, { ...me, mustChangePassword: !changed });
      if (c.url === '/v1/me/password') {
        changed = true;
        return new Response(null, { status: 204 });
      }
      return json(200, { items: [] });
    });
    renderAt('/');
    expect(await screen.findByRole('heading', { name: 'Choose your own password' })).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Main' })).not.toBeNull();
    await user.type(screen.getByLabelText('Current password'), 'set-by-admin-123');
    await user.type(screen.getByLabelText('New password'), 'short');
    expect(screen.getByText('Use at least 12 characters.')).toBeTruthy();
    await user.clear(screen.getByLabelText('New password'));
    await user.type(screen.getByLabelText('New password'), 'my own passphrase');
    await user.type(screen.getByLabelText('New password again'), 'my own passphrase');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByRole('heading', { name: 'No clusters yet' })).toBeTruthy();
    const post = calls.find((c) => c.url === '/v1/me/password')!;
    expect(JSON.parse(post.body!)).toEqual({ currentPassword: 'set-by-admin-123', newPassword: 'my own passphrase' });
    expect(post.headers.get('X-CSRF-Token')).toBe('c');
  });
});
