// End-to-end tests of the web UI in a real Chromium against a running
// `bokujo up`. test/e2e starts the server and runs this with:
//   BOKUJO_URL             https://localhost:PORT
//   BOKUJO_CA_FILE         the CA that signed the server's certificate
//   NODE_EXTRA_CA_CERTS    the same file, so Node (page.request) trusts it
//   BOKUJO_ADMIN_PASSWORD  the bootstrap admin's password
//   BOKUJO_ALICE_PASSWORD  the password of alice, a viewer of dev only
//   BOKUJO_BOB_PASSWORD    the password of bob, granted nothing at first
//   BOKUJO_DEV_POD_LOG     the log file every simulated container of dev shows
//   E2E_OUTPUT_DIR         where screenshots go (one per scenario)
//   CHROMIUM               the browser (default /usr/bin/chromium)
// Scenarios run in order in one browser context, as one user's visit;
// there are no retries: a failure is reported with its screenshot.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { ApplyPage, ClusterPage, DeployPage, HomePage, LoginPage, Shell, TerminalPanel, Workloads } from './pages.mjs';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const baseURL = env('BOKUJO_URL');
const caFile = env('BOKUJO_CA_FILE');
const adminPassword = env('BOKUJO_ADMIN_PASSWORD');
const alicePassword = env('BOKUJO_ALICE_PASSWORD');
const bobPassword = env('BOKUJO_BOB_PASSWORD');
const outDir = env('E2E_OUTPUT_DIR', '_output/e2e');
const devPodLog = env('BOKUJO_DEV_POD_LOG');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
if (process.env.NODE_EXTRA_CA_CERTS !== caFile) {
  // Node reads it only at start-up: it cannot be set from here.
  throw new Error('run with NODE_EXTRA_CA_CERTS=$BOKUJO_CA_FILE, so that API calls made from the test trust the server');
}
mkdirSync(outDir, { recursive: true });

const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });

// ---- scenarios --------------------------------------------------------

scenario('login', async (page) => {
  const login = new LoginPage(page);
  await page.goto('/');
  await login.heading.waitFor();
  assert.match(new URL(page.url()).pathname, /^\/login$/, 'an anonymous visit goes to the login page');

  // A name of its own per run, so a rerun against the same server starts
  // with a clean count.
  const stranger = `nobody-${Date.now()}`;
  await login.logIn(stranger, 'wrong-password');
  assert.equal(await login.alert.textContent(), 'The user name or password is wrong.');
  assert.equal(await login.password.inputValue(), '', 'the wrong password is cleared');

  // The fifth failure for a name starts a back-off of one second (doubling
  // with each further failure): the attempt made in the page right after
  // it is refused unchecked. The form is filled before, so only a click
  // separates the two.
  await login.username.fill(stranger);
  await login.password.fill('wrong-again');
  for (let i = 2; i <= 5; i++) {
    const r = await page.request.post('/v1/login', { data: { username: stranger, password: `wrong-${i}` } });
    assert.equal(r.status(), 401, `failure ${i}`);
  }
  await login.submit.click();
  await page.getByRole('alert').filter({ hasText: 'Too many failed attempts' }).waitFor();
  assert.match(await login.alert.textContent(), /^Too many failed attempts\. You can try again at .+\.$/);
  await page.screenshot({ path: join(outDir, 'login-throttled.png') });

  await login.logIn('admin', adminPassword);
  await new HomePage(page).heading.waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
});

scenario('home', async (page) => {
  const home = new HomePage(page);
  for (const name of ['dev', 'prod']) {
    await home.card(name).status.waitFor();
  }
  const gpu = home.card('dev').meter('GPU');
  await gpu.waitFor();
  assert.equal(await gpu.getAttribute('aria-valuetext'), '6 / 16 requested (38%)');
  assert.equal(await gpu.getAttribute('aria-valuemax'), '16');
  await home.card('dev').meter('CPU').waitFor();
  await home.card('dev').meter('Memory').waitFor();
  // prod has no GPU: it says so instead of drawing an empty bar.
  assert.equal(await home.card('prod').meter('GPU').count(), 0);
  await home.card('prod').root.getByText('none', { exact: true }).waitFor();
});

