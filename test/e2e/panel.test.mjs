// The user interface in the real JupyterLab: log in from the sidebar, the first cell sees the
// user, a bad key changes nothing, a notebook switches account from its toolbar, public mode,
// restart, the access dialog, light and dark screenshots, and no key in the saved notebook.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_USERS,
  callStore,
  startCartoApi,
  writeSettings
} from './carto-api.mjs';
import {
  launchBrowser,
  newNotebook,
  openLab,
  restartKernel,
  runCell,
  screenshot,
  startLab,
  waitForNotebookKernel
} from './harness.mjs';

const WHO =
  'from carto_credentials import get_default_credentials\nc = get_default_credentials()\nprint(c.username, c.api_key == "default_public")';
const PANEL = '#jp-carto-credentials-panel';
const FORM = `${PANEL} .jp-CartoCredentials-form`;

describe('CARTO sidebar, toolbar and status bar', { timeout: 600000 }, () => {
  let api;
  let lab;
  let browser;
  let page;
  let notebookPath;

  async function logIn(username, key, { publicOnly = false } = {}) {
    await page.fill(`${FORM} .jp-CartoCredentials-usernameInput`, username);
    if (publicOnly) {
      await page.check(`${FORM} .jp-CartoCredentials-publicCheckbox`);
    } else {
      await page.fill(`${FORM} .jp-CartoCredentials-keyInput`, key);
    }
    await page.click(`${FORM} .jp-CartoCredentials-loginButton`);
    await page.waitForFunction(
      form =>
        document.querySelector(form)?.getAttribute('aria-busy') !== 'true',
      FORM
    );
  }

  async function accounts() {
    const answer = await callStore(page, 'GET', 'accounts');
    assert.equal(answer.status, 200);
    return answer.body;
  }

  async function chooseInToolbar(accountId) {
    await page.selectOption(
      '.jp-CartoCredentials-notebookAccount select',
      accountId
    );
  }

  before(async () => {
    api = await startCartoApi();
    lab = await startLab();
    writeSettings(lab, {
      allowNonHttps: true,
      baseUrlTemplate: api.userUrl('{username}')
    });
    browser = await launchBrowser();
    page = browser.page;
    await openLab(page, lab);
    await page.evaluate(() =>
      window.jupyterapp.commands.execute(
        'jupyterlab-carto-credentials:open-panel'
      )
    );
    await page.waitForSelector(`${FORM} .jp-CartoCredentials-usernameInput`, {
      state: 'visible'
    });
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
    await api?.stop();
  });

  it('shows a clear message for a bad key and changes nothing', async () => {
    await logIn('alice', 'not-the-right-key');
    const alert = await page.textContent(`${FORM} .jp-CartoCredentials-error`);
    assert.match(alert, /key/i);
    assert.equal(
      await page.inputValue(`${FORM} .jp-CartoCredentials-usernameInput`),
      'alice',
      'the form keeps what the user typed'
    );
    assert.deepEqual((await accounts()).accounts, []);
    await screenshot(page, 'panel-bad-key');
  });

  it('logs in from the panel and says who is signed in', async () => {
    await page.fill(`${FORM} .jp-CartoCredentials-keyInput`, '');
    await logIn('alice', DEMO_USERS.alice);
    await page.waitForSelector(`${PANEL} .jp-CartoCredentials-signedIn`);
    assert.match(
      await page.textContent(`${PANEL} .jp-CartoCredentials-signedIn`),
      /Alice|alice/
    );
    assert.equal(
      await page.inputValue(`${FORM} .jp-CartoCredentials-keyInput`),
      ''
    );
    const list = await accounts();
    assert.equal(list.accounts.length, 1);
    assert.equal(list.default_account, list.accounts[0].id);
    const html = await page.content();
    assert.ok(!html.includes(DEMO_USERS.alice), 'no key in the DOM');
    await screenshot(page, 'panel-light');
  });

  it("gives a new notebook's first cell the signed-in user", async () => {
    notebookPath = await newNotebook(page);
    assert.equal((await runCell(page, WHO)).trim(), 'alice False');
    await page.waitForSelector('.jp-CartoCredentials-status');
    assert.match(
      await page.textContent('.jp-CartoCredentials-status'),
      /alice/
    );
  });

  it('switches this notebook to a second account from its toolbar, and the kernel follows', async () => {
    await logIn('bob', DEMO_USERS.bob);
    const bob = (await accounts()).accounts.find(a => a.username === 'bob');
    await chooseInToolbar(bob.id);
    assert.equal((await runCell(page, WHO)).trim(), 'bob False');
    await page.locator('.jp-CartoCredentials-notebookAccount').screenshot({
      path: path.join(
        path.dirname(await screenshot(page, 'notebook')),
        'toolbar-item.png'
      )
    });
  });

  it('uses public data only with default_public', async () => {
    const before = (await accounts()).accounts.length;
    await page.fill(`${FORM} .jp-CartoCredentials-baseUrlInput`, '');
    await logIn('bob', '', { publicOnly: true });
    const all = (await accounts()).accounts;
    assert.equal(all.length, before + 1);
    const publicBob = all.find(a => a.public);
    await chooseInToolbar(publicBob.id);
    assert.equal((await runCell(page, WHO)).trim(), 'bob True');
  });

  it('keeps credentials after a kernel restart', async () => {
    await restartKernel(page);
    assert.equal((await runCell(page, WHO)).trim(), 'bob True');
  });

  it('saves the notebook with an account id and no key', async () => {
    await runCell(page, 'get_default_credentials()');
    await page.evaluate(() =>
      window.jupyterapp.shell.currentWidget.context.save()
    );
    const saved = fs.readFileSync(
      path.join(lab.dirs.work, notebookPath),
      'utf8'
    );
    assert.match(saved, /"carto_credentials": \{\s*"account": "acc-/);
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(!saved.includes(key));
      assert.ok(!browser.messages.some(m => m.includes(key)));
    }
  });

  it('asks before giving a notebook from elsewhere the key', async () => {
    const name = 'from-elsewhere.ipynb';
    fs.writeFileSync(
      path.join(lab.dirs.work, name),
      JSON.stringify({
        cells: [],
        metadata: {
          kernelspec: {
            name: 'python3',
            display_name: 'Python 3',
            language: 'python'
          }
        },
        nbformat: 4,
        nbformat_minor: 5
      })
    );
    await page.evaluate(
      nb =>
        void window.jupyterapp.commands.execute('docmanager:open', {
          path: nb
        }),
      name
    );
    const dialog = page.locator('.jp-Dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /from-elsewhere\.ipynb/);
    await screenshot(page, 'grant-dialog');
    await dialog.getByRole('button', { name: 'Allow' }).click();
    await waitForNotebookKernel(page, name);
    assert.equal((await runCell(page, WHO)).trim(), 'alice False');
    const grants = await callStore(page, 'GET', 'grants');
    assert.equal(grants.body.grants[name], 'allow');
  });

  it('gives a console opened here the default account without asking', async () => {
    await page.evaluate(() => {
      void window.jupyterapp.commands.execute('console:create', {
        kernelPreference: { name: 'python3' }
      });
    });
    await page.waitForFunction(
      () =>
        window.jupyterapp.shell.currentWidget?.console?.sessionContext?.session
          ?.kernel?.status === 'idle'
    );
    const printed = await page.evaluate(async code => {
      const { console: codeConsole } = window.jupyterapp.shell.currentWidget;
      codeConsole.promptCell.model.sharedModel.setSource(code);
      await codeConsole.execute(true);
      const cell = codeConsole.cells.get(codeConsole.cells.length - 1);
      return cell.outputArea.model
        .toJSON()
        .map(output => output.text ?? '')
        .join('');
    }, WHO);
    assert.equal(printed.trim(), 'alice False');
    assert.equal(await page.locator('.jp-Dialog').count(), 0);
  });

  it('renders in the dark theme', async () => {
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('apputils:change-theme', {
        theme: 'JupyterLab Dark'
      })
    );
    // Changing theme shows the splash screen until the new theme's CSS is in.
    await page.waitForFunction(
      () =>
        document.body.dataset.jpThemeLight === 'false' &&
        !document.getElementById('jupyterlab-splash')
    );
    await page.evaluate(() =>
      window.jupyterapp.commands.execute(
        'jupyterlab-carto-credentials:open-panel'
      )
    );
    const background = await page.evaluate(
      panel => getComputedStyle(document.querySelector(panel)).backgroundColor,
      PANEL
    );
    assert.notEqual(background, 'rgb(255, 255, 255)');
    await screenshot(page, 'panel-dark');
  });
});
