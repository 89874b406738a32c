import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { listClusterTools, setClusterTool, type ClusterTool } from '../../lib/api';
import { Dialog } from '../common/Dialog';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { StatusBadge } from '../common/StatusBadge';

/** While a tool moves (installing, starting, removing) its state is asked for this often. */
const MOVING_REFRESH_MS = 3000;

function settled(tools: ClusterTool[] | undefined): boolean {
  return (tools ?? []).every((x) => !x.removing && (!x.enabled || x.ready));
}

/** ClusterTools lists the tools bokujo bundles and lets cluster owners switch them on and off. */
export function ClusterTools({ cluster, headingId }: { cluster: string; headingId: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const key = ['v1', 'clusters', cluster, 'tools'];
  const tools = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => listClusterTools(cluster, signal),
    refetchInterval: (q) => (settled(q.state.data) ? false : MOVING_REFRESH_MS),
  });
  const [disabling, setDisabling] = useState<ClusterTool | null>(null);
  const change = useMutation({
    mutationFn: ({ tool, enabled }: { tool: ClusterTool['tool']; enabled: boolean }) => setClusterTool(cluster, tool, enabled),
    onSettled: () => void qc.invalidateQueries({ queryKey: key }),
    onSuccess: () => setDisabling(null),
  });
  const describe: Record<ClusterTool['tool'], string> = {
    monitoring: t('Prometheus with node-exporter and kube-state-metrics, in the namespace bokujo-monitoring.'),
    logging: t('Fluent Bit on every node, collecting every container log, in the namespace bokujo-logging.'),
  };
  const state = (x: ClusterTool): { text: string; tone: 'ok' | 'bad' | 'unknown' } => {
    if (x.removing) return { text: t('Removing'), tone: 'unknown' };
    if (!x.enabled) return { text: t('Off'), tone: 'unknown' };
    if (x.ready) return { text: t('Ready'), tone: 'ok' };
    if (x.installed) return { text: t('Starting'), tone: 'unknown' };
    return { text: t('Installing'), tone: x.message ? 'bad' : 'unknown' };
  };
  return (
    <>
      <h2 id={headingId}>{t('Tools')}</h2>
      {tools.isPending ? (
        <Loading />
      ) : tools.isError ? (
        <ErrorMessage title={t('Could not load the tools.')} error={tools.error} onRetry={() => void tools.refetch()} />
      ) : (
        <ul className="card-grid tool-list" aria-labelledby={headingId}>
          {tools.data.map((x) => {
            const s = state(x);
            const name = x.tool === 'monitoring' ? t('Monitoring') : t('Logging');
            return (
              <li key={x.tool} className="card tool-card">
                <div className="title-row">
                  <h3>{name}</h3>
                  <StatusBadge tone={s.tone}>{s.text}</StatusBadge>
                  {x.version && <span className="muted small">{x.version}</span>}
                </div>
                <p className="muted">{describe[x.tool]}</p>
                {x.message && <p className="cluster-message">{x.message}</p>}
                {x.canChange &&
                  !x.removing &&
                  (x.enabled ? (
                    <button type="button" className="button small danger" onClick={() => setDisabling(x)}>
                      {t('Remove {{tool}}', { tool: name })}
                    </button>
                  ) : (
                    <button type="button" className="button small" disabled={change.isPending} onClick={() => change.mutate({ tool: x.tool, enabled: true })}>
                      {t('Install {{tool}}', { tool: name })}
                    </button>
                  ))}
              </li>
            );
          })}
        </ul>
      )}
      {change.isError && !disabling && <ErrorMessage title={t('Could not change the tool.')} error={change.error} />}
      {disabling && (
        <Dialog title={t('Remove {{tool}} from {{cluster}}?', { tool: disabling.tool, cluster })} onClose={() => setDisabling(null)}>
          <p>{t('Every object of the tool is deleted from the cluster, including the data it kept (metrics, buffered logs).')}</p>
          {change.isError && <ErrorMessage title={t('Could not change the tool.')} error={change.error} />}
          <div className="dialog-buttons">
            <button type="button" className="button" onClick={() => setDisabling(null)} autoFocus>
              {t('Cancel')}
            </button>
            <button type="button" className="button danger-solid" disabled={change.isPending} onClick={() => change.mutate({ tool: disabling.tool, enabled: false })}>
              {t('Remove')}
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
