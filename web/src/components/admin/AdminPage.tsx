import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import {
  addMember,
  BUILTIN_TEMPLATES,
  contextOf,
  listRoleTemplates,
  createUser,
  deleteProvider,
  listAuthProvidersAdmin,
  listMembers,
  listUsers,
  removeMember,
  setProviderState,
  setUserEnabled,
  testProvider,
  type AuthProvider,
  type Member,
  type ProviderTest,
  type Scope,
  type User,
} from '../../lib/admin';
import { isAdmin, listClusters, listProjects } from '../../lib/api';
import { useSession } from '../../lib/session';
import { AuditTab } from './AuditTab';
import { GroupsTab } from './GroupsTab';
import { ProjectsTab } from './ProjectsTab';
import { ProviderForm } from './ProviderForm';
import { RoleTemplatesTab } from './RoleTemplatesTab';
import { ClustersTab } from './ClustersTab';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';
import { useTitle } from '../common/useTitle';

const TABS = ['users', 'groups', 'members', 'roletemplates', 'projects', 'clusters', 'providers', 'audit'] as const;
type Tab = (typeof TABS)[number];

/** AdminPage gathers what administrators manage: users, groups, members of clusters and projects, identity providers. */
export function AdminPage() {
  const { t } = useTranslation();
  const { state } = useSession();
  const tab = (useParams().tab ?? 'users') as Tab;
  useTitle(t('Administration'));
  if (state.status === 'authenticated' && !isAdmin(state.me)) {
    return (
      <section className="page">
        <h1>{t('Administration')}</h1>
        <ErrorMessage title={t('Only administrators may open this page.')} error={t('Ask an administrator if you need to manage users or access.')} />
      </section>
    );
  }
  const label: Record<Tab, string> = { users: t('Users'), groups: t('Groups'), members: t('Members'), roletemplates: t('Role templates'), projects: t('Projects'), clusters: t('glossary|Clusters'), providers: t('Identity providers'), audit: t('Audit log') };
  return (
    <section className="page" aria-labelledby="admin-title">
      <h1 id="admin-title">{t('Administration')}</h1>
      <nav className="kind-tabs" aria-label={t('Administration')}>
        {TABS.map((x) => (
          <Link key={x} to={`/admin/${x}`} aria-current={tab === x ? 'page' : undefined}>
            {label[x]}
          </Link>
        ))}
      </nav>
      {tab === 'users' && <UsersTab />}
      {tab === 'groups' && <GroupsTab />}
      {tab === 'members' && <MembersTab />}
      {tab === 'roletemplates' && <RoleTemplatesTab />}
      {tab === 'projects' && <ProjectsTab />}
      {tab === 'clusters' && <ClustersTab />}
      {tab === 'providers' && <ProvidersTab />}
      {tab === 'audit' && <AuditTab />}
      {!TABS.includes(tab) && <p className="empty-inline">{t('There is no such page.')}</p>}
    </section>
  );
}

function useUsers() {
  return useQuery({ queryKey: ['v1', 'users'], queryFn: ({ signal }) => listUsers(signal) });
}

function UsersTab() {
  const { t } = useTranslation();
  const users = useUsers();
  const qc = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const toggle = async (u: User) => {
    setError(undefined);
    try {
      await setUserEnabled(u.name, u.state !== 'Active');
      await qc.invalidateQueries({ queryKey: ['v1', 'users'] });
    } catch (err) {
      setError(err);
    }
  };
  const columns: Column<User>[] = [
    { id: 'username', header: t('User name'), value: (u) => u.username || u.name },
    { id: 'display', header: t('Display name'), value: (u) => u.displayName ?? '' },
    { id: 'state', header: t('Status'), value: (u) => u.state, render: (u) => <StatusBadge tone={u.state === 'Active' ? 'ok' : 'bad'}>{u.state === 'Active' ? t('Active') : t('Disabled')}</StatusBadge> },
    { id: 'groups', header: t('Groups'), value: (u) => (u.groups ?? []).join(', ') },
    { id: 'login', header: t('Last login'), value: (u) => u.lastLoginTime ?? '', render: (u) => (u.lastLoginTime ? new Date(u.lastLoginTime).toLocaleString() : t('Never')) },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (u) => (
        <button type="button" className="button small" onClick={() => void toggle(u)} aria-label={u.state === 'Active' ? t('Disable {{name}}', { name: u.username || u.name }) : t('Enable {{name}}', { name: u.username || u.name })}>
          {u.state === 'Active' ? t('Disable') : t('Enable')}
        </button>
      ),
    },
  ];
  return (
    <section className="section" aria-labelledby="users-title">
      <div className="section-header">
        <h2 id="users-title">{t('Users')}</h2>
        <button type="button" className="button primary" onClick={() => setCreating(true)}>
          {t('Add a user')}
        </button>
      </div>
      {error !== undefined && <ErrorMessage title={t('Could not change the user.')} error={error} />}
      {users.error ? <ErrorMessage title={t('Could not load the users.')} error={users.error} /> : !users.data ? <Loading /> : <ResourceTable label={t('Users')} rows={users.data} rowKey={(u) => u.name} columns={columns} empty={t('No users yet.')} />}
      {creating && <CreateUserDialog onClose={() => setCreating(false)} />}
    </section>
  );
}

