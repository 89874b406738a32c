// Every test renders in English with the real translation files, and
// starts from an empty DOM.
import { cleanup } from '@testing-library/react';
import { afterEach, beforeAll } from 'vitest';
import { initI18n } from '../i18n';

beforeAll(async () => {
  await initI18n('en');
});

afterEach(() => {
  cleanup();
});
