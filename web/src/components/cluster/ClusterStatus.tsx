import { useTranslation } from 'react-i18next';
import type { Cluster } from '../../lib/api';
import { StatusBadge } from '../common/StatusBadge';

export function ClusterStatus({ cluster }: { cluster: Cluster }) {
  const { t } = useTranslation();
  if (cluster.ready) return <StatusBadge tone="ok">{t('Ready')}</StatusBadge>;
  const probing = (cluster.conditions ?? []).length === 0;
  return <StatusBadge tone={probing ? 'unknown' : 'bad'}>{probing ? t('Checking…') : t('Not ready')}</StatusBadge>;
}
