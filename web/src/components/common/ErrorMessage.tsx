import { useTranslation } from 'react-i18next';
import { ApiError } from '../../lib/api';

/** ErrorMessage says what failed, the server's reason, and what to try. */
export function ErrorMessage({ title, error, onRetry }: { title: string; error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  let hint: string;
  let detail = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.status === 0) {
    hint = t('Cannot reach the bokujo server. Check your connection and try again.');
    detail = '';
  } else if (error instanceof ApiError && error.status === 403) {
    hint = t('You do not have permission for this. Ask an administrator for access.');
  } else if (error instanceof ApiError && error.status === 404) {
    hint = t('It does not exist, or you have no access to it.');
  } else if (error instanceof ApiError && error.status >= 500) {
    hint = t('The server had a problem. Try again in a moment.');
  } else {
    hint = t('Try again. If it keeps failing, tell your administrator what you see here.');
  }
  return (
    <div className="error-box" role="alert">
      <p className="error-title">{title}</p>
      {detail && <p className="error-detail">{detail}</p>}
      <p>{hint}</p>
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          {t('Try again')}
        </button>
      )}
    </div>
  );
}
