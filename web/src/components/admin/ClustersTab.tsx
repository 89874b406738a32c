import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { addAgentCluster, CLUSTER_NAME, importCluster, removeCluster, type AgentCluster } from '../../lib/admin';
import { listClusters, type Cluster } from '../../lib/api';
import { ConfirmDialog } from '../common/ConfirmDialog';
import { CopyButton } from '../common/CopyButton';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { StatusBadge } from '../common/StatusBadge';

/** ClustersTab lists the registered clusters, adds one (kubeconfig or agent) and removes one. */
export function ClustersTab() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'clusters'];
  const clusters = useQuery({ queryKey: key, queryFn: ({ signal }) => listClusters(signal) });
  const [adding, setAdding] = useState<'kubeconfig' | 'agent' | null>(null);
  const [removing, setRemoving] = useState<Cluster | null>(null);
  const columns: Column<Cluster>[] = [
    { id: 'name', header: t('Name'), value: (c) => c.name },
    { id: 'display', header: t('Display name'), value: (c) => c.displayName ?? '' },
    { id: 'state', header: t('Status'), value: (c) => (c.ready ? 1 : 0), render: (c) => <StatusBadge tone={c.ready ? 'ok' : 'bad'}>{c.ready ? t('Ready') : c.message || t('Not ready')}</StatusBadge> },
    { id: 'source', header: t('Connected by'), value: (c) => c.source ?? '' },
    { id: 'version', header: t('Version'), value: (c) => c.kubernetesVersion ?? '' },
    { id: 'nodes', header: t('glossary|Nodes'), value: (c) => c.nodes, numeric: true },
    {
      id: 'actions',
      header: t('Actions'),
      value: () => '',
      render: (c) => (
        <button type="button" className="button small danger" aria-label={t('Remove {{name}}', { name: c.name })} onClick={() => setRemoving(c)}>
          {t('Remove')}
        </button>
      ),
    },
  ];
  return (
    <section className="section" aria-labelledby="clusters-title">
      <div className="section-header">
        <h2 id="clusters-title">{t('glossary|Clusters')}</h2>
        <span className="row-actions">
          <button type="button" className="button primary" onClick={() => setAdding('kubeconfig')} aria-pressed={adding === 'kubeconfig'}>
            {t('Add with a kubeconfig')}
          </button>
          <button type="button" className="button primary" onClick={() => setAdding('agent')} aria-pressed={adding === 'agent'}>
            {t('Add with an agent')}
          </button>
        </span>
      </div>
      {adding === 'kubeconfig' && <KubeconfigForm onClose={() => setAdding(null)} onAdded={() => void qc.invalidateQueries({ queryKey: key })} />}
      {adding === 'agent' && <AgentForm onClose={() => setAdding(null)} onAdded={() => void qc.invalidateQueries({ queryKey: key })} />}
      {clusters.error ? (
        <ErrorMessage title={t('Could not load the clusters.')} error={clusters.error} onRetry={() => void clusters.refetch()} />
      ) : !clusters.data ? (
        <Loading />
      ) : (
        <ResourceTable label={t('glossary|Clusters')} rows={clusters.data} rowKey={(c) => c.name} columns={columns} empty={t('No clusters yet: add one with a kubeconfig, or with an agent when bokujo cannot reach its API server.')} />
      )}
      {removing && (
        <ConfirmDialog
          title={t('Remove {{name}}?', { name: removing.name })}
          body={t('bokujo forgets {{name}} and its stored credentials: nobody reaches it through bokujo any more. The cluster itself, its workloads and what bokujo created in it stay.', { name: removing.name })}
          action={t('Remove')}
          typeToConfirm={removing.name}
          run={async () => {
            await removeCluster(removing.name);
            await qc.invalidateQueries({ queryKey: key });
          }}
          onClose={() => setRemoving(null)}
        />
      )}
    </section>
  );
}

function NameFields({ name, setName, displayName, setDisplayName }: { name: string; setName: (v: string) => void; displayName: string; setDisplayName: (v: string) => void }) {
  const { t } = useTranslation();
  const ids = { n: useId(), d: useId(), h: useId() };
  const bad = name !== '' && !CLUSTER_NAME.test(name);
  return (
    <>
      <label htmlFor={ids.n}>{t('Name')}</label>
      <input id={ids.n} required autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={bad} aria-describedby={ids.h} placeholder="gpu-east" />
      <p id={ids.h} className={bad ? 'error-text' : 'field-hint'}>
        {t('Lower-case letters, digits and dashes, at most 40 characters; it is part of every address of the cluster.')}
      </p>
      <label htmlFor={ids.d}>{t('Display name')}</label>
      <input id={ids.d} autoComplete="off" maxLength={256} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
    </>
  );
}

