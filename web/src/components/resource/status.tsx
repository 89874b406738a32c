import { useTranslation } from 'react-i18next';
import type { Status } from '../../lib/k8s/kinds';
import { StatusBadge } from '../common/StatusBadge';

/** StatusText is a kind's status word in the user's language (Kubernetes' own words stay as they are). */
export function StatusText({ status }: { status: Status }) {
  const { t } = useTranslation();
  const words: Record<string, string> = {
    Available: t('Available'),
    Progressing: t('Progressing'),
    Unavailable: t('Unavailable'),
    'Scaled to zero': t('Scaled to zero'),
    Deleting: t('Deleting'),
    Ready: t('Ready'),
    'No nodes': t('No nodes'),
    Complete: t('Complete'),
    Failed: t('Failed'),
    Suspended: t('Suspended'),
    Running: t('Running'),
    Scheduled: t('Scheduled'),
  };
  return <StatusBadge tone={status.tone}>{words[status.text] ?? status.text}</StatusBadge>;
}
