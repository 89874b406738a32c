import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { createGroup, deleteGroup, groupsOf, listGroups, listUsers, updateGroup, type Group, type User } from '../../lib/admin';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';

const GROUP_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * GroupsTab manages bokujo's own groups of users (create, edit members,
 * delete) and shows the groups identity providers report at login.
 */
export function GroupsTab() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'groups'];
  const groups = useQuery({ queryKey: key, queryFn: ({ signal }) => listGroups(signal) });
  const users = useQuery({ queryKey: ['v1', 'users'], queryFn: ({ signal }) => listUsers(signal) });
  const [editing, setEditing] = useState<Group | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const userLabel = (n: string) => {
    const u = users.data?.find((x) => x.name === n);
    return u ? u.username || u.name : n;
  };
  const columns: Column<Group>[] = [
    { id: 'name', header: t('Group'), value: (g) => g.name },
    { id: 'display', header: t('Display name'), value: (g) => g.displayName ?? '' },
    { id: 'count', header: t('Members'), value: (g) => g.members?.length ?? 0, numeric: true },
    { id: 'members', header: t('Users'), value: (g) => (g.members ?? []).map(userLabel).join(', ') },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (g) => (
        <span className="row-actions">
          <button type="button" className="button small" aria-label={t('Edit {{name}}', { name: g.name })} onClick={() => setEditing(g)}>
            {t('Edit')}
          </button>
          <button type="button" className="button small danger" aria-label={t('Delete {{name}}', { name: g.name })} onClick={() => setDeleting(g)}>
            {t('Delete')}
          </button>
        </span>
      ),
    },
  ];
  const external = groupsOf(users.data ?? []);
  const externalColumns: Column<{ group: string; members: string[] }>[] = [
    { id: 'group', header: t('Group'), value: (g) => g.group },
    { id: 'count', header: t('Members'), value: (g) => g.members.length, numeric: true },
    { id: 'members', header: t('Users'), value: (g) => g.members.join(', ') },
  ];
  return (
    <section className="section" aria-labelledby="groups-title">
      <div className="section-header">
        <h2 id="groups-title">{t('Groups')}</h2>
        <button type="button" className="button primary" onClick={() => setEditing('new')}>
          {t('Create a group')}
        </button>
      </div>
      <p className="muted">{t('Grant a group access under Members; it applies to everyone in it.')}</p>
      {editing && <GroupForm key={editing === 'new' ? '' : editing.name} existing={editing === 'new' ? undefined : editing} users={users.data ?? []} onClose={() => setEditing(null)} onSaved={() => void qc.invalidateQueries({ queryKey: key })} />}
      {groups.error ? (
        <ErrorMessage title={t('Could not load the groups.')} error={groups.error} onRetry={() => void groups.refetch()} />
      ) : !groups.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('Groups')} rows={groups.data} rowKey={(g) => g.name} columns={columns} empty={t('No groups yet: create one to grant several users the same access at once.')} />
      )}
      <h3>{t('Groups from identity providers')}</h3>
      <p className="muted">{t('Identity providers report these at each login; they change in the provider, not here.')}</p>
      {users.error ? <ErrorMessage title={t('Could not load the users.')} error={users.error} /> : !users.data ? <Loading /> : <ResourceTable label={t('Groups from identity providers')} rows={external} rowKey={(g) => g.group} columns={externalColumns} empty={t('No user belongs to a group yet.')} />}
      {deleting && (
        <ConfirmDialog
          title={t('Delete {{name}}?', { name: deleting.name })}
          body={t('Its members lose what was granted to the group.')}
          action={t('Delete')}
          run={async () => {
            await deleteGroup(deleting.name);
            await qc.invalidateQueries({ queryKey: key });
          }}
          onClose={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

function GroupForm({ existing, users, onClose, onSaved }: { existing?: Group; users: User[]; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState(existing?.name ?? '');
  const [displayName, setDisplayName] = useState(existing?.displayName ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [members, setMembers] = useState<string[]>(existing?.members ?? []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ids = { name: useId(), display: useId(), desc: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const g: Group = { name, displayName: displayName.trim() || undefined, description: description.trim() || undefined, members: [...members].sort() };
    try {
      await (existing ? updateGroup(g) : createGroup(g));
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const title = existing ? t('Edit {{name}}', { name: existing.name }) : t('Create a group');
  // Members the user list no longer has (deleted users) stay visible, so saving does not drop them silently.
  const known = new Set(users.map((u) => u.name));
  const options = [...users.map((u) => ({ value: u.name, label: u.username || u.name })), ...members.filter((m) => !known.has(m)).map((m) => ({ value: m, label: m }))];
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={title}>
      <h3>{title}</h3>
      <label htmlFor={ids.name}>{t('Name')}</label>
      <input id={ids.name} required disabled={existing !== undefined} autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={name !== '' && !GROUP_NAME.test(name)} placeholder="ml-team" />
      <label htmlFor={ids.display}>{t('Display name')}</label>
      <input id={ids.display} autoComplete="off" maxLength={256} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      <label htmlFor={ids.desc}>{t('Description')}</label>
      <input id={ids.desc} autoComplete="off" maxLength={1024} value={description} onChange={(e) => setDescription(e.target.value)} />
      <fieldset className="subsection">
        <legend>{t('Members')}</legend>
        {options.length === 0 && <p className="empty-inline">{t('No users yet: add users first.')}</p>}
        {options.map((o) => (
          <label key={o.value} className="check">
            <input type="checkbox" checked={members.includes(o.value)} onChange={(e) => setMembers(e.target.checked ? [...members, o.value] : members.filter((m) => m !== o.value))} />
            {o.label}
          </label>
        ))}
      </fieldset>
      {error !== undefined && <ErrorMessage title={t('Could not save the group.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !GROUP_NAME.test(name)}>
          {t('Save')}
        </button>
      </div>
    </form>
  );
}
