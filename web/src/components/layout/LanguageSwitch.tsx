import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { changeLanguage, languages, type Language } from '../../i18n';

/** LanguageSwitch changes the UI's language and remembers the choice. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const id = useId();
  return (
    <div className="language-switch">
      <label htmlFor={id}>{t('Language')}</label>
      <select id={id} value={i18n.language} onChange={(e) => void changeLanguage(e.target.value as Language)}>
        {languages.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </div>
  );
}
