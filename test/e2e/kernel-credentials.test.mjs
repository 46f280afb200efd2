// The shared context end to end in the real JupyterLab: an account in the store reaches a new
// notebook's first cell, survives a restart, follows a notebook's own choice, and no key lands
// in the saved notebook or any file the session wrote, except the 0600 store.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_USERS,
  callStore,
  filesContaining,
  startCartoApi,
  writeSettings
} from './carto-api.mjs';
import {
  REPO_ROOT,
  launchBrowser,
  newNotebook,
  openLab,
  restartKernel,
  runCell,
  startLab,
  waitForNotebookKernel
} from './harness.mjs';

const WHO =
  'from carto_credentials import get_default_credentials\nprint(get_default_credentials().username)';

// A kernel of another Python environment (kernelspec of scripts/setup.sh): ipykernel 6.29
// without our package on its path and without our IPython startup file.
const BARE_KERNEL = 'python3-bare';
const BARE_PYTHON = path.join(REPO_ROOT, '.venv-kernel-bare', 'bin', 'python');

describe('credentials reach the kernel', { timeout: 240000 }, () => {
  let api;
  let lab;
  let browser;
  let page;
  let bobId;
  let notebookPath;

  before(async () => {
    api = await startCartoApi();
    lab = await startLab({ baseUrl: '/user/alice/' });
    writeSettings(lab, { allowNonHttps: true });
    browser = await launchBrowser();
    page = browser.page;
    await openLab(page, lab);
    for (const [name, key] of Object.entries(DEMO_USERS)) {
      const created = await callStore(page, 'POST', 'accounts', {
        base_url: api.userUrl(name),
        api_key: key,
        validate: true,
        allow_non_https: true
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      if (name === 'bob') {
        bobId = created.body.id;
      } else {
        const made = await callStore(page, 'PUT', 'default', {
          account_id: created.body.id
        });
        assert.equal(made.status, 200);
      }
    }
    // The page loaded before the accounts existed: reload, as a user would after logging in.
    await openLab(page, lab);
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
    await api?.stop();
  });

  it('gives a notebook created here the default account in its first cell', async () => {
    notebookPath = await newNotebook(page);
    assert.equal((await runCell(page, WHO)).trim(), 'alice');
  });

  it('still has credentials after a kernel restart', async () => {
    await restartKernel(page);
    assert.equal((await runCell(page, WHO)).trim(), 'alice');
  });

  it("follows the notebook's own account, stored as an id in its metadata", async () => {
    await page.evaluate(id => {
      const panel = window.jupyterapp.shell.currentWidget;
      panel.content.model.setMetadata('carto_credentials', { account: id });
    }, bobId);
    // The metadata is read when a notebook opens: close and reopen it.
    await page.evaluate(async nbPath => {
      const app = window.jupyterapp;
      await app.shell.currentWidget.context.save();
      await app.commands.execute('application:close-all', {});
      const widget = await app.commands.execute('docmanager:open', {
        path: nbPath
      });
      app.shell.activateById(widget.id);
    }, notebookPath);
    await waitForNotebookKernel(page, notebookPath);
    assert.equal((await runCell(page, WHO)).trim(), 'bob');
  });

  it('bootstraps a kernel whose environment lacks the package', async () => {
    await newNotebook(page, { kernelName: BARE_KERNEL });
    const loaded = "import sys\nprint('carto_credentials' in sys.modules)";
    // The bootstrap follows the kernel's refusal of our comm; no user action is involved.
    let seen = '';
    for (let i = 0; i < 20 && seen !== 'True'; i++) {
      seen = (await runCell(page, loaded)).trim();
    }
    assert.equal(seen, 'True');
    // Loaded from the server's copy by path: the repository is not on this kernel's path.
    const where = await runCell(
      page,
      'import carto_credentials, sys\n' +
        `print(sys.executable, carto_credentials.__file__, ${JSON.stringify(REPO_ROOT)} in sys.path)`
    );
    assert.equal(
      where.trim(),
      `${BARE_PYTHON} ${path.join(REPO_ROOT, 'carto_credentials', '__init__.py')} False`
    );
    assert.equal((await runCell(page, WHO)).trim(), 'alice');
  });

  it('masks a printed key in the output, on display and in the saved file', async () => {
    const printed = await runCell(
      page,
      'from carto_credentials import get_default_credentials\n' +
        'c = get_default_credentials()\nprint(c.api_key)\nc'
    );
    assert.ok(!printed.includes(DEMO_USERS.alice), printed);
    assert.match(printed, /••••0001/);
    assert.ok(
      !(await page.content()).includes(DEMO_USERS.alice),
      'key in the page'
    );
    await page.evaluate(() =>
      window.jupyterapp.shell.currentWidget.context.save()
    );
  });

  it('writes no key into the saved notebooks, settings, workspaces or logs', async () => {
    const notebooks = fs
      .readdirSync(lab.dirs.work)
      .filter(name => name.endsWith('.ipynb'))
      .map(name => fs.readFileSync(path.join(lab.dirs.work, name), 'utf8'));
    assert.equal(notebooks.length, 2);
    assert.ok(notebooks.some(text => /"carto_credentials": \{/.test(text)));
    const store = path.join(
      lab.dirs.data,
      'carto_credentials',
      'accounts.json'
    );
    assert.equal(fs.statSync(store).mode & 0o777, 0o600);
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(
        notebooks.every(text => !text.includes(key)),
        'key in a saved notebook'
      );
      assert.deepEqual(filesContaining(lab.dirs.root, key), [store]);
      assert.ok(
        !browser.messages.some(m => m.includes(key)),
        'key in the browser console'
      );
    }
  });
});