scenario('cluster', async (page) => {
  await new HomePage(page).card('dev').link.click();
  const cluster = new ClusterPage(page);
  await cluster.heading('dev').waitFor();
  assert.equal(new URL(page.url()).pathname, '/clusters/dev');
  await cluster.nodes.waitFor();
  const rows = cluster.nodeRows();
  assert.equal(await rows.count(), 2, 'dev has two nodes');
  for (const row of await rows.all()) {
    await row.getByRole('cell', { name: 'Ready', exact: true }).waitFor();
    await row.getByRole('cell', { name: '8', exact: true }).waitFor(); // GPUs
    await row.getByRole('cell', { name: 'NVIDIA-A100-SXM4-80GB', exact: true }).waitFor();
  }
  await page.getByRole('heading', { name: 'How to connect' }).waitFor();
  await page.getByText('kubectl --kubeconfig bokujo-kubeconfig.yaml --context dev get nodes').waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), cluster.download.first().click()]);
  assert.equal(download.suggestedFilename(), 'bokujo-kubeconfig.yaml');
  const kubeconfig = readFileSync(await download.path(), 'utf8');
  assert.match(kubeconfig, new RegExp(`server: ${baseURL}/k8s/clusters/dev\\n`));
  assert.match(kubeconfig, new RegExp(`server: ${baseURL}/k8s/clusters/prod\\n`));
  assert.match(kubeconfig, /token: /);
});

// The admin installs the logging tool from the cluster page, sees it
// become Ready as its DaemonSet runs on both nodes, and removes it again.
scenario('cluster tools', async (page) => {
  const tools = page.getByRole('list', { name: 'Tools' });
  const logging = tools.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Logging' }) });
  await logging.getByRole('button', { name: 'Install Logging' }).click();
  await logging.getByText('Ready', { exact: true }).waitFor({ timeout: 90_000 });
  await logging.getByText('fluent-bit-4.0.3').waitFor();
  await logging.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, 'cluster-tools-ready.png') });
  await logging.getByRole('button', { name: 'Remove Logging' }).click();
  await page.getByRole('dialog', { name: 'Remove logging from dev?' }).getByRole('button', { name: 'Remove' }).click();
  await logging.getByText('Off', { exact: true }).waitFor({ timeout: 90_000 });
  await logging.getByRole('button', { name: 'Install Logging' }).waitFor();
});

// A Deployment created while the page is open shows its pods Running
// without a reload: the tables follow a watch.
scenario('workloads', async (page) => {
  const w = new Workloads(page);
  await w.namespace.waitFor();
  assert.equal(await w.namespace.inputValue(), 'default');
  await w.deployment('train').waitFor();
  const csrf = (await (await page.request.get('/v1/me')).json()).csrfToken;
  const manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'live', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'live' } },
      template: { metadata: { labels: { app: 'live' } }, spec: { containers: [{ name: 'main', image: 'busybox' }] } },
    },
  };
  const r = await page.request.fetch('/k8s/clusters/dev/apis/apps/v1/namespaces/default/deployments/live?fieldManager=e2e', {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/apply-patch+yaml', 'X-CSRF-Token': csrf },
    data: JSON.stringify(manifest),
  });
  assert.equal(r.status(), 201, await r.text());
  await w.deployment('live').getByRole('cell', { name: '2/2', exact: true }).waitFor();
  const pods = w.podRows('live-');
  for (let i = 0; i < 2; i++) await pods.nth(i).getByText('Running', { exact: true }).waitFor();
  assert.equal(await pods.count(), 2);
  await w.searchPods.fill('live-');
  assert.equal(await w.podRows('train-').count(), 0, 'search hides other pods');
  await page.screenshot({ path: join(outDir, 'workloads-live.png'), fullPage: true });
  await w.searchPods.fill('');

  // Scale to 1 through the dialog: one pod goes away, live.
  await w.deployment('live').getByRole('button', { name: 'Scale live' }).click();
  const dialog = page.getByRole('dialog', { name: 'Scale live' });
  await dialog.getByLabel('Replicas').fill('1');
  await dialog.getByRole('button', { name: 'Scale' }).click();
  await dialog.waitFor({ state: 'detached' });
  await w.deployment('live').getByRole('cell', { name: '1/1', exact: true }).waitFor();
  for (let i = 0; i < 100 && (await pods.count()) !== 1; i++) await page.waitForTimeout(100);
  assert.equal(await pods.count(), 1, 'one pod left after scaling to 1');

  // Delete asks first.
  await w.deployment('live').getByRole('button', { name: 'Delete live' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete live?' });
  await confirm.getByText('This cannot be undone.', { exact: false }).waitFor();
  await page.screenshot({ path: join(outDir, 'workloads-delete-confirm.png') });
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await w.deployment('live').waitFor({ state: 'detached' });
});

const gpuDemo = `apiVersion: v1
kind: ConfigMap
metadata:
  name: gpu-demo-config
data:
  MODEL: llama
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gpu-demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: gpu-demo}
  template:
    metadata:
      labels: {app: gpu-demo}
    spec:
      containers:
      - name: main
        image: cuda
        envFrom:
        - configMapRef: {name: gpu-demo-config}
        resources:
          limits:
            nvidia.com/gpu: 1
`;

