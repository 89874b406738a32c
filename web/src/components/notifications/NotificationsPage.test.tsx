import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
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

const carol = { name: 'carol', username: 'carol', groups: ['data-team'], globalRoles: [], csrfToken: 'csrf-1' };

const feed = () => ({
  unread: 2,
  items: [
    {
      name: 'access-b',
      reason: 'AccessGranted',
      cluster: 'dev',
      project: 'vision',
      roleTemplate: 'project-member',
      via: 'data-team',
      message: 'server text',
      kubeconfigURL: 'https://bokujo.example/v1/kubeconfig',
      time: '2026-11-23T10:00:00Z',
    },
    {
      name: 'access-a',
      reason: 'AccessGranted',
      cluster: 'dev',
      roleTemplate: 'cluster-viewer',
      message: 'server text',
      kubeconfigURL: 'https://bokujo.example/v1/kubeconfig',
      time: '2026-11-23T09:00:00Z',
    },
  ],
});

function renderAt(path: string, handler: (c: Call) => Response | undefined) {
  const calls = mockFetch((c) => {
    if (c.url === '/v1/me') return json(200, carol);
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

describe('NotificationsPage', () => {
  it('tells what access came, through which group, with the unread count in the navigation', async () => {
    renderAt('/notifications', (c) => (c.url.startsWith('/v1/notifications') ? json(200, feed()) : undefined));
    const list = await screen.findByRole('list', { name: 'Notifications' });
    expect(within(list).getByText(/You were added to project vision on cluster dev as project-member through group data-team\./)).toBeTruthy();
    expect(within(list).getByText(/You can now reach cluster dev as cluster-viewer\./)).toBeTruthy();
    expect(within(list).getAllByRole('link', { name: 'Download kubeconfig' })[0]?.getAttribute('href')).toBe('https://bokujo.example/v1/kubeconfig');
    expect(await screen.findByRole('link', { name: 'Notifications, 2 unread' })).toBeTruthy();
  });

  it('marks one read with the CSRF token, then all', async () => {
    const user = userEvent.setup();
    let state = feed();
    const calls = renderAt('/notifications', (c) => {
      if (c.method === 'POST' && c.url === '/v1/notifications/access-b/read') {
        state = { ...state, unread: 1, items: state.items.map((n) => (n.name === 'access-b' ? { ...n, readTime: '2026-11-23T11:00:00Z' } : n)) };
        return new Response(null, { status: 204 });
      }
      if (c.method === 'POST' && c.url === '/v1/notifications/read') {
        state = { ...state, unread: 0, items: state.items.map((n) => ({ ...n, readTime: '2026-11-23T11:00:00Z' })) };
        return new Response(null, { status: 204 });
      }
      if (c.url.startsWith('/v1/notifications')) return json(200, state);
      return undefined;
    });
    const list = await screen.findByRole('list', { name: 'Notifications' });
    const first = within(list).getByRole('listitem', { name: /project vision/ });
    await user.click(within(first).getByRole('button', { name: 'Mark read' }));
    await screen.findByRole('link', { name: 'Notifications, 1 unread' });
    const post = calls.find((c) => c.method === 'POST' && c.url === '/v1/notifications/access-b/read');
    expect(post?.headers.get('X-CSRF-Token')).toBe('csrf-1');
    await user.click(screen.getByRole('button', { name: 'Mark all read' }));
    await screen.findByRole('link', { name: 'Notifications' });
    expect(screen.queryByRole('button', { name: 'Mark all read' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Mark read' })).toBeNull();
  });

  it('explains the empty feed', async () => {
    renderAt('/notifications', (c) => (c.url.startsWith('/v1/notifications') ? json(200, { items: [], unread: 0 }) : undefined));
    expect(await screen.findByText(/Nothing yet: when you are given access/)).toBeTruthy();
  });
});
