// "Exec" on a pod: pick a container and a shell, and the terminal opens
// running kubectl exec -it in it, as the user.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { execLine, shells, type Shell } from '../../lib/terminal';
import { useTerminal } from '../terminal/TerminalContext';

export function ExecButton({ cluster, namespace, pod, containers }: { cluster: string; namespace: string; pod: string; containers: string[] }) {
  const { t } = useTranslation();
  const terminal = useTerminal();
  const [container, setContainer] = useState(containers[0] ?? '');
  const [shell, setShell] = useState<Shell>('/bin/sh');
  if (containers.length === 0) return null;
  return (
    <form
      className="exec-form"
      aria-label={t('Open a shell')}
      onSubmit={(e) => {
        e.preventDefault();
        terminal.openTerminal({ cluster, namespace, command: execLine(namespace, pod, container, shell) });
      }}
    >
      <label>
        {t('glossary|Container')}
        <select value={container} onChange={(e) => setContainer(e.target.value)}>
          {containers.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('Shell')}
        <select value={shell} onChange={(e) => setShell(e.target.value as Shell)}>
          {shells.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="button small primary">
        {t('Exec')}
      </button>
    </form>
  );
}