// Several documents, dry-run first (nothing is created, a wrong document
// is named with the reason), then applied; the pods go Running live.
scenario('apply', async (page) => {
  await page.getByRole('link', { name: 'Apply YAML' }).click();
  const apply = new ApplyPage(page);
  await apply.heading.waitFor();
  await apply.yaml.fill(gpuDemo + '---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: nope\n');
  assert.equal(await apply.apply.isDisabled(), true, 'no apply before a dry run');
  await apply.dryRun.click();
  const widget = apply.result('Widget nope');
  await widget.getByRole('alert').filter({ hasText: 'Document 3 (line 29): This cluster does not serve Widget in example.com/v1.' }).waitFor();
  await apply.result('ConfigMap default/gpu-demo-config').getByText('Will be created').waitFor();
  assert.equal(await apply.apply.isDisabled(), true, 'no apply while a document fails');

  await apply.yaml.fill(gpuDemo);
  await apply.dryRun.click();
  const deployment = apply.result('Deployment default/gpu-demo');
  await deployment.getByText('Will be created').waitFor();
  const diff = deployment.getByLabel('Changes to Deployment default/gpu-demo');
  assert.match(await diff.innerText(), /^\+\s+nvidia\.com\/gpu: "1"$/m);
  assert.match(await diff.innerText(), /^\+\s+replicas: 2$/m);
  const before = await page.request.get('/k8s/clusters/dev/apis/apps/v1/namespaces/default/deployments/gpu-demo');
  assert.equal(before.status(), 404, 'a dry run creates nothing');
  await page.screenshot({ path: join(outDir, 'apply-dry-run.png'), fullPage: true });

  await apply.apply.click();
  await deployment.getByText('Created', { exact: true }).waitFor();
  await apply.result('ConfigMap default/gpu-demo-config').getByText('Created', { exact: true }).waitFor();
  await page.screenshot({ path: join(outDir, 'apply-applied.png'), fullPage: true });

  // The same YAML again changes nothing.
  await apply.dryRun.click();
  await page.getByRole('heading', { name: 'Dry run results' }).waitFor();
  await deployment.getByText('Unchanged', { exact: true }).waitFor();
  await apply.result('ConfigMap default/gpu-demo-config').getByText('Unchanged', { exact: true }).waitFor();

  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'dev' }).click();
  const w = new Workloads(page);
  await w.deployment('gpu-demo').getByRole('cell', { name: '2/2', exact: true }).waitFor();
  const pods = w.podRows('gpu-demo-');
  for (let i = 0; i < 2; i++) await pods.nth(i).getByText('Running', { exact: true }).waitFor();
  await page.screenshot({ path: join(outDir, 'apply-pods-running.png'), fullPage: true });

  // A pod's page: containers, conditions, events and its YAML.
  const podName = await pods.first().getByRole('rowheader').textContent();
  await pods.first().getByRole('link', { name: podName }).click();
  await page.getByRole('heading', { level: 1, name: podName }).waitFor();
  await page.getByRole('table', { name: 'Containers' }).getByRole('rowheader', { name: 'main', exact: true }).waitFor();
  await page.getByRole('table', { name: 'Conditions' }).getByRole('rowheader', { name: 'Ready', exact: true }).waitFor();
  assert.match(await page.getByRole('region', { name: 'YAML' }).or(page.getByLabel('YAML')).first().innerText(), /nvidia\.com\/gpu: "1"/);
  await page.screenshot({ path: join(outDir, 'pod-details.png'), fullPage: true });

  // Its log, followed: a line the container writes now shows without a
  // reload (kwok serves one simulated log file for every container).
  const log = page.getByLabel('Log of main');
  await page.getByRole('status').filter({ hasText: 'Following the log live.' }).waitFor();
  const marker = `e2e log line ${Date.now()}`;
  appendFileSync(devPodLog, `${new Date().toISOString()} stdout F ${marker}\n`);
  await log.getByText(marker).waitFor();
  const [logFile] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download' }).click()]);
  assert.match(logFile.suggestedFilename(), /^gpu-demo-.*-main\.log$/);
  assert.match(readFileSync(await logFile.path(), 'utf8'), new RegExp(marker));
  await page.screenshot({ path: join(outDir, 'pod-logs.png'), fullPage: true });
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'dev' }).click();
  await w.deployment('gpu-demo').waitFor();
});

