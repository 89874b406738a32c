// Launching Debian's Chromium against a bokujo server whose certificate is
// signed by a CA file: shared by the browser tests (run.mjs) and the UI
// benchmark (bench.mjs).
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { chromium } from 'playwright-core';

/**
 * serverKeyPin connects with Node's TLS, verifying the server's
 * certificate against the CA file, and returns the base64 SHA-256 of the
 * verified certificate's public key. Chromium cannot be handed a CA file
 * without a system certificate store, so it is told to accept exactly this
 * key (--ignore-certificate-errors-spki-list): trust still comes from the
 * CA, and no other certificate is let through.
 */
export async function serverKeyPin(baseURL, caFile) {
  const url = new URL(baseURL);
  const socket = tls.connect({ host: url.hostname, port: Number(url.port || 443), ca: readFileSync(caFile), ALPNProtocols: ['http/1.1'] });
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const cert = new X509Certificate(socket.getPeerCertificate(false).raw);
  socket.end();
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** launch starts headless Chromium trusting exactly the server's key. */
export async function launch({ baseURL, caFile, executablePath, extraArgs = [] }) {
  const pin = await serverKeyPin(baseURL, caFile);
  return chromium.launch({
    executablePath,
    headless: true,
    // Without the background-networking flags Chromium keeps dialling
    // Google's services, which this network refuses.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pin}`,
      ...extraArgs,
    ],
  });
}