function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [mustChange, setMustChange] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ids = { u: useId(), d: useId(), p: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await createUser(username.trim(), displayName.trim(), password, mustChange);
      await qc.invalidateQueries({ queryKey: ['v1', 'users'] });
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('Add a user')} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <label htmlFor={ids.u}>{t('User name')}</label>
        <input id={ids.u} required autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor={ids.d}>{t('Display name')}</label>
        <input id={ids.d} autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        <label htmlFor={ids.p}>{t('Initial password')}</label>
        <input id={ids.p} type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        <p className="field-hint">{t('Give it to the user in person; they can change it after logging in.')}</p>
        <label className="check">
          <input type="checkbox" checked={mustChange} onChange={(e) => setMustChange(e.target.checked)} />
          {t('Ask for a new password at the first login')}
        </label>
        {error !== undefined && <ErrorMessage title={t('Could not add the user.')} error={error} />}
        <div className="dialog-buttons">
          <button type="button" className="button" onClick={onClose}>
            {t('Cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !username.trim() || !password}>
            {t('Add')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function MembersTab() {
  const { t } = useTranslation();
  const [scope, setScope] = useState<Scope>('projects');
  const [target, setTarget] = useState('');
  const clusters = useQuery({ queryKey: ['v1', 'clusters'], queryFn: ({ signal }) => listClusters(signal) });
  const projects = useQuery({ queryKey: ['v1', 'projects', ''], queryFn: ({ signal }) => listProjects('', signal) });
  const ids = { scope: useId(), target: useId() };
  const options = scope === 'clusters' ? (clusters.data ?? []).map((c) => ({ value: c.name, label: c.name })) : (projects.data ?? []).map((p) => ({ value: p.name, label: `${p.displayName || p.name} (${p.cluster})` }));
  const current = options.some((o) => o.value === target) ? target : (options[0]?.value ?? '');
  return (
    <section className="section" aria-labelledby="members-title">
      <h2 id="members-title">{t('Members')}</h2>
      <div className="toolbar">
        <label htmlFor={ids.scope}>{t('Grant in')}</label>
        <select id={ids.scope} value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
          <option value="projects">{t('a project')}</option>
          <option value="clusters">{t('a cluster')}</option>
        </select>
        <label htmlFor={ids.target}>{scope === 'clusters' ? t('glossary|Cluster') : t('glossary|Project')}</label>
        <select id={ids.target} value={current} onChange={(e) => setTarget(e.target.value)} disabled={options.length === 0}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      {options.length === 0 ? (
        <p className="empty-inline">{scope === 'clusters' ? t('No clusters yet.') : t('No projects yet: create one under Projects.')}</p>
      ) : (
        current && <MemberList key={`${scope}/${current}`} scope={scope} name={current} />
      )}
    </section>
  );
}

function MemberList({ scope, name }: { scope: Scope; name: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', scope, name, 'members'];
  const members = useQuery({ queryKey: key, queryFn: ({ signal }) => listMembers(scope, name, signal) });
  const users = useUsers();
  const [removing, setRemoving] = useState<Member | null>(null);
  const userLabel = (n: string) => {
    const u = users.data?.find((x) => x.name === n);
    return u ? u.username || u.name : n;
  };
  const columns: Column<Member>[] = [
    { id: 'subject', header: t('Who'), value: (m) => (m.subject.kind === 'User' ? userLabel(m.subject.name) : m.subject.name) },
    { id: 'kind', header: t('Kind'), value: (m) => (m.subject.kind === 'User' ? t('User') : t('Group')) },
    { id: 'role', header: t('Role template'), value: (m) => m.roleTemplate },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (m) => (
        <button type="button" className="button small danger" aria-label={t('Remove {{name}}', { name: m.subject.kind === 'User' ? userLabel(m.subject.name) : m.subject.name })} onClick={() => setRemoving(m)}>
          {t('Remove')}
        </button>
      ),
    },
  ];
  return (
    <>
      <AddMemberForm scope={scope} name={name} users={users.data ?? []} onAdded={() => void qc.invalidateQueries({ queryKey: key })} />
      {members.error ? <ErrorMessage title={t('Could not load the members.')} error={members.error} /> : !members.data ? <Loading /> : <ResourceTable label={t('Members of {{name}}', { name })} rows={members.data} rowKey={(m) => m.binding} columns={columns} empty={t('No members yet: add a user or a group above.')} />}
      {removing && (
        <ConfirmDialog
          title={t('Remove {{name}}?', { name: removing.subject.kind === 'User' ? userLabel(removing.subject.name) : removing.subject.name })}
          body={t('They lose what {{role}} grants in {{name}} within seconds.', { role: removing.roleTemplate, name })}
          action={t('Remove')}
          run={async () => {
            await removeMember(scope, name, removing.binding);
            await qc.invalidateQueries({ queryKey: key });
          }}
          onClose={() => setRemoving(null)}
        />
      )}
    </>
  );
}

function AddMemberForm({ scope, name, users, onAdded }: { scope: Scope; name: string; users: User[]; onAdded: () => void }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<'User' | 'Group'>('User');
  const [who, setWho] = useState('');
  const [role, setRole] = useState(BUILTIN_TEMPLATES[scope][1] ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ids = { kind: useId(), who: useId(), role: useId() };
  // The templates of this scope the server has, when it lists them; the built-in names otherwise.
  const templates = useQuery({ queryKey: ['v1', 'roletemplates'], queryFn: ({ signal }) => listRoleTemplates(signal), retry: false });
  const offered = templates.data ? templates.data.filter((r) => contextOf(r) === (scope === 'clusters' ? 'Cluster' : 'Project') && r.state !== 'Locked').map((r) => r.name) : BUILTIN_TEMPLATES[scope];
  const subject = kind === 'User' ? who || users[0]?.name || '' : who.trim();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!subject || !role.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      await addMember(scope, name, { kind, name: subject }, role.trim());
      setWho('');
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="toolbar card" onSubmit={(e) => void submit(e)} aria-label={t('Add a member')}>
      <label htmlFor={ids.kind}>{t('Kind')}</label>
      <select
        id={ids.kind}
        value={kind}
        onChange={(e) => {
          setKind(e.target.value as 'User' | 'Group');
          setWho('');
        }}
      >
        <option value="User">{t('User')}</option>
        <option value="Group">{t('Group')}</option>
      </select>
      <label htmlFor={ids.who}>{kind === 'User' ? t('User') : t('Group')}</label>
      {kind === 'User' ? (
        <select id={ids.who} value={subject} onChange={(e) => setWho(e.target.value)}>
          {users.map((u) => (
            <option key={u.name} value={u.name}>
              {u.username || u.name}
            </option>
          ))}
        </select>
      ) : (
        <input id={ids.who} value={who} onChange={(e) => setWho(e.target.value)} placeholder="ml-team" />
      )}
      <label htmlFor={ids.role}>{t('Role template')}</label>
      <input id={ids.role} list={`${ids.role}-list`} value={role} onChange={(e) => setRole(e.target.value)} />
      <datalist id={`${ids.role}-list`}>
        {offered.map((r) => (
          <option key={r} value={r} />
        ))}
      </datalist>
      <button type="submit" className="button primary" disabled={busy || !subject || !role.trim()}>
        {t('Grant')}
      </button>
      {error !== undefined && <ErrorMessage title={t('Could not grant access.')} error={error} />}
    </form>
  );
}

function ProvidersTab() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'admin', 'authproviders'];
  const providers = useQuery({ queryKey: key, queryFn: ({ signal }) => listAuthProvidersAdmin(signal) });
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const [deleting, setDeleting] = useState<AuthProvider | null>(null);
  const [editing, setEditing] = useState<AuthProvider | 'new' | null>(null);
  const act = async (fn: () => Promise<unknown>, done: (result: unknown) => string) => {
    setError(undefined);
    setNotice('');
    try {
      setNotice(done(await fn()));
    } catch (err) {
      setError(err);
    } finally {
      await qc.invalidateQueries({ queryKey: key });
    }
  };
  const ready = (p: AuthProvider) => p.conditions?.find((c) => c.type === 'Ready' || c.type === 'Connected');
  const columns: Column<AuthProvider>[] = [
    { id: 'name', header: t('Name'), value: (p) => p.name },
    { id: 'type', header: t('Type'), value: (p) => p.spec.type },
    { id: 'display', header: t('Display name'), value: (p) => p.spec.displayName ?? '' },
    { id: 'state', header: t('Status'), value: (p) => p.spec.state ?? 'Enabled', render: (p) => <StatusBadge tone={p.spec.state === 'Disabled' ? 'unknown' : 'ok'}>{p.spec.state === 'Disabled' ? t('Disabled') : t('Enabled')}</StatusBadge> },
    {
      id: 'test',
      header: t('Last test'),
      value: (p) => ready(p)?.status ?? '',
      render: (p) => {
        const c = ready(p);
        if (!c) return t('Not tested');
        return <StatusBadge tone={c.status === 'True' ? 'ok' : 'bad'}>{c.status === 'True' ? t('Works') : (c.message ?? c.reason ?? t('Failed'))}</StatusBadge>;
      },
    },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (p) => (
        <span className="row-actions">
          <button type="button" className="button small" aria-label={t('Test {{name}}', { name: p.name })} onClick={() =>
              void act(
                () => testProvider(p.name),
                (r) => {
                  const res = r as ProviderTest;
                  return res.ready ? t('{{name}} works.', { name: p.name }) : t('{{name}} failed its test ({{reason}}): {{message}}', { name: p.name, reason: res.reason, message: res.message });
                },
              )
            }
          >
            {t('Test')}
          </button>
          <button
            type="button"
            className="button small"
            aria-label={p.spec.state === 'Disabled' ? t('Enable {{name}}', { name: p.name }) : t('Disable {{name}}', { name: p.name })}
            onClick={() => void act(() => setProviderState(p, p.spec.state === 'Disabled' ? 'Enabled' : 'Disabled'), () => t('{{name}} was changed.', { name: p.name }))}
          >
            {p.spec.state === 'Disabled' ? t('Enable') : t('Disable')}
          </button>
          <button type="button" className="button small" aria-label={t('Edit {{name}}', { name: p.name })} onClick={() => setEditing(p)}>
            {t('Edit')}
          </button>
          <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: p.name })} onClick={() => setDeleting(p)}>
            {t('Delete')}
          </button>
        </span>
      ),
    },
  ];
  return (
    <section className="section" aria-labelledby="providers-title">
      <div className="section-header">
        <h2 id="providers-title">{t('Identity providers')}</h2>
        <button type="button" className="button primary" onClick={() => setEditing('new')}>
          {t('Add an identity provider')}
        </button>
      </div>
      {editing && <ProviderForm key={editing === 'new' ? '' : editing.name} existing={editing === 'new' ? undefined : editing} onSaved={() => void qc.invalidateQueries({ queryKey: key })} onClose={() => setEditing(null)} />}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error !== undefined && <ErrorMessage title={t('The identity provider could not be changed or tested.')} error={error} />}
      {providers.error ? (
        <ErrorMessage title={t('Could not load the identity providers.')} error={providers.error} />
      ) : !providers.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('Identity providers')} rows={providers.data} rowKey={(p) => p.name} columns={columns} empty={t('No identity providers: only local accounts can log in.')} />
      )}
      {deleting && (
        <ConfirmDialog
          title={t('Delete {{name}}?', { name: deleting.name })}
          body={t('Nobody can log in through {{name}} any more. Its users and their access stay.', { name: deleting.name })}
          action={t('Delete')}
          run={async () => {
            await deleteProvider(deleting.name);
            await qc.invalidateQueries({ queryKey: key });
          }}
          onClose={() => setDeleting(null)}
        />
      )}
    </section>
  );
}
