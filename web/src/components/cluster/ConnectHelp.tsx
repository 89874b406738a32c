import { useTranslation } from 'react-i18next';
import { useMe } from '../../lib/session';
import { CopyButton } from '../common/CopyButton';
import { DownloadKubeconfig } from './DownloadKubeconfig';

function Command({ text, label }: { text: string; label: string }) {
  return (
    <div className="command-row">
      <pre className="command">
        <code>{text}</code>
      </pre>
      <CopyButton text={text} label={label} />
    </div>
  );
}

/** ConnectHelp tells how to reach a cluster from a terminal, through bokujo. */
export function ConnectHelp({ cluster, headingId }: { cluster: string; headingId: string }) {
  const { t } = useTranslation();
  const me = useMe();
  const file = 'bokujo-kubeconfig.yaml';
  const origin = window.location.origin;
  return (
    <div className="connect-help">
      <h2 id={headingId}>{t('How to connect')}</h2>
      <p>{t('One kubeconfig reaches every cluster you may use, each as a context named after the cluster, all through this address.')}</p>
      <ol className="steps">
        <li>
          <p>{t('Download your kubeconfig. It holds a personal token that expires after 30 days; keep it private.')}</p>
          <DownloadKubeconfig />
        </li>
        <li>
          <p>{t('Use it with kubectl:')}</p>
          <Command text={`kubectl --kubeconfig ${file} --context ${cluster} get nodes`} label={t('Copy the kubectl command')} />
        </li>
        <li>
          <p>{t('Use it with Helm:')}</p>
          <Command text={`helm --kubeconfig ${file} --kube-context ${cluster} list --all-namespaces`} label={t('Copy the Helm command')} />
        </li>
        <li>
          <p>{t('Or log in with the bokujo command line, which writes the kubeconfig for you (add --ca-file if your system does not trust this server’s certificate):')}</p>
          <Command
            text={`bokujo login ${origin} --username ${me.username || me.name}\nbokujo kubeconfig -o ~/.kube/bokujo && export KUBECONFIG=~/.kube/bokujo\nkubectl --context ${cluster} get nodes`}
            label={t('Copy the bokujo commands')}
          />
        </li>
      </ol>
    </div>
  );
}
