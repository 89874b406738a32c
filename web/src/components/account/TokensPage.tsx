import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { isAdmin } from '../../lib/api';
import { useSession } from '../../lib/session';
import { createToken, listTokens, revokeToken, TOKEN_LIFETIMES, type NewToken, type Token } from '../../lib/tokens';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { CopyButton } from '../common/CopyButton';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';
import { useTitle } from '../common/useTitle';

const when = (s: string | undefined) => (s ? new Date(s).toLocaleString() : '');

/** TokensPage lists the user's tokens (an administrator: everyone's), creates API tokens and revokes them. */
export function TokensPage() {
  const { t } = useTranslation();
  useTitle(t('Tokens'));
  const { state } = useSession();
  const admin = state.status === 'authenticated' && isAdmin(state.me);
  const [all, setAll] = useState(false);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const qc = useQueryClient();
  const showAll = admin && all;
  const key = ['v1', 'tokens', showAll];
  const tokens = useQuery({ queryKey: key, queryFn: ({ signal }) => listTokens(showAll, signal) });
  const kindLabel = (k: string) => (k === 'Session' ? t('Browser session') : k === 'Kubeconfig' ? t('Kubeconfig') : k === 'API' ? t('API') : k);
  const columns: Column<Token>[] = [
    { id: 'description', header: t('Description'), value: (x) => x.description || x.id },
    ...(showAll ? [{ id: 'owner', header: t('Owner'), value: (x: Token) => x.userName }] : []),
    { id: 'kind', header: t('Kind'), value: (x) => x.kind, render: (x) => (x.current ? `${kindLabel(x.kind)} (${t('this session')})` : kindLabel(x.kind)) },
    { id: 'created', header: t('Created'), value: (x) => x.createdAt, render: (x) => when(x.createdAt) },
    {
      id: 'expires',
      header: t('Expires'),
      value: (x) => x.expiresAt ?? '',
      render: (x) => (x.expired ? <StatusBadge tone="bad">{t('Expired')}</StatusBadge> : x.expiresAt ? when(x.expiresAt) : t('Never')),
    },
    { id: 'used', header: t('Last used'), value: (x) => x.lastUsedTime ?? '', render: (x) => (x.lastUsedTime ? when(x.lastUsedTime) : t('Never')) },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (x) => (
        <button type="button" className="button small danger" aria-label={t('Revoke {{name}}', { name: x.description || x.id })} onClick={() => setRevoking(x)}>
          {t('Revoke')}
        </button>
      ),
    },
  ];
  return (
    <section className="page" aria-labelledby="tokens-title">
      <div className="page-header">
        <h1 id="tokens-title">{t('Tokens')}</h1>
        <button type="button" className="button primary" onClick={() => setCreating(true)}>
          {t('Create a token')}
        </button>
      </div>
      <p className="muted">{t('A token lets scripts and tools (kubectl, curl, CI) act as you. Revoke the ones you no longer use.')}</p>
      {admin && (
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
          {t("Show every user's tokens")}
        </label>
      )}
      {tokens.error ? (
        <ErrorMessage title={t('Could not load the tokens.')} error={tokens.error} onRetry={() => void tokens.refetch()} />
      ) : !tokens.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('Tokens')} rows={tokens.data} rowKey={(x) => x.id} columns={columns} empty={t('No tokens yet: create one for a script or a tool.')} />
      )}
      {creating && <CreateTokenDialog onClose={() => setCreating(false)} onCreated={() => void qc.invalidateQueries({ queryKey: ['v1', 'tokens'] })} />}
      {revoking && (
        <ConfirmDialog
          title={t('Revoke {{name}}?', { name: revoking.description || revoking.id })}
          body={revoking.current ? t('This is the token of this browser session: you will be logged out.') : t('Whatever uses this token is refused from now on. This cannot be undone.')}
          action={t('Revoke')}
          run={async () => {
            await revokeToken(revoking.id);
            await qc.invalidateQueries({ queryKey: ['v1', 'tokens'] });
          }}
          onClose={() => setRevoking(null)}
        />
      )}
    </section>
  );
}

function CreateTokenDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const { t } = useTranslation();
  const [description, setDescription] = useState('');
  const [days, setDays] = useState<number>(30);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<NewToken | null>(null);
  const ids = { d: useId(), e: useId(), v: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await createToken(description.trim(), days * 86400));
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (created) {
    return (
      <Dialog title={t('Your new token')} onClose={onClose}>
        <p className="notice" role="alert">
          {t('Copy it now: it is shown only this once. Anyone with it can act as you until it expires or is revoked.')}
        </p>
        <label htmlFor={ids.v}>{t('Token')}</label>
        <div className="command-row">
          <input id={ids.v} className="mono" readOnly value={created.token} onFocus={(e) => e.target.select()} />
          <CopyButton text={created.token} label={t('Copy the token')} />
        </div>
        <p className="field-hint">{created.expiresAt ? t('It expires on {{date}}.', { date: when(created.expiresAt) }) : t('It does not expire.')}</p>
        <div className="dialog-buttons">
          <button type="button" className="button primary" onClick={onClose}>
            {t('Done')}
          </button>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title={t('Create a token')} onClose={onClose}>
      <form className="dialog-form" onSubmit={(e) => void submit(e)}>
        <label htmlFor={ids.d}>{t('Description')}</label>
        <input id={ids.d} required maxLength={256} autoComplete="off" value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t('CI deploy job')} />
        <p className="field-hint">{t('Say what uses it, so you know later which one to revoke.')}</p>
        <label htmlFor={ids.e}>{t('Expires after')}</label>
        <select id={ids.e} value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {TOKEN_LIFETIMES.map((d) => (
            <option key={d} value={d}>
              {d === 0 ? t("The server's default") : d === 1 ? t('1 day') : t('{{n}} days', { n: d })}
            </option>
          ))}
        </select>
        {error !== undefined && <ErrorMessage title={t('Could not create the token.')} error={error} />}
        <div className="dialog-buttons">
          <button type="button" className="button" onClick={onClose}>
            {t('Cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !description.trim()}>
            {busy ? t('Creating…') : t('Create')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