// "Run a container" with the form: a GPU Deployment pinned to the GPU
// product, checked by a dry run, created, its pods Running live.
scenario('deploy form', async (page) => {
  await page.getByRole('link', { name: 'Run a container' }).click();
  const form = new DeployPage(page);
  await form.heading.waitFor();
  await form.check.click();
  await page.getByRole('alert').filter({ hasText: 'Some fields need attention' }).waitFor();
  await form.field('Name').fill('gpu-form');
  await form.field('Image').fill('cuda:12');
  await form.field('Replicas').fill('2');
  await form.field('GPUs').fill('1');
  await form.field('GPU product').selectOption('NVIDIA-A100-SXM4-80GB');
  assert.match(await form.preview.innerText(), /nvidia\.com\/gpu\.product: NVIDIA-A100-SXM4-80GB/);
  assert.equal(await form.create.isDisabled(), true, 'no create before a dry run');
  await form.check.click();
  await form.result('Deployment gpu-form').getByText('Will be created').waitFor();
  const before = await page.request.get('/k8s/clusters/dev/apis/apps/v1/namespaces/default/deployments/gpu-form');
  assert.equal(before.status(), 404, 'a dry run creates nothing');
  await page.screenshot({ path: join(outDir, 'deploy-form-dry-run.png'), fullPage: true });
  await form.create.click();
  await form.result('Deployment gpu-form').getByText('Created', { exact: true }).waitFor();
  await page.getByRole('link', { name: 'See its pods' }).click();
  const w = new Workloads(page);
  await w.deployment('gpu-form').getByRole('cell', { name: '2/2', exact: true }).waitFor();
  const pods = w.podRows('gpu-form-');
  for (let i = 0; i < 2; i++) await pods.nth(i).getByText('Running', { exact: true }).waitFor();
  assert.equal(await pods.count(), 2);
  await page.screenshot({ path: join(outDir, 'deploy-form-running.png'), fullPage: true });
});

// A Deployment's page: restart makes a new revision, rollback goes back
// to the first; a Secret's values stay hidden until revealed.
scenario('kinds', async (page) => {
  const w = new Workloads(page);
  await w.deployment('gpu-form').getByRole('link', { name: 'gpu-form' }).click();
  await page.getByRole('heading', { level: 1, name: 'gpu-form' }).waitFor();
  // Its pods, by its selector, live.
  const ownPods = page.getByRole('table', { name: 'Pods' }).getByRole('rowheader', { name: /^gpu-form-/ });
  await ownPods.nth(1).waitFor();
  const revision = page.locator('dt', { hasText: /^Revision$/ }).locator('xpath=following-sibling::dd');
  await revision.filter({ hasText: /^1$/ }).waitFor();
  await page.getByRole('button', { name: 'Restart gpu-form' }).click();
  await page.getByRole('dialog', { name: 'Restart gpu-form?' }).getByRole('button', { name: 'Restart' }).click();
  await revision.filter({ hasText: /^2$/ }).waitFor();
  assert.match(await page.getByRole('region', { name: 'YAML', exact: true }).innerText(), /kubectl\.kubernetes\.io\/restartedAt/);
  await page.getByRole('button', { name: 'Roll back gpu-form' }).click();
  const rollback = page.getByRole('dialog', { name: 'Roll back gpu-form' });
  await rollback.getByRole('radio', { name: /Revision 1/ }).check();
  await page.screenshot({ path: join(outDir, 'kinds-rollback.png') });
  await rollback.getByRole('button', { name: 'Roll back' }).click();
  await revision.filter({ hasText: /^3$/ }).waitFor();
  assert.doesNotMatch(await page.getByRole('region', { name: 'YAML', exact: true }).innerText(), /restartedAt/, 'revision 1’s template is back');

  const csrf = (await (await page.request.get('/v1/me')).json()).csrfToken;
  const r = await page.request.post('/k8s/clusters/dev/api/v1/namespaces/default/secrets', {
    headers: { 'X-CSRF-Token': csrf },
    data: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'e2e-secret' }, stringData: { password: 'hunter2-e2e' } },
  });
  assert.equal(r.status(), 201, await r.text());
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Deployments' }).click();
  await page.getByRole('navigation', { name: 'Kinds' }).getByRole('link', { name: 'Secrets' }).click();
  await page.getByRole('table', { name: 'Secrets' }).getByRole('link', { name: 'e2e-secret' }).click();
  await page.getByRole('heading', { level: 1, name: 'e2e-secret' }).waitFor();
  assert.equal(await page.getByText('hunter2-e2e').count(), 0, 'values hidden at first');
  assert.doesNotMatch(await page.getByRole('region', { name: 'YAML', exact: true }).innerText(), /aHVudGVy/);
  await page.getByRole('button', { name: 'Reveal values' }).click();
  await page.getByText('hunter2-e2e').waitFor();
  await page.screenshot({ path: join(outDir, 'kinds-secret.png'), fullPage: true });
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'dev' }).click();
  await w.deployment('gpu-form').waitFor();
});

