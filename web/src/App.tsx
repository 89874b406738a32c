import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation } from 'react-router';
import { LoginPage } from './components/auth/LoginPage';
import { ClusterListPage } from './components/cluster/ClusterListPage';
import { ClusterPage } from './components/cluster/ClusterPage';
import { Loading } from './components/common/Loading';
import { NotFoundPage } from './components/common/NotFoundPage';
import { AppShell } from './components/layout/AppShell';
import { ApiError } from './lib/api';
import { SessionProvider, useSession } from './lib/session';

// The YAML parser is most of the apply page's weight: it loads with the
// page, not with the app.
const ApplyPage = lazy(() => import('./components/apply/ApplyPage').then((m) => ({ default: m.ApplyPage })));

// The "New training task" form carries the YAML library for its preview.
const NewTaskPage = lazy(() => import('./components/mltask/NewTaskPage').then((m) => ({ default: m.NewTaskPage })));

const NotificationsPage = lazy(() =>
  import('./components/notifications/NotificationsPage').then((m) => ({ default: m.NotificationsPage })),
);
const PodDetails = lazy(() => import('./components/pod/Details').then((m) => ({ default: m.PodDetails })));
const AdminPage = lazy(() => import('./components/admin/AdminPage').then((m) => ({ default: m.AdminPage })));
const TokensPage = lazy(() => import('./components/account/TokensPage').then((m) => ({ default: m.TokensPage })));
const PasswordPage = lazy(() => import('./components/auth/PasswordPage').then((m) => ({ default: m.PasswordPage })));
const DeployPage = lazy(() => import('./components/deploy/DeployPage').then((m) => ({ default: m.DeployPage })));
const ResourceDetails = lazy(() => import('./components/resource/Details').then((m) => ({ default: m.ResourceDetails })));

export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A refused or missing object stays refused on retry; only
        // network and server failures are worth another try.
        retry: (failures, err) => failures < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
        staleTime: 5_000,
      },
    },
  });
}

/** RequireAuth shows its pages to a logged-in user and sends others to login. */
function RequireAuth() {
  const { state } = useSession();
  const location = useLocation();
  if (state.status === 'loading') return <Loading fullPage />;
  if (state.status === 'anonymous') {
    // After an explicit logout the next login starts at home.
    const from = state.reason === 'loggedOut' ? undefined : location.pathname + location.search;
    return <Navigate to="/login" replace state={{ from }} />;
  }
  // An administrator set this password: the user chooses their own first.
  if (state.me.mustChangePassword && location.pathname !== '/account/password') {
    return <Navigate to="/account/password" replace state={{ from: location.pathname + location.search }} />;
  }
  return (
    <AppShell>
      <Outlet />
    </AppShell>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<RequireAuth />}>
        <Route path="/" element={<ClusterListPage />} />
        <Route path="/clusters/:name" element={<ClusterPage />} />
        <Route
          path="/clusters/:name/namespaces/:namespace/pods/:pod"
          element={
            <Suspense fallback={<Loading />}>
              <PodDetails />
            </Suspense>
          }
        />
        <Route
          path="/clusters/:name/mltasks/new"
          element={
            <Suspense fallback={<Loading />}>
              <NewTaskPage />
            </Suspense>
          }
        />
        <Route
          path="/clusters/:name/namespaces/:namespace/:kind/:object"
          element={
            <Suspense fallback={<Loading />}>
              <ResourceDetails />
            </Suspense>
          }
        />
        <Route
          path="/clusters/:name/deploy"
          element={
            <Suspense fallback={<Loading />}>
              <DeployPage />
            </Suspense>
          }
        />
        <Route
          path="/clusters/:name/apply"
          element={
            <Suspense fallback={<Loading />}>
              <ApplyPage />
            </Suspense>
          }
        />
        <Route
          path="/notifications"
          element={
            <Suspense fallback={<Loading />}>
              <NotificationsPage />
            </Suspense>
          }
        />
        <Route
          path="/account/password"
          element={
            <Suspense fallback={<Loading />}>
              <PasswordPage />
            </Suspense>
          }
        />
        <Route
          path="/account/tokens"
          element={
            <Suspense fallback={<Loading />}>
              <TokensPage />
            </Suspense>
          }
        />
        <Route
          path="/admin/:tab?"
          element={
            <Suspense fallback={<Loading />}>
              <AdminPage />
            </Suspense>
          }
        />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App() {
  const [queryClient] = useState(newQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <SessionProvider>
          <AppRoutes />
        </SessionProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
