/// <reference types="vitest/config" />
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// gzipSidecars writes name.gz beside each compressible asset, so the Go
// server can send compressed bytes without compressing on every request.
function gzipSidecars(): Plugin {
  let outDir = 'dist';
  return {
    name: 'bokujo-gzip-sidecars',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const file = join(dir, name);
          if (statSync(file).isDirectory()) {
            walk(file);
          } else if (/\.(js|css|html|svg|json)$/.test(name) && statSync(file).size > 1024) {
            writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
          }
        }
      };
      walk(outDir);
    },
  };
}

// `npm run dev` serves the UI with hot reload and sends API calls to a
// running `bokujo up` (BOKUJO_URL, default https://127.0.0.1:8443). The
// proxy skips certificate checks: `bokujo up` signs with its own local CA,
// and this is a developer's loopback connection, never a production path.
const backend = process.env.BOKUJO_URL ?? 'https://127.0.0.1:8443';

export default defineConfig({
  plugins: [react(), gzipSidecars()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Every supported browser has <link rel=modulepreload>; the polyfill
    // would only add bytes.
    modulePreload: { polyfill: false },
    // Inlined assets would become data: URLs; keep every asset a file so
    // the CSP stays simple and the cache rules apply.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/v1': { target: backend, secure: false },
      '/k8s': { target: backend, secure: false, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // The machine is shared: a test that renders hundreds of rows in jsdom
    // may wait its turn for a while. Tests wait for what they expect, not
    // for a time; this only bounds a hang.
    testTimeout: 60_000,
  },
});
