// Stays on this harness rather than galata (ui-tests/): galata drives JupyterLab only (its page
// fixture waits for the Lab shell and launcher, its helpers use Lab's DOM), not Notebook 7.
// Notebook 7 (`jupyter notebook`): the CARTO panel is reachable from View › Left Sidebar on the
// file browser and on the notebook page, logging in there reaches a notebook created with
// New › Python 3, whose toolbar has the account selector.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_USERS,
  callStore,
  startCartoApi,
  writeSettings
} from './carto-api.mjs';
import {
  launchBrowser,
  openLab,
  runCell,
  screenshot,
  startLab
} from './harness.mjs';

const WHO =
  'from carto_credentials import get_default_credentials\nprint(get_default_credentials().username)';
const PANEL = '#jp-carto-credentials-panel';
const FORM = `${PANEL} .jp-CartoCredentials-form`;

// Notebook 7.6.3's own noise, with or without our extension (checked with it disabled): the
// shortcuts plugin reads the schema of a plugin whose settings failed to load, on every page.
const UPSTREAM_ERRORS = [
  /^pageerror: TypeError: Cannot read properties of undefined \(reading 'schema'\)/
];
// New › Python 3 on the file browser page creates the notebook there (its session starts the
// kernel), then opens it in a new tab and disposes its own widget ("Disposed"); that page stays
// connected to the kernel, so it sees the messages the kernel broadcasts on the notebook page's
// comms and logs "Comm not found".
const TREE_ONLY_ERRORS = [
  /^pageerror: Error: Disposed/,
  /^error: Comm not found for comm id /
];

/** View › Left Sidebar › Show CARTO credentials, as a user would. */
async function showCartoPanel(page) {
  await page.click('.lm-MenuBar-itemLabel:text-is("View")');
  await page.hover('.lm-Menu-itemLabel:text-is("Left Sidebar")');
  await page.click('.lm-Menu-itemLabel:text-is("Show CARTO credentials")');
  await page.waitForSelector(PANEL, { state: 'visible' });
}

/** Console messages and page errors of one page, as "type: text". */
function watch(page) {
  const messages = [];
  page.on('console', msg => messages.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', err =>
    messages.push(`pageerror: ${err.stack || err.message}`)
  );
  return messages;
}

function errorsIn(messages, allowed) {
  return messages.filter(
    m =>
      /^(error|pageerror):/.test(m) &&
      !allowed.some(re => re.test(m.split('\n')[0]))
  );
}

describe('Notebook 7', { timeout: 300000 }, () => {
  let api;
  let lab;
  let browser;
  let tree;
  let treeMessages;
  let notebook;
  let notebookMessages;

  before(async () => {
    api = await startCartoApi();
    lab = await startLab({ app: 'notebook' });
    writeSettings(lab, {
      allowNonHttps: true,
      baseUrlTemplate: api.userUrl('{username}')
    });
    browser = await launchBrowser();
    tree = browser.page;
    treeMessages = watch(tree);
    await openLab(tree, lab, { path: 'tree', reset: false });
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
    await api?.stop();
  });

  it('serves Notebook 7 with our plugins active', async () => {
    const state = await tree.evaluate(() => ({
      name: window.jupyterapp.name,
      version: window.jupyterapp.version,
      panel: window.jupyterapp.isPluginActivated(
        'jupyterlab-carto-credentials:panel'
      )
    }));
    assert.deepEqual(state, {
      name: 'Jupyter Notebook',
      version: '7.6.3',
      panel: true
    });
  });

  it('logs in from the CARTO panel of the file browser page', async () => {
    await showCartoPanel(tree);
    await tree.fill(`${FORM} .jp-CartoCredentials-usernameInput`, 'alice');
    await tree.fill(`${FORM} .jp-CartoCredentials-keyInput`, DEMO_USERS.alice);
    await tree.click(`${FORM} .jp-CartoCredentials-loginButton`);
    await tree.waitForSelector(`${PANEL} .jp-CartoCredentials-signedIn`);
    assert.match(
      await tree.textContent(`${PANEL} .jp-CartoCredentials-signedIn`),
      /Alice|alice/
    );
    const list = await callStore(tree, 'GET', 'accounts');
    assert.equal(list.body.accounts.length, 1);
    assert.equal(list.body.default_account, list.body.accounts[0].id);
    await screenshot(tree, 'notebook7-tree-panel');
  });

  it('gives a notebook made with New › Python 3 the user, with the selector in its toolbar', async () => {
    const opened = browser.context.waitForEvent('page');
    await tree.getByText('New', { exact: true }).click();
    await tree.click(
      '.lm-Menu .lm-Menu-itemLabel:text-is("Python 3 (ipykernel)")'
    );
    notebook = await opened;
    notebookMessages = watch(notebook);
    await notebook.waitForFunction(
      () =>
        window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel
          ?.status === 'idle',
      null,
      { timeout: 60000 }
    );
    assert.match(notebook.url(), /\/notebooks\/Untitled\.ipynb$/);
    const selector = notebook.locator(
      '.jp-NotebookPanel-toolbar .jp-CartoCredentials-notebookAccount select'
    );
    await selector.waitFor();
    assert.match(await selector.textContent(), /alice/);
    assert.equal((await runCell(notebook, WHO)).trim(), 'alice');
    // Created in this front end: no access question.
    assert.equal(await notebook.locator('.jp-Dialog').count(), 0);
    await screenshot(notebook, 'notebook7-notebook');
  });

  it('shows the CARTO panel on the notebook page too, signed in', async () => {
    await showCartoPanel(notebook);
    assert.match(
      await notebook.textContent(`${PANEL} .jp-CartoCredentials-signedIn`),
      /Alice|alice/
    );
    await screenshot(notebook, 'notebook7-notebook-panel');
  });

  it('logs no errors of ours and shows no key', async () => {
    assert.deepEqual(browser.httpErrors, []);
    assert.deepEqual(errorsIn(notebookMessages, UPSTREAM_ERRORS), []);
    assert.deepEqual(
      errorsIn(treeMessages, [...UPSTREAM_ERRORS, ...TREE_ONLY_ERRORS]),
      []
    );
    for (const page of [tree, notebook]) {
      assert.ok(!(await page.content()).includes(DEMO_USERS.alice));
    }
    assert.ok(!browser.messages.some(m => m.includes(DEMO_USERS.alice)));
  });
});