// kubectl in the browser: the terminal opens with the page's cluster and
// namespace, runs kubectl on the server as the user, and a pod's Exec
// button opens a shell in the pod whose size follows the window.
scenario('terminal', async (page) => {
  await page.goto('/clusters/dev?namespace=default');
  await new ClusterPage(page).heading('dev').waitFor();
  await page.keyboard.press('Control+Backquote');
  const term = new TerminalPanel(page);
  await term.root.waitFor();
  await term.status.filter({ hasText: 'Connected' }).waitFor();
  await term.waitForText(/dev:default\$/);
  await term.type('kubectl get pods -n default');
  const listed = await term.waitForText(/gpu-demo-\S+\s+1\/1\s+Running/);
  const podName = /(gpu-demo-\S+)/.exec(listed)[1];
  await page.screenshot({ path: join(outDir, 'terminal-get-pods.png') });

  // Tab completes verbs; a policy refusal names its rule.
  await term.screen.click();
  await page.keyboard.type('kubectl api-res');
  await page.keyboard.press('Tab');
  await term.waitForText(/\$ kubectl api-resources\s*$/m);
  await page.keyboard.press('Control+C');
  await term.type('kubectl get pods --kubeconfig=/etc/kubernetes/admin.conf');
  await term.waitForText(/Refused \(flag-kubeconfig\): --kubeconfig is not allowed/);
  await term.close.click();
  await term.root.waitFor({ state: 'detached' });

  // A pod shell from the pod's page.
  await page.goto(`/clusters/dev/namespaces/default/pods/${podName}`);
  await page.getByRole('heading', { level: 1, name: podName }).waitFor();
  const exec = page.getByRole('form', { name: 'Open a shell' });
  await exec.getByRole('combobox', { name: 'Container' }).selectOption('main');
  await exec.getByRole('combobox', { name: 'Shell' }).selectOption('/bin/sh');
  await exec.getByRole('button', { name: 'Exec' }).click();
  await term.status.filter({ hasText: 'Running' }).waitFor();
  await term.waitForText(new RegExp(`kubectl exec -it -n default ${podName} -c main -- /bin/sh`));
  await term.type('echo in-pod-$((40+2))');
  // Typed before the shell's first prompt, the output follows it.
  await term.waitForText(/(^|\$ )in-pod-42\s*$/m);
  const before = await term.size();
  await term.type('stty size');
  await term.waitForText(new RegExp(`(^|\\$ )${before.rows} ${before.cols}\\s*$`, 'm'));
  // A smaller window: the terminal refits and the pod's shell sees it.
  await page.setViewportSize({ width: 1000, height: 700 });
  // The panel may refit more than once (height, then width): compare with
  // the size the terminal has now, each time.
  for (let i = 0; ; i++) {
    const now = await term.size();
    const seen = new RegExp(`(^|\\$ )${now.rows} ${now.cols}\\s*$`, 'm').test(await term.text());
    if (seen && (now.rows !== before.rows || now.cols !== before.cols)) break;
    // The size travels kubectl's resize stream, the line its stdin: ask
    // again until the shell has it.
    if (i > 50) throw new Error(`the pod never saw ${now.rows}x${now.cols}:\n${await term.text()}`);
    await term.type('stty size');
    await page.waitForTimeout(200);
  }
  await page.screenshot({ path: join(outDir, 'terminal-exec-resized.png') });
  await term.type('exit');
  await term.status.filter({ hasText: 'Connected' }).waitFor();
  await page.setViewportSize({ width: 1366, height: 860 });
  await term.close.click();
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'dev' }).click();
  await new ClusterPage(page).heading('dev').waitFor();
});

// Tokens: the admin creates an API token, sees its value once, uses it,
// revokes it, and lists every user's tokens.
scenario('tokens', async (page) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('heading', { level: 1, name: 'Tokens' }).waitFor();
  const tokens = page.getByRole('table', { name: 'Tokens' });
  await tokens.getByText('Browser session (this session)').waitFor();
  const description = `e2e CI ${Date.now()}`;
  await page.getByRole('button', { name: 'Create a token' }).click();
  const create = page.getByRole('dialog', { name: 'Create a token' });
  await create.getByLabel('Description').fill(description);
  await create.getByLabel('Expires after').selectOption({ label: '7 days' });
  await create.getByRole('button', { name: 'Create' }).click();
  const shown = page.getByRole('dialog', { name: 'Your new token' });
  await shown.getByText(/shown only this once/).waitFor();
  const value = await shown.getByRole('textbox', { name: 'Token' }).inputValue();
  assert.ok(value.length > 20, 'the value is shown');
  await shown.getByRole('button', { name: 'Copy the token' }).waitFor();
  await page.screenshot({ path: join(outDir, 'tokens-created.png') });
  const asToken = () => page.request.get('/v1/me', { headers: { Authorization: `Bearer ${value}` }, failOnStatusCode: false });
  assert.equal((await asToken()).status(), 200, 'the new token works');
  await shown.getByRole('button', { name: 'Done' }).click();
  const row = tokens.getByRole('row').filter({ has: page.getByRole('rowheader', { name: description, exact: true }) });
  await row.waitFor();
  assert.equal(await page.getByText(value).count(), 0, 'the value is gone once the dialog is closed');

  const own = await tokens.getByRole('rowheader').count();
  await page.getByLabel("Show every user's tokens").check();
  await page.getByRole('columnheader', { name: /Owner/ }).waitFor();
  // alice and bob have sessions too (test/e2e logs them in): more rows.
  for (let i = 0; (await tokens.getByRole('rowheader').count()) <= own; i++) {
    assert.ok(i < 100, "every user's tokens are listed");
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: join(outDir, 'tokens-all-users.png'), fullPage: true });
  await page.getByLabel("Show every user's tokens").uncheck();

  await row.getByRole('button', { name: `Revoke ${description}` }).click();
  await page.getByRole('dialog', { name: `Revoke ${description}?` }).getByRole('button', { name: 'Revoke' }).click();
  await row.waitFor({ state: 'detached' });
  assert.equal((await asToken()).status(), 401, 'the revoked token is refused');
});

