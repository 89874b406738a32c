// Every test renders in English with the real translation files, and
// starts from an empty DOM.
import { cleanup, configure } from '@testing-library/react';
import { afterEach, beforeAll } from 'vitest';
import { initI18n } from '../i18n';

// findBy… and waitFor wait for what they look for; on a shared, busy
// machine a lazily loaded page can take more than the default second.
configure({ asyncUtilTimeout: 15_000 });

beforeAll(async () => {
  await initI18n('en');
});

afterEach(() => {
  cleanup();
});