function KubeconfigForm({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [kubeconfig, setKubeconfig] = useState('');
  const [context, setContext] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState('');
  const ids = { k: useId(), f: useId(), c: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await importCluster(name, displayName.trim(), kubeconfig, context.trim());
      setDone(name);
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (done) {
    return (
      <div className="card">
        <p className="notice" role="status">
          {t('{{name}} was added. It shows as ready once bokujo has reached it.', { name: done })}
        </p>
        <button type="button" className="button" onClick={onClose}>
          {t('Close')}
        </button>
      </div>
    );
  }
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={t('Add a cluster with a kubeconfig')}>
      <NameFields name={name} setName={setName} displayName={displayName} setDisplayName={setDisplayName} />
      <label htmlFor={ids.f}>{t('Kubeconfig file')}</label>
      <input
        id={ids.f}
        type="file"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (f) void f.text().then(setKubeconfig, (err: unknown) => setError(err));
        }}
      />
      <label htmlFor={ids.k}>{t('or paste it')}</label>
      <textarea id={ids.k} className="yaml-input mono" rows={8} required spellCheck={false} value={kubeconfig} onChange={(e) => setKubeconfig(e.target.value)} />
      <p className="field-hint">{t('An administrator kubeconfig with the credentials inline (no exec plugins, no files on disk). bokujo uses it once to set up its own access, then forgets it.')}</p>
      <label htmlFor={ids.c}>{t('Context (optional)')}</label>
      <input id={ids.c} autoComplete="off" value={context} onChange={(e) => setContext(e.target.value)} placeholder={t('the current context')} />
      {error !== undefined && <ErrorMessage title={t('Could not add the cluster.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !CLUSTER_NAME.test(name) || !kubeconfig.trim()}>
          {busy ? t('Adding…') : t('Add')}
        </button>
      </div>
    </form>
  );
}

function AgentForm({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [clusterAdmin, setClusterAdmin] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [agent, setAgent] = useState<AgentCluster | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setAgent(await addAgentCluster(name, displayName.trim(), clusterAdmin));
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (agent) return <AgentInstructions agent={agent} onClose={onClose} />;
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={t('Add a cluster with an agent')}>
      <p className="muted">{t('The agent runs in the cluster and connects out to bokujo: use it when bokujo cannot reach the cluster’s API server.')}</p>
      <NameFields name={name} setName={setName} displayName={displayName} setDisplayName={setDisplayName} />
      <label className="check">
        <input type="checkbox" checked={clusterAdmin} onChange={(e) => setClusterAdmin(e.target.checked)} />
        {t('Bind the agent to cluster-admin instead of its least privileges')}
      </label>
      {error !== undefined && <ErrorMessage title={t('Could not add the cluster.')} error={error} />}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !CLUSTER_NAME.test(name)}>
          {busy ? t('Adding…') : t('Add')}
        </button>
      </div>
    </form>
  );
}

function Command({ label, text }: { label: string; text: string }) {
  return (
    <div className="command-row">
      <code className="command" aria-label={label}>
        {text}
      </code>
      <CopyButton text={text} label={label} />
    </div>
  );
}

/** AgentInstructions shows how to install the agent; the token in the URL is the secret, valid until it expires. */
export function AgentInstructions({ agent, onClose }: { agent: AgentCluster; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="card" role="region" aria-label={t('Install the agent in {{name}}', { name: agent.name })}>
      <h3>{t('Install the agent in {{name}}', { name: agent.name })}</h3>
      <p>{t('Run one of these with a kubeconfig of the cluster. The link works once, until {{date}}; treat it as a password.', { date: new Date(agent.expiresAt).toLocaleString() })}</p>
      <h4>kubectl</h4>
      <Command label={t('Copy the kubectl command')} text={agent.command} />
      {agent.commandWithCA && (
        <>
          <p className="field-hint">{t('If the server’s certificate is signed by bokujo’s own authority, use this one instead:')}</p>
          <Command label={t('Copy the kubectl command with the CA')} text={agent.commandWithCA} />
        </>
      )}
      <h4>Helm</h4>
      <Command label={t('Copy the Helm command')} text={agent.helmCommand} />
      <p className="field-hint">{t('The cluster shows as ready once its agent has connected.')}</p>
      <button type="button" className="button" onClick={onClose}>
        {t('Close')}
      </button>
    </div>
  );
}
