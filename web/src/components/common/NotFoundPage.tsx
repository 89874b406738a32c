import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useTitle } from './useTitle';

export function NotFoundPage() {
  const { t } = useTranslation();
  useTitle(t('Page not found'));
  return (
    <section className="page" aria-labelledby="notfound-title">
      <h1 id="notfound-title">{t('Page not found')}</h1>
      <p>{t('There is nothing at this address.')}</p>
      <p>
        <Link to="/">{t('Go to your clusters')}</Link>
      </p>
    </section>
  );
}