// Audit: the admin finds the restart of gpu-form (a patch through the
// proxy in the kinds scenario) with filters kept in the address, opens it,
// and sees the empty state of a search that matches nothing.
scenario('audit', async (page) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Administration' }).click();
  await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Audit log' }).click();
  const filters = page.getByRole('form', { name: 'Filter the audit log' });
  await filters.getByLabel('Cluster').fill('dev');
  await filters.getByLabel('Verb').fill('patch');
  await filters.getByRole('button', { name: 'Search' }).click();
  const q = new URL(page.url()).searchParams;
  assert.equal(q.get('cluster'), 'dev');
  assert.equal(q.get('verb'), 'patch');
  const records = page.getByRole('table', { name: 'Audit records' });
  const restart = records.getByRole('row').filter({ hasText: 'gpu-form' }).first();
  await restart.waitFor();
  await page.screenshot({ path: join(outDir, 'audit-filtered.png'), fullPage: true });
  await restart.getByRole('button', { name: /^Details of patch by / }).click();
  const drawer = page.getByRole('dialog', { name: 'Audit record' });
  await drawer.getByText('deployments', { exact: true }).waitFor();
  await page.screenshot({ path: join(outDir, 'audit-record.png') });
  await drawer.getByRole('button', { name: 'Close' }).click();
  // The address alone reproduces a search.
  await page.goto(`/admin/audit?user=nobody-${Date.now()}`);
  await page.getByText('No records match: widen the time range or clear a filter.').waitFor();
  // Back where the next scenario starts.
  await page.goto('/clusters/dev?namespace=default');
  await new Workloads(page).deployment('gpu-form').waitFor();
});

