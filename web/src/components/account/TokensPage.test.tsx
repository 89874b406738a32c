import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppRoutes, newQueryClient } from '../../App';
import { setCsrfToken } from '../../lib/api';
import { SessionProvider } from '../../lib/session';
import { json, mockFetch, type Call } from '../../test/fetch';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const alice = { name: 'u-alice', username: 'alice', groups: [], globalRoles: [], csrfToken: 'c' };
const admin = { ...alice, name: 'admin', username: 'admin', globalRoles: ['admin'] };
const mine = [
  { id: 't-session', userName: 'u-alice', kind: 'Session', createdAt: '2026-11-01T10:00:00Z', expiresAt: '2026-11-24T10:00:00Z', expired: false, current: true },
  { id: 't-ci', userName: 'u-alice', kind: 'API', description: 'CI job', createdAt: '2026-11-01T10:00:00Z', expiresAt: '2026-12-01T10:00:00Z', lastUsedTime: '2026-11-20T10:00:00Z', expired: false, current: false },
];

function renderAt(path: string, handler: (c: Call) => Response | undefined, me: object) {
  const calls = mockFetch((c) => {
    if (c.url === '/v1/me') return json(200, me);
    if (c.url.startsWith('/v1/notifications')) return json(200, { items: [], unread: 0 });
    return handler(c) ?? json(404, { error: { code: 'NotFound', message: `no ${c.url}` } });
  });
  render(
    <QueryClientProvider client={newQueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider>
          <AppRoutes />
        </SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return calls;
}

describe('TokensPage', () => {
  it('creates a token, shows its value once with a warning, and lists it', async () => {
    const user = userEvent.setup();
    let tokens = [...mine];
    const calls = renderAt(
      '/account/tokens',
      (c) => {
        if (c.url === '/v1/tokens' && c.method === 'POST') {
          const body = JSON.parse(c.body!);
          const tok = { id: 't-new', userName: 'u-alice', kind: 'API', description: body.description, createdAt: '2026-11-23T10:00:00Z', expiresAt: '2026-11-30T10:00:00Z', expired: false, current: false };
          tokens = [...tokens, tok];
          return json(201, { ...tok, token: 't-new.s3cr3t-value' });
        }
        if (c.url === '/v1/tokens') return json(200, { items: tokens });
        return undefined;
      },
      alice,
    );
    const table = await screen.findByRole('table', { name: 'Tokens' });
    expect(within(table).getByText('Browser session (this session)')).toBeTruthy();
    expect(screen.queryByLabelText("Show every user's tokens")).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Create a token' }));
    const dialog = screen.getByRole('dialog', { name: 'Create a token' });
    await user.type(within(dialog).getByLabelText('Description'), 'nightly backup');
    await user.selectOptions(within(dialog).getByLabelText('Expires after'), '7 days');
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    const shown = await screen.findByRole('dialog', { name: 'Your new token' });
    expect((within(shown).getByLabelText('Token') as HTMLInputElement).value).toBe('t-new.s3cr3t-value');
    expect(within(shown).getByText(/shown only this once/)).toBeTruthy();
    expect(within(shown).getByRole('button', { name: 'Copy the token' })).toBeTruthy();
    const post = calls.find((c) => c.method === 'POST')!;
    expect(JSON.parse(post.body!)).toEqual({ description: 'nightly backup', ttlSeconds: 7 * 86400, kind: 'API' });
    expect(post.headers.get('X-CSRF-Token')).toBe('c');
    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    expect(await within(screen.getByRole('table', { name: 'Tokens' })).findByText('nightly backup')).toBeTruthy();
    // The value is gone from the page once the dialog closes.
    expect(document.body.textContent).not.toContain('s3cr3t');
  });

  it('shows the server’s refusal when a token cannot be created', async () => {
    const user = userEvent.setup();
    renderAt(
      '/account/tokens',
      (c) => (c.method === 'POST' ? json(400, { error: { code: 'BadRequest', message: 'ttlSeconds must be between 0 (the default, 2592000) and 7776000' } }) : c.url === '/v1/tokens' ? json(200, { items: mine }) : undefined),
      alice,
    );
    await user.click(await screen.findByRole('button', { name: 'Create a token' }));
    const dialog = screen.getByRole('dialog', { name: 'Create a token' });
    await user.type(within(dialog).getByLabelText('Description'), 'x');
    await user.selectOptions(within(dialog).getByLabelText('Expires after'), '365 days');
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(await within(dialog).findByText(/ttlSeconds must be between/)).toBeTruthy();
  });

  it('lets an administrator list every user’s tokens and revoke one after confirming', async () => {
    const user = userEvent.setup();
    let others = [{ id: 't-bob', userName: 'u-bob', kind: 'API', description: 'bob laptop', createdAt: '2026-11-01T10:00:00Z', expired: false, current: false }];
    const calls = renderAt(
      '/account/tokens',
      (c) => {
        if (c.url === '/v1/tokens?all=true') return json(200, { items: [...mine, ...others] });
        if (c.url === '/v1/tokens') return json(200, { items: mine });
        if (c.url === '/v1/tokens/t-bob' && c.method === 'DELETE') {
          others = [];
          return new Response(null, { status: 204 });
        }
        return undefined;
      },
      admin,
    );
    await screen.findByRole('table', { name: 'Tokens' });
    await user.click(screen.getByLabelText("Show every user's tokens"));
    const table = await screen.findByRole('table', { name: 'Tokens' });
    const row = await within(table).findByRole('row', { name: /bob laptop/ });
    expect(within(row).getByText('u-bob')).toBeTruthy();
    await user.click(within(row).getByRole('button', { name: 'Revoke bob laptop' }));
    const dialog = screen.getByRole('dialog', { name: 'Revoke bob laptop?' });
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.queryByText('bob laptop')).toBeNull());
    expect(calls.some((c) => c.method === 'DELETE' && c.url === '/v1/tokens/t-bob')).toBe(true);
  });
});
