// The shared context end to end in the real JupyterLab, driven with galata: an account in the
// store reaches a new notebook's first cell, survives a restart, follows a notebook's own choice,
// reaches a kernel whose environment lacks the package, is masked when printed, and no key
// lands in the saved notebooks or any file the session wrote (settings, workspaces, logs...),
// except the 0600 store. The same under a JupyterHub base URL is in
// test/e2e/kernel-credentials.test.mjs (galata cannot run under a base URL).
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  DEMO_USERS,
  REPO_ROOT,
  STORE,
  api,
  callStore,
  consoleMessages,
  dirs,
  emptyStore,
  expect,
  filesContaining,
  newNotebook,
  openNotebook,
  restartKernel,
  runCode,
  test,
  waitForIdleKernel
} from './carto';

const WHO =
  'from carto_credentials import get_default_credentials\nprint(get_default_credentials().username)';

// A kernel of another Python environment (kernelspec of scripts/setup.sh): ipykernel 6.29
// without our package on its path and without our IPython startup file.
const BARE_KERNEL = 'python3-bare';
const BARE_PYTHON = path.join(REPO_ROOT, '.venv-kernel-bare', 'bin', 'python');

test.describe.configure({ mode: 'serial' });
// Real settings and workspace files (galata mocks them in memory by default), and the notebooks
// kept after each test, so the last test can scan everything the server wrote.
test.use({ mockSettings: false, mockState: false, serverFiles: 'on' });

let bobId = '';
const notebooks: string[] = [];

test.beforeAll(async ({ request }) => {
  await emptyStore(request);
  for (const [name, key] of Object.entries(DEMO_USERS)) {
    const created = await callStore(request, 'POST', 'accounts', {
      base_url: api.userUrl(name),
      api_key: key,
      validate: true,
      allow_non_https: true
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    if (name === 'bob') {
      bobId = created.body.id;
    } else {
      const made = await callStore(request, 'PUT', 'default', {
        account_id: created.body.id
      });
      expect(made.status).toBe(200);
    }
  }
});

test('gives a notebook created here the default account in its first cell', async ({
  page,
  tmpPath
}) => {
  notebooks.push(await newNotebook(page, tmpPath));
  expect((await runCode(page, WHO)).trim()).toBe('alice');
});

test('still has credentials after a kernel restart', async ({
  page,
  tmpPath
}) => {
  notebooks.push(await newNotebook(page, tmpPath));
  expect((await runCode(page, WHO)).trim()).toBe('alice');
  await restartKernel(page);
  expect((await runCode(page, WHO)).trim()).toBe('alice');
});

test("follows the notebook's own account, stored as an id in its metadata", async ({
  page,
  tmpPath
}) => {
  const notebookPath = await newNotebook(page, tmpPath);
  notebooks.push(notebookPath);
  await page.evaluate(id => {
    const panel = window.jupyterapp.shell.currentWidget as any;
    panel.content.model.setMetadata('carto_credentials', { account: id });
  }, bobId);
  // The metadata is read when a notebook opens: save, close and reopen it.
  expect(await page.notebook.save()).toBe(true);
  expect(await page.notebook.close()).toBe(true);
  await openNotebook(page, notebookPath);
  await waitForIdleKernel(page);
  expect((await runCode(page, WHO)).trim()).toBe('bob');
});

test('bootstraps a kernel whose environment lacks the package', async ({
  page,
  tmpPath
}) => {
  notebooks.push(await newNotebook(page, tmpPath, BARE_KERNEL));
  const loaded = "import sys\nprint('carto_credentials' in sys.modules)";
  // The bootstrap follows the kernel's refusal of our comm; no user action is involved.
  let seen = '';
  for (let i = 0; i < 20 && seen !== 'True'; i++) {
    seen = (await runCode(page, loaded)).trim();
  }
  expect(seen).toBe('True');
  // Loaded from the server's copy by path: the repository is not on this kernel's path.
  const where = await runCode(
    page,
    'import carto_credentials, sys\n' +
      `print(sys.executable, carto_credentials.__file__, ${JSON.stringify(REPO_ROOT)} in sys.path)`
  );
  expect(where.trim()).toBe(
    `${BARE_PYTHON} ${path.join(REPO_ROOT, 'carto_credentials', '__init__.py')} False`
  );
  expect((await runCode(page, WHO)).trim()).toBe('alice');

  // A printed key is masked in the output, on display and in the saved file.
  const printed = await runCode(
    page,
    'from carto_credentials import get_default_credentials\n' +
      'c = get_default_credentials()\nprint(c.api_key)\nc'
  );
  expect(printed).not.toContain(DEMO_USERS.alice);
  expect(printed).toMatch(/\*\*\*0001/);
  expect(await page.content(), 'key in the page').not.toContain(
    DEMO_USERS.alice
  );
  expect(await page.notebook.save()).toBe(true);
});

test('writes no key into the saved notebooks, settings, workspaces or logs', async () => {
  const saved = notebooks.map(nb =>
    fs.readFileSync(path.join(dirs.work, nb), 'utf8')
  );
  expect(saved).toHaveLength(4);
  expect(saved.some(text => /"carto_credentials": \{/.test(text))).toBe(true);
  expect(fs.statSync(STORE).mode & 0o777).toBe(0o600);
  // The server really wrote settings and workspace files (no galata mocks here).
  expect(filesContaining(dirs.workspaces, '"data"').length).toBeGreaterThan(0);
  for (const key of Object.values(DEMO_USERS)) {
    expect(
      saved.every(text => !text.includes(key)),
      'key in a saved notebook'
    ).toBe(true);
    expect(filesContaining(dirs.root, key)).toEqual([STORE]);
    expect(
      consoleMessages.filter(m => m.includes(key)),
      'key in the browser console'
    ).toEqual([]);
  }
});