scenario('japanese', async (page) => {
  const shell = new Shell(page);
  await shell.language('Language').selectOption('ja');
  await page.getByRole('heading', { level: 2, name: 'ノード' }).waitFor();
  await page.getByRole('heading', { level: 2, name: '接続方法' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'ワークロード' }).waitFor();
  await page.getByRole('searchbox', { name: 'Deploymentを検索' }).waitFor();
  await page.getByRole('columnheader', { name: '再起動' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  // The choice survives a reload.
  await page.reload();
  await page.getByRole('table', { name: 'ノード' }).waitFor();
  await page.getByRole('link', { name: 'kubeconfig をダウンロード' }).waitFor();
  await page.screenshot({ path: join(outDir, 'cluster-ja.png'), fullPage: true });
  await page.getByRole('navigation', { name: 'メイン' }).getByRole('link', { name: 'クラスター' }).click();
  await page.getByRole('heading', { level: 1, name: 'クラスター' }).waitFor();
  await page.getByRole('article', { name: 'dev', exact: true }).getByText('準備完了').waitFor();
});

scenario('logout', async (page) => {
  const shell = new Shell(page);
  await shell.language('言語').selectOption('en');
  await new HomePage(page).heading.waitFor();
  await shell.accountMenu.click();
  await page.getByText('Logged in as admin').waitFor();
  await shell.logOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.getByRole('status').textContent(), 'You have logged out.');
  const me = await page.request.get('/v1/me');
  assert.equal(me.status(), 401, 'the session ended on the server');
  await page.goto('/clusters/dev');
  await login.heading.waitFor();
});

// alice views dev and was granted nothing else.
scenario('alice', async (page) => {
  // The logout above ended on /clusters/dev: after login alice is taken
  // back there.
  await new LoginPage(page).logIn('alice', alicePassword);
  const cluster = new ClusterPage(page);
  await cluster.heading('dev').waitFor();
  await cluster.nodes.waitFor();
  assert.equal(await cluster.nodeRows().count(), 2, 'a cluster viewer lists the nodes');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
  const home = new HomePage(page);
  await home.card('dev').status.waitFor();
  assert.equal(await page.getByRole('article').count(), 1, 'alice sees one cluster');
  assert.equal(await home.card('prod').root.count(), 0, 'prod is not shown to alice');
  await page.screenshot({ path: join(outDir, 'alice-home.png'), fullPage: true });

  await page.goto('/clusters/prod');
  await page.getByRole('alert').filter({ hasText: 'There is no cluster named prod that you may use.' }).waitFor();
  assert.equal(await cluster.nodes.count(), 0);

  // A viewer gets no Scale or Delete button, and the apiserver refuses a
  // delete forged from her session.
  await page.goto('/clusters/dev?namespace=default');
  const w = new Workloads(page);
  await w.deployment('gpu-demo').getByRole('cell', { name: '2/2', exact: true }).waitFor();
  await w.podRows('gpu-demo-').first().waitFor();
  assert.equal(await w.deployments.getByRole('button', { name: /^(Scale|Delete|Restart|Roll back) / }).count(), 0, 'no action buttons for a viewer');
  assert.equal(await w.deployments.getByRole('columnheader', { name: 'Actions' }).count(), 0);
  await page.screenshot({ path: join(outDir, 'alice-workloads.png'), fullPage: true });
  const csrf = (await (await page.request.get('/v1/me')).json()).csrfToken;
  const forged = await page.request.delete('/k8s/clusters/dev/apis/apps/v1/namespaces/default/deployments/gpu-demo', { headers: { 'X-CSRF-Token': csrf } });
  assert.equal(forged.status(), 403, 'the apiserver refuses a viewer’s delete');
  assert.equal((await forged.json()).reason, 'Forbidden');
  await w.deployment('gpu-demo').waitFor();

  const shell = new Shell(page);
  await shell.accountMenu.click();
  await page.getByText('Logged in as alice').waitFor();
  assert.equal(await page.getByText('Administrator', { exact: true }).count(), 0, 'alice is no administrator');
  await shell.logOut.click();
  await new LoginPage(page).heading.waitFor();
});

// alice's terminal acts as alice: the apiserver refuses what a viewer may
// not do, and the terminal shows its answer.
scenario('alice-terminal', async (page) => {
  await new LoginPage(page).logIn('alice', alicePassword);
  // After a logout, login starts at home.
  await new HomePage(page).heading.waitFor();
  await page.goto('/clusters/dev?namespace=default');
  await new ClusterPage(page).heading('dev').waitFor();
  await page.getByRole('button', { name: 'Open a terminal' }).click();
  const term = new TerminalPanel(page);
  await term.status.filter({ hasText: 'Connected' }).waitFor();
  await term.type('kubectl auth whoami -o jsonpath={.status.userInfo.username}');
  await term.waitForText(/^bokujo:alice/m);
  await term.type('kubectl get pods -n default');
  await term.waitForText(/gpu-demo-\S+\s+1\/1\s+Running/);
  // A server-side dry run: were it allowed, it would still change nothing.
  await term.type('kubectl delete deployment gpu-demo -n default --dry-run=server');
  await term.waitForText(/Error from server \(Forbidden\): deployments\.apps "gpu-demo" is forbidden: User "bokujo:alice" cannot delete resource "deployments"/);
  await page.screenshot({ path: join(outDir, 'terminal-forbidden.png') });
  await term.close.click();
  const shell = new Shell(page);
  await shell.accountMenu.click();
  await shell.logOut.click();
  await new LoginPage(page).heading.waitFor();
});

// The admin grants bob the project ml in the Administration pages; bob,
// logged in meanwhile in a browser of his own, sees dev and the project
// after a reload.
scenario('admin grants bob a project', async (page) => {
  const bobContext = await browser.newContext(contextOptions);
  bobContext.setDefaultTimeout(15_000);
  try {
    const bob = await bobContext.newPage();
    await bob.goto('/');
    await new LoginPage(bob).logIn('bob', bobPassword);
    await bob.getByRole('heading', { name: 'No clusters yet' }).waitFor();

    await new LoginPage(page).logIn('admin', adminPassword);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Administration' }).click();
    await page.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();
    await page.getByRole('table', { name: 'Users' }).getByRole('rowheader', { name: 'bob', exact: true }).waitFor();
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Members' }).click();
    const form = page.getByRole('form', { name: 'Add a member' });
    await page.getByLabel('Project', { exact: true }).selectOption('ml');
    await form.getByLabel('User', { exact: true }).selectOption({ label: 'bob' });
    await form.getByLabel('Role template').fill('project-member');
    await form.getByRole('button', { name: 'Grant' }).click();
    const members = page.getByRole('table', { name: 'Members of ml' });
    await members.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'bob', exact: true }) }).getByText('project-member').waitFor();
    await page.screenshot({ path: join(outDir, 'admin-members.png'), fullPage: true });

    // A user the admin adds in the page chooses their own password at
    // the first login.
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Add a user' }).click();
    const add = page.getByRole('dialog', { name: 'Add a user' });
    const carolPassword = `carol-initial-${Date.now()}`;
    await add.getByLabel('User name').fill('carol');
    await add.getByLabel('Initial password').fill(carolPassword);
    assert.equal(await add.getByLabel('Ask for a new password at the first login').isChecked(), true);
    await add.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('table', { name: 'Users' }).getByRole('rowheader', { name: 'carol', exact: true }).waitFor();
    const carolContext = await browser.newContext(contextOptions);
    try {
      const carol = await carolContext.newPage();
      carol.setDefaultTimeout(15_000);
      await carol.goto('/');
      await new LoginPage(carol).logIn('carol', carolPassword);
      await carol.getByRole('heading', { name: 'Choose your own password' }).waitFor();
      await carol.getByLabel('Current password').fill(carolPassword);
      await carol.getByLabel('New password', { exact: true }).fill(`carol-own-${Date.now()}`);
      await carol.getByLabel('New password again').fill(await carol.getByLabel('New password', { exact: true }).inputValue());
      await carol.screenshot({ path: join(outDir, 'first-login-password.png') });
      await carol.getByRole('button', { name: 'Change password' }).click();
      await carol.getByRole('heading', { name: 'No clusters yet' }).waitFor();
    } finally {
      await carolContext.close();
    }

    await bob.reload();
    await new HomePage(bob).card('dev').link.click();
    await new ClusterPage(bob).heading('dev').waitFor();
    await bob.getByRole('heading', { level: 3, name: 'ml', exact: true }).waitFor();
    await bob.screenshot({ path: join(outDir, 'bob-granted.png'), fullPage: true });
  } finally {
    await bobContext.close();
  }
});

