// The browser side of bench/ui: logs in, opens the pods page of each
// namespace in turn and prints, as JSON on stdout, how long the first rows
// and all rows took, the JavaScript heap, the rows in the DOM, how long a
// search, a scroll and a sort took to show their rows, and the longest
// main-thread task. bench/ui starts the server and the pods and runs this.
import { launch } from './browser.mjs';
import { LoginPage } from './pages.mjs';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const baseURL = env('BOKUJO_URL');
const caFile = env('BOKUJO_CA_FILE');
const cluster = env('BENCH_CLUSTER');
const namespaces = env('BENCH_NAMESPACES').split(',');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const LOAD_TIMEOUT = 10 * 60_000;

const browser = await launch({ baseURL, caFile, executablePath });
const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 860 }, locale: 'en-US' });
context.setDefaultTimeout(60_000);
// Long tasks (over 50 ms on the main thread) are what make a page feel stuck.
await context.addInitScript(() => {
  window.__longest = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
  }).observe({ type: 'longtask', buffered: true });
});
const page = await context.newPage();
await page.goto('/login');
await new LoginPage(page).logIn(env('BENCH_USER'), env('BENCH_PASSWORD'));
await page.getByRole('heading', { level: 1, name: 'Clusters' }).waitFor();
const cdp = await context.newCDPSession(page);
await cdp.send('Performance.enable');

const table = 'table[aria-label="Pods"]';
const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** allRows says whether the table holds all n rows (counted, or told by aria-rowcount when virtualized). */
const allRows = ({ sel, n }) => {
  const t = document.querySelector(sel);
  if (!t) return false;
  const count = t.getAttribute('aria-rowcount');
  return count ? Number(count) === n + 1 : t.querySelectorAll('tbody tr:not(.spacer)').length === n;
};

const results = [];
for (const namespace of namespaces) {
  const want = Number(namespace.split('-').pop());
  await page.goto('/');
  await page.getByRole('heading', { level: 1, name: 'Clusters' }).waitFor();
  const t0 = Date.now();
  await page.goto(`/clusters/${cluster}?namespace=${namespace}&kind=pods`);
  await page.locator(`${table} tbody th`).first().waitFor({ timeout: LOAD_TIMEOUT });
  const firstRowsMs = Date.now() - t0;
  await page.waitForFunction(allRows, { sel: table, n: want }, { timeout: LOAD_TIMEOUT, polling: 50 });
  const allRowsMs = Date.now() - t0;
  await frames();
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const heapMB = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 2 ** 20;
  const domRows = await page.locator(`${table} tbody tr:not(.spacer)`).count();

  // Search: one name, then back to all.
  const search = page.getByRole('searchbox', { name: 'Search Pods' });
  let t = Date.now();
  await search.fill('pod-00042');
  await page.waitForFunction((sel) => {
    const rows = document.querySelectorAll(`${sel} tbody tr:not(.spacer)`);
    return rows.length === 1 && rows[0].textContent.includes('pod-00042');
  }, table);
  const searchMs = Date.now() - t;
  await search.fill('');
  await page.waitForFunction(allRows, { sel: table, n: want }, { polling: 50 });

  // Scroll to the middle: the rows there must be in the DOM.
  const middle = `pod-${String(Math.floor(want / 2)).padStart(5, '0')}`;
  t = Date.now();
  await page.evaluate((sel) => {
    const box = document.querySelector(sel).closest('.table-scroll.virtual');
    if (box) box.scrollTop = box.scrollHeight / 2;
    else {
      const rows = document.querySelectorAll(`${sel} tbody tr`);
      rows[Math.floor(rows.length / 2)]?.scrollIntoView();
    }
  }, table);
  await page.locator(`${table} tbody th`, { hasText: middle }).waitFor();
  const scrollMs = Date.now() - t;

  // Sort by age, then back by name.
  t = Date.now();
  await page.getByRole('columnheader', { name: /Age/ }).getByRole('button').click();
  await page.locator(`${table} th[aria-sort="ascending"]`, { hasText: 'Age' }).waitFor();
  await frames();
  const sortMs = Date.now() - t;
  const longestTaskMs = await page.evaluate(() => window.__longest);
  results.push({ namespace, pods: want, firstRowsMs, allRowsMs, heapMB, domRows, searchMs, scrollMs, sortMs, longestTaskMs });
  process.stderr.write(`  ${namespace}: first rows ${firstRowsMs} ms, all rows ${allRowsMs} ms, heap ${heapMB.toFixed(1)} MB\n`);
}
await browser.close();
process.stdout.write(JSON.stringify(results) + '\n');
