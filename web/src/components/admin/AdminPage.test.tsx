import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppRoutes, newQueryClient } from '../../App';
import { groupsOf } from '../../lib/admin';
import { setCsrfToken } from '../../lib/api';
import { SessionProvider } from '../../lib/session';
import { json, mockFetch, type Call } from '../../test/fetch';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const admin = { name: 'admin', username: 'admin', groups: [], globalRoles: ['admin'], csrfToken: 'c' };
const users = [
  { name: 'admin', username: 'admin', state: 'Active' },
  { name: 'u-bob', username: 'bob', state: 'Active', groups: ['ml-team'] },
  { name: 'u-carol', username: 'carol', state: 'Disabled', groups: ['ml-team', 'ops'] },
];

function renderAt(path: string, handler: (c: Call) => Response | undefined, me: object = admin) {
  const calls = mockFetch((c) => {
    if (c.url === '/v1/me') return json(200, me);
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

describe('AdminPage', () => {
  it('grants a user a project with a role template and lists the new member', async () => {
    const user = userEvent.setup();
    let members: object[] = [];
    const calls = renderAt('/admin/members', (c) => {
      if (c.url.startsWith('/v1/users')) return json(200, { items: users });
      if (c.url.startsWith('/v1/clusters?')) return json(200, { items: [{ name: 'dev', ready: true, nodes: 2 }] });
      if (c.url.startsWith('/v1/projects?')) return json(200, { items: [{ name: 'ml', cluster: 'dev', displayName: 'ML' }] });
      if (c.url.startsWith('/v1/projects/ml/members') && c.method === 'POST') {
        members = [{ binding: 'b1', ...JSON.parse(c.body!) }];
        return json(201, members[0]);
      }
      if (c.url.startsWith('/v1/projects/ml/members')) return json(200, { items: members });
      return undefined;
    });
    expect(await screen.findByText('No members yet: add a user or a group above.')).toBeTruthy();
    const form = screen.getByRole('form', { name: 'Add a member' });
    await user.selectOptions(within(form).getByLabelText('User', { selector: 'select' }), 'bob');
    await user.clear(within(form).getByLabelText('Role template'));
    await user.type(within(form).getByLabelText('Role template'), 'project-member');
    await user.click(within(form).getByRole('button', { name: 'Grant' }));
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe('/v1/projects/ml/members');
    expect(post.headers.get('X-CSRF-Token')).toBe('c');
    expect(JSON.parse(post.body!)).toEqual({ subject: { kind: 'User', name: 'u-bob' }, roleTemplate: 'project-member' });
    const table = await screen.findByRole('table', { name: 'Members of ml' });
    expect(within(table).getByRole('rowheader', { name: 'bob' })).toBeTruthy();
    expect(within(table).getByText('project-member')).toBeTruthy();
  });

  it('lists users, enables a disabled one, and shows groups with their members', async () => {
    const user = userEvent.setup();
    const calls = renderAt('/admin/users', (c) => (c.url.startsWith('/v1/users?') ? json(200, { items: users }) : c.url === '/v1/users/u-carol/enable' ? json(200, {}) : undefined));
    await user.click(await screen.findByRole('button', { name: 'Enable carol' }));
    expect(calls.some((c) => c.method === 'POST' && c.url === '/v1/users/u-carol/enable')).toBe(true);
    expect(groupsOf(users)).toEqual([
      { group: 'ml-team', members: ['bob', 'carol'] },
      { group: 'ops', members: ['carol'] },
    ]);
  });

  it('is refused to non-administrators, who see no link to it', async () => {
    renderAt('/admin', () => json(200, { items: [] }), { ...admin, globalRoles: [] });
    expect(await screen.findByText('Only administrators may open this page.')).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Administration' })).toBeNull();
  });
});