// The admin creates a project with a namespace and a GPU quota in the
// Projects tab; the project controller makes the namespace and its quota
// in the cluster.
scenario('project with a GPU quota', async (page) => {
  await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('button', { name: 'Create a project' }).click();
  const dialog = page.getByRole('form', { name: 'Create a project' });
  await dialog.getByLabel('Name', { exact: true }).fill('gpu-team');
  await dialog.getByLabel('Cluster', { exact: true }).selectOption('dev');
  await dialog.getByLabel('Namespaces', { exact: true }).fill('gpu-team-a');
  await dialog.getByLabel('GPUs (requests.nvidia.com/gpu)').fill('4');
  await page.screenshot({ path: join(outDir, 'project-create.png') });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('table', { name: 'Projects' }).getByRole('rowheader', { name: 'gpu-team', exact: true }).waitFor();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await page.request.fetch('/k8s/clusters/dev/api/v1/namespaces/gpu-team-a/resourcequotas');
    const quotas = r.ok() ? (await r.json()).items : [];
    if (quotas.some((q) => q.spec?.hard?.['requests.nvidia.com/gpu'] === '4')) break;
    if (Date.now() > deadline) throw new Error(`no GPU quota of 4 in gpu-team-a: ${r.status()} ${JSON.stringify(quotas)}`);
    await page.waitForTimeout(500);
  }
  await page.screenshot({ path: join(outDir, 'project-created.png'), fullPage: true });
});

// ---- runner -----------------------------------------------------------

const browser = await launch({ baseURL, caFile, executablePath });
const contextOptions = { baseURL, viewport: { width: 1366, height: 860 }, locale: 'en-US', acceptDownloads: true };
const context = await browser.newContext(contextOptions);
context.setDefaultTimeout(15_000);
const page = await context.newPage();
const problems = [];
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
page.on('console', (msg) => {
  // Failed requests (the expected 401 and 429 answers) are logged by the
  // browser itself; anything else at error level, CSP violations
  // included, is a defect.
  if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
});

let failed = 0;
let n = 0;
for (const { name, fn } of scenarios) {
  n++;
  const shot = join(outDir, `${String(n).padStart(2, '0')}-${name}.png`);
  if (failed) {
    console.log(`SKIP ${name} (an earlier scenario failed)`);
    continue;
  }
  const start = Date.now();
  try {
    await fn(page);
    if (problems.length) throw new Error(`browser reported:\n  ${problems.splice(0).join('\n  ')}`);
    console.log(`ok   ${name} (${((Date.now() - start) / 1000).toFixed(1)}s) ${shot}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name} (${((Date.now() - start) / 1000).toFixed(1)}s) at ${page.url()}\n${err.stack ?? err}`);
  } finally {
    await page.screenshot({ path: shot, fullPage: true }).catch((e) => console.log(`screenshot ${shot}: ${e.message}`));
  }
}
await browser.close();
console.log(failed ? `${failed} scenario(s) failed` : `all ${scenarios.length} scenarios passed`);
process.exit(failed ? 1 : 0);
