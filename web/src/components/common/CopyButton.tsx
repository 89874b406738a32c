import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';

/** CopyButton copies text (a command) to the clipboard and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const { t } = useTranslation();
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = window.setTimeout(() => setState('idle'), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <>
      <button type="button" className="button small" aria-label={label} onClick={() => void copy()}>
        {state === 'copied' ? t('Copied') : t('Copy')}
      </button>
      <span className="sr-only" role="status">
        {state === 'copied' ? t('Copied to the clipboard') : state === 'failed' ? t('Could not copy; select the text and copy it yourself') : ''}
      </span>
    </>
  );
}
