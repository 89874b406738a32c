// The translations are complete: every string the code asks for exists in
// English and Japanese, no Japanese string is empty, placeholders match,
// and no key is left over from removed code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectLanguage } from '.';

// Vitest's jsdom environment gives modules an http: URL; the file path is
// in import.meta.filename.
const here = dirname(import.meta.filename);
const srcDir = join(here, '..');
const localesDir = join(here, 'locales');
const namespaces = ['translation', 'glossary'] as const;
const languages = readdirSync(localesDir);

function load(lng: string, ns: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(localesDir, lng, `${ns}.json`), 'utf8')) as Record<string, unknown>;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [file] : [];
  });
}

interface Use {
  ns: string;
  key: string;
  file: string;
}

/** usedKeys finds every t('…') call; a call with a computed key is an error. */
function usedKeys(): { uses: Use[]; dynamic: string[] } {
  const uses: Use[] = [];
  const dynamic: string[] = [];
  for (const file of sources(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bt\(\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|([^)\s]))/g)) {
      const literal = m[1] ?? m[2];
      if (literal === undefined) {
        dynamic.push(`${file}: t(${m[3] ?? ''}…`);
        continue;
      }
      const raw = literal.replace(/\\(.)/g, '$1');
      const [ns, key] = raw.includes('|') ? (raw.split('|', 2) as [string, string]) : ['translation', raw];
      uses.push({ ns, key, file });
    }
  }
  return { uses, dynamic };
}

const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  const { uses, dynamic } = usedKeys();

  it('are looked up by literal keys only', () => {
    expect(dynamic).toEqual([]);
    expect(uses.length).toBeGreaterThan(20);
  });

  it('have English for every key the code uses', () => {
    const missing = uses.filter((u) => !(u.key in load('en', u.ns))).map((u) => `${u.ns}|${u.key} (${u.file})`);
    expect(missing).toEqual([]);
  });

  it('have no English key the code does not use', () => {
    for (const ns of namespaces) {
      const used = new Set(uses.filter((u) => u.ns === ns).map((u) => u.key));
      expect(Object.keys(load('en', ns)).filter((k) => !used.has(k)), ns).toEqual([]);
    }
  });

  it('include Japanese', () => {
    expect(languages).toContain('ja');
  });

  for (const lng of languages.filter((l) => l !== 'en')) {
    for (const ns of namespaces) {
      it(`${lng}/${ns} has every key, none empty, same placeholders`, () => {
        const en = load('en', ns);
        const other = load(lng, ns);
        expect(Object.keys(other).sort()).toEqual(Object.keys(en).sort());
        for (const [key, value] of Object.entries(other)) {
          expect(typeof value === 'string' && value.trim() !== '', `${lng} ${ns}|${key} is empty`).toBe(true);
          expect(placeholders(value as string), `${lng} ${ns}|${key}`).toEqual(placeholders(key));
        }
      });
    }
  }
});

describe('detectLanguage', () => {
  it('prefers the stored choice, then the browser, then English', () => {
    expect(detectLanguage('ja', ['en-US'])).toBe('ja');
    expect(detectLanguage(null, ['ja-JP', 'en'])).toBe('ja');
    expect(detectLanguage(null, ['fr-FR', 'ja'])).toBe('ja');
    expect(detectLanguage('xx', ['de'])).toBe('en');
    expect(detectLanguage(null, [])).toBe('en');
  });
});
