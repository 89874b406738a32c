// Page objects: what a user sees, found by role and accessible name only
// (never by CSS position), so the tests read like the user's steps and
// survive layout changes.

export class LoginPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Log in to bokujo' });
    this.username = page.getByLabel('User name');
    this.password = page.getByLabel('Password');
    this.submit = page.getByRole('button', { name: 'Log in' });
    this.alert = page.getByRole('alert');
  }

  async logIn(username, password) {
    await this.username.fill(username);
    await this.password.fill(password);
    await this.submit.click();
  }
}

export class Shell {
  constructor(page) {
    this.page = page;
    this.accountMenu = page.getByRole('button', { name: /^Account menu for / });
    this.logOut = page.getByRole('button', { name: 'Log out' });
    this.language = (label) => page.getByRole('combobox', { name: label });
  }
}

export class HomePage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { level: 1, name: 'Clusters' });
  }

  card(cluster) {
    const card = this.page.getByRole('article', { name: cluster, exact: true });
    return {
      root: card,
      status: card.getByText('Ready', { exact: true }),
      meter: (resource) => card.getByRole('meter', { name: resource, exact: true }),
      link: card.getByRole('link', { name: cluster, exact: true }),
    };
  }
}

export class ClusterPage {
  constructor(page) {
    this.page = page;
    this.nodes = page.getByRole('table', { name: 'Nodes' });
    this.download = page.getByRole('link', { name: 'Download kubeconfig' });
  }

  heading(cluster) {
    return this.page.getByRole('heading', { level: 1, name: cluster, exact: true });
  }

  /** nodeRows are the body rows: each is named by its row header. */
  nodeRows() {
    return this.nodes.getByRole('row').filter({ has: this.page.getByRole('rowheader') });
  }
}

export class Workloads {
  constructor(page) {
    this.page = page;
    this.namespace = page.getByRole('combobox', { name: 'Namespace' });
    this.deployments = page.getByRole('table', { name: 'Deployments' });
    this.pods = page.getByRole('table', { name: 'Pods' });
    this.searchPods = page.getByRole('searchbox', { name: 'Search Pods' });
  }

  deployment(name) {
    return this.deployments.getByRole('row').filter({ has: this.page.getByRole('rowheader', { name, exact: true }) });
  }

  /** podRows are the pods whose name starts with prefix. */
  podRows(prefix) {
    return this.pods.getByRole('row').filter({ has: this.page.getByRole('rowheader', { name: new RegExp(`^${prefix}`) }) });
  }
}

export class ApplyPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { level: 1, name: 'Apply YAML' });
    this.yaml = page.getByRole('textbox', { name: 'YAML' });
    this.dryRun = page.getByRole('button', { name: 'Dry run' });
    this.apply = page.getByRole('button', { name: 'Apply', exact: true });
  }

  /** result is a document's entry, named by kind and namespace/name. */
  result(name) {
    return this.page.getByRole('listitem', { name, exact: true });
  }
}

export class DeployPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { level: 1, name: 'Run a container' });
    this.check = page.getByRole('button', { name: 'Check (dry run)' });
    this.create = page.getByRole('button', { name: 'Create', exact: true });
    this.preview = page.getByLabel('YAML preview');
  }

  field(label) {
    return this.page.getByLabel(label, { exact: true });
  }

  result(name) {
    return this.page.getByRole('listitem', { name, exact: true });
  }
}

export class TerminalPanel {
  constructor(page) {
    this.page = page;
    this.root = page.getByRole('region', { name: 'Terminal' });
    this.screen = this.root.getByRole('application', { name: 'Terminal screen' });
    this.status = this.root.getByRole('status');
    this.close = this.root.getByRole('button', { name: 'Close the terminal' });
  }

  /** text is what the terminal shows, one line per row. */
  async text() {
    return this.screen.locator('.xterm-rows').innerText();
  }

  /** waitFor waits until the screen matches re and returns its text. */
  async waitForText(re, timeout = 15_000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      // Long lines wrap onto the next row: try the rows joined too.
      const text = (await this.text()).replace(/\u00a0/g, ' ');
      if (re.test(text) || re.test(text.replace(/\n/g, ''))) return text;
      if (Date.now() > deadline) throw new Error(`terminal does not show ${re}; it shows:\n${text}`);
      await this.page.waitForTimeout(100);
    }
  }

  /** type types a line into the terminal and presses Enter. */
  async type(line) {
    await this.screen.click();
    await this.page.keyboard.type(line);
    await this.page.keyboard.press('Enter');
  }

  async size() {
    return { cols: Number(await this.screen.getAttribute('data-cols')), rows: Number(await this.screen.getAttribute('data-rows')) };
  }
}
