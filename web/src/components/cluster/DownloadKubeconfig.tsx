import { useTranslation } from 'react-i18next';
import { KUBECONFIG_URL } from '../../lib/api';

/**
 * DownloadKubeconfig is a plain link: the browser downloads the file with
 * the session cookie, so the token inside never passes through scripts.
 */
export function DownloadKubeconfig({ primary = false }: { primary?: boolean }) {
  const { t } = useTranslation();
  return (
    <a className={primary ? 'button primary' : 'button'} href={KUBECONFIG_URL} download="bokujo-kubeconfig.yaml">
      {t('Download kubeconfig')}
    </a>
  );
}
