import { useTranslation } from 'react-i18next';

export function Loading({ fullPage = false, label }: { fullPage?: boolean; label?: string }) {
  const { t } = useTranslation();
  return (
    <p className={fullPage ? 'loading full-page' : 'loading'} role="status">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('Loading…')}
    </p>
  );
}
