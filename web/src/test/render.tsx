import { QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { AppRoutes, newQueryClient } from '../App';
import { SessionProvider } from '../lib/session';
import { json, mockFetch, type Call } from './fetch';

export const adminMe = { name: 'admin', username: 'admin', groups: [], globalRoles: ['admin'], csrfToken: 'c' };

/**
 * renderApp opens the whole app at path, logged in as me, against a fetch
 * stub: handler answers what the page asks for; anything else is a 404.
 */
export function renderApp(path: string, handler: (c: Call) => Response | undefined, me: object = adminMe): Call[] {
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
