import { useTranslation } from 'react-i18next';
import { formatBytes, formatCores, formatCount } from '../../lib/k8s/quantity';
import type { NodeSummary } from '../../lib/k8s/node';
import { StatusBadge } from '../common/StatusBadge';

/** NodeTable lists nodes with what they offer pods; labelledBy names the table. */
export function NodeTable({ nodes, labelledBy }: { nodes: NodeSummary[]; labelledBy: string }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const status = (n: NodeSummary) => {
    switch (n.readiness) {
      case 'Ready':
        return <StatusBadge tone="ok">{t('Ready')}</StatusBadge>;
      case 'NotReady':
        return <StatusBadge tone="bad">{t('Not ready')}</StatusBadge>;
      default:
        return <StatusBadge tone="unknown">{t('Unknown')}</StatusBadge>;
    }
  };
  return (
    <div className="table-scroll" role="region" aria-labelledby={labelledBy} tabIndex={0}>
      <table className="data-table" aria-labelledby={labelledBy}>
        <thead>
          <tr>
            <th scope="col">{t('Name')}</th>
            <th scope="col">{t('Status')}</th>
            <th scope="col" className="num">
              {t('CPU (cores)')}
            </th>
            <th scope="col" className="num">
              {t('glossary|Memory')}
            </th>
            <th scope="col" className="num">
              {t('GPUs')}
            </th>
            <th scope="col">{t('GPU product')}</th>
            <th scope="col">{t('glossary|Kubelet version')}</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => (
            <tr key={n.name}>
              <th scope="row" className="mono">
                {n.name}
              </th>
              <td>
                {status(n)}
                {n.unschedulable && <span className="badge">{t('Scheduling disabled')}</span>}
              </td>
              <td className="num">{formatCores(n.cpuCores, lng)}</td>
              <td className="num">{formatBytes(n.memoryBytes, lng)}</td>
              <td className="num">{formatCount(n.gpus, lng)}</td>
              <td className="mono">{n.gpuProduct || '—'}</td>
              <td className="mono">{n.kubeletVersion || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
