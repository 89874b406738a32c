// One i18n layer for every string. Keys are the English sentences
// themselves ("translation" namespace); Kubernetes nouns live in the
// "glossary" namespace (t('glossary|Nodes')) so each is translated once,
// the same way everywhere. English is bundled; other languages are loaded
// when chosen.
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import enGlossary from './locales/en/glossary.json';
import enTranslation from './locales/en/translation.json';

export const languages = [
  { code: 'en', label: 'English' },
  { code: 'ja', label: '日本語' },
] as const;

export type Language = (typeof languages)[number]['code'];

export const STORAGE_KEY = 'bokujo.language';

function isLanguage(v: string | null | undefined): v is Language {
  return languages.some((l) => l.code === v);
}

/**
 * detectLanguage picks the language: the user's earlier choice, else the
 * first of the browser's languages we have, else English.
 */
export function detectLanguage(stored: string | null, browser: readonly string[]): Language {
  if (isLanguage(stored)) return stored;
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLanguage(base)) return base;
  }
  return 'en';
}

type Bundle = { translation: Record<string, string>; glossary: Record<string, string> };

const loaders: Record<Language, () => Promise<Bundle>> = {
  en: () => Promise.resolve({ translation: enTranslation, glossary: enGlossary }),
  ja: async () => {
    const [translation, glossary] = await Promise.all([
      import('./locales/ja/translation.json'),
      import('./locales/ja/glossary.json'),
    ]);
    return { translation: translation.default, glossary: glossary.default };
  },
};

async function ensureLoaded(lng: Language): Promise<void> {
  if (i18n.hasResourceBundle(lng, 'translation')) return;
  const bundle = await loaders[lng]();
  i18n.addResourceBundle(lng, 'translation', bundle.translation);
  i18n.addResourceBundle(lng, 'glossary', bundle.glossary);
}

function readStored(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled by policy; the browser's language still works.
    return null;
  }
}

/** initI18n prepares i18next with the detected language. */
export async function initI18n(lng: Language = detectLanguage(readStored(), navigator.languages ?? [])): Promise<typeof i18n> {
  if (!i18n.isInitialized) {
    await i18n.use(initReactI18next).init({
      resources: { en: { translation: enTranslation, glossary: enGlossary } },
      lng: 'en',
      fallbackLng: 'en',
      ns: ['translation', 'glossary'],
      defaultNS: 'translation',
      // English sentences contain '.' and ':'; '|' separates the namespace.
      nsSeparator: '|',
      keySeparator: false,
      // React escapes what it renders.
      interpolation: { escapeValue: false },
      returnEmptyString: false,
      react: { useSuspense: false },
    });
  }
  await changeLanguage(lng, false);
  return i18n;
}

/** changeLanguage switches the UI's language and, if persist, remembers it. */
export async function changeLanguage(lng: Language, persist = true): Promise<void> {
  await ensureLoaded(lng);
  await i18n.changeLanguage(lng);
  document.documentElement.lang = lng;
  if (persist) {
    try {
      window.localStorage.setItem(STORAGE_KEY, lng);
    } catch {
      // Not remembered across visits, but switched for this one.
    }
  }
}

export default i18n;
