// The user interface in the real JupyterLab, driven with galata: log in from the sidebar, the
// first cell sees the user, a bad key changes nothing, a notebook switches account from its
// toolbar, public mode, restart, the access dialog, a console, light and dark screenshots, and
// no key in the saved notebook, the browser console or any file the server wrote but the store.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { galata } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

import {
  DEMO_USERS,
  FORM,
  PANEL,
  STORE,
  TOOLBAR_SELECT,
  api,
  callStore,
  consoleMessages,
  dirs,
  emptyStore,
  expect,
  filesContaining,
  logInFromPanel,
  newNotebook,
  openCartoPanel,
  openNotebook,
  restartKernel,
  runCode,
  screenshot,
  test,
  waitForIdleKernel
} from './carto';

const WHO =
  'from carto_credentials import get_default_credentials\nc = get_default_credentials()\nprint(c.username, c.api_key == "default_public")';

test.describe.configure({ mode: 'serial' });
// Galata's in-memory settings, with ours: plain-http accounts on the local CARTO API.
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyterlab-carto-credentials:plugin': {
      allowNonHttps: true,
      baseUrlTemplate: api.userUrl('{username}')
    }
  }
});

async function accounts(request: APIRequestContext) {
  const answer = await callStore(request, 'GET', 'accounts');
  expect(answer.status).toBe(200);
  return answer.body;
}

test.beforeAll(async ({ request }) => {
  await emptyStore(request);
});

test('Accel Alt C moves the keyboard into the panel: typing never goes to the cell', async ({
  page,
  tmpPath
}) => {
  await newNotebook(page, tmpPath);
  await page.notebook.enterCellEditingMode(0);
  await page.keyboard.type('x = 1');
  await page.keyboard.press('Control+Alt+c');
  const username = page.locator(`${FORM} .jp-CartoCredentials-usernameInput`);
  await expect(username).toBeFocused();
  await page.keyboard.type('alice');
  await expect(username).toHaveValue('alice');
  expect(await page.notebook.getCellTextInput(0)).toBe('x = 1');
});

test('shows a clear message for a bad key and changes nothing', async ({
  page,
  request
}) => {
  await openCartoPanel(page);
  await logInFromPanel(page, 'alice', 'not-the-right-key');
  await expect(page.locator(`${FORM} .jp-CartoCredentials-error`)).toHaveText(
    /key/i
  );
  await expect(
    page.locator(`${FORM} .jp-CartoCredentials-usernameInput`),
    'the form keeps what the user typed'
  ).toHaveValue('alice');
  expect((await accounts(request)).accounts).toEqual([]);
  await screenshot(page, 'panel-bad-key');
});

test('logs in from the panel and says who is signed in', async ({
  page,
  request
}) => {
  await openCartoPanel(page);
  await logInFromPanel(page, 'alice', DEMO_USERS.alice);
  await expect(
    page.locator(`${PANEL} .jp-CartoCredentials-signedIn`)
  ).toHaveText(/Alice|alice/);
  await expect(
    page.locator(`${FORM} .jp-CartoCredentials-keyInput`)
  ).toHaveValue('');
  const list = await accounts(request);
  expect(list.accounts).toHaveLength(1);
  expect(list.default_account).toBe(list.accounts[0].id);
  expect(await page.content(), 'no key in the DOM').not.toContain(
    DEMO_USERS.alice
  );
  await screenshot(page, 'panel-light');
});

test('a new notebook follows the login, its toolbar choice, public mode and restarts, and is saved without a key', async ({
  page,
  request,
  tmpPath
}) => {
  // The whole story on one notebook and kernel: five steps, each running cells.
  test.slow();
  await openCartoPanel(page);
  const notebookPath = await newNotebook(page, tmpPath);

  await test.step("gives a new notebook's first cell the signed-in user", async () => {
    expect((await runCode(page, WHO)).trim()).toBe('alice False');
    await expect(page.locator('.jp-CartoCredentials-status')).toHaveText(
      /alice/
    );
  });

  await test.step('switches this notebook to a second account from its toolbar, and the kernel follows', async () => {
    await logInFromPanel(page, 'bob', DEMO_USERS.bob);
    const bob = (await accounts(request)).accounts.find(
      (a: { username: string }) => a.username === 'bob'
    );
    await page.selectOption(TOOLBAR_SELECT, bob.id);
    expect((await runCode(page, WHO)).trim()).toBe('bob False');
    await screenshot(page, 'notebook');
    await screenshot(
      page.locator('.jp-CartoCredentials-notebookAccount'),
      'toolbar-item'
    );
  });

  await test.step('uses public data only with default_public', async () => {
    const before = (await accounts(request)).accounts.length;
    await page.fill(`${FORM} .jp-CartoCredentials-baseUrlInput`, '');
    await logInFromPanel(page, 'bob', '', { publicOnly: true });
    const all = (await accounts(request)).accounts;
    expect(all).toHaveLength(before + 1);
    const publicBob = all.find((a: { public: boolean }) => a.public);
    await page.selectOption(TOOLBAR_SELECT, publicBob.id);
    expect((await runCode(page, WHO)).trim()).toBe('bob True');
  });

  await test.step('keeps credentials after a kernel restart', async () => {
    await restartKernel(page);
    expect((await runCode(page, WHO)).trim()).toBe('bob True');
  });

  await test.step('saves the notebook with an account id and no key', async () => {
    await runCode(page, 'get_default_credentials()');
    expect(await page.notebook.save()).toBe(true);
    const saved = fs.readFileSync(path.join(dirs.work, notebookPath), 'utf8');
    expect(saved).toMatch(/"carto_credentials": \{\s*"account": "acc-/);
    for (const key of Object.values(DEMO_USERS)) {
      expect(saved).not.toContain(key);
      expect(consoleMessages.filter(m => m.includes(key))).toEqual([]);
      expect(filesContaining(dirs.root, key)).toEqual([STORE]);
    }
  });
});

test('asks before giving a notebook from elsewhere the key', async ({
  page,
  request,
  tmpPath
}) => {
  // Uploaded, not created here by a notebook command: the extension must ask.
  const notebookPath = `${tmpPath}/from-elsewhere.ipynb`;
  expect(
    await page.contents.uploadContent(
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
      }),
      'text',
      notebookPath
    )
  ).toBe(true);
  await openNotebook(page, notebookPath);
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(/from-elsewhere\.ipynb/);
  await screenshot(page, 'grant-dialog');
  // Closed unanswered: the status bar item asks again when clicked.
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  const status = page.locator('.jp-CartoCredentials-status');
  await expect(status).toHaveClass(/jp-mod-not_granted/);
  await status.click();
  await expect(dialog).toContainText(/from-elsewhere\.ipynb/);
  await dialog.getByRole('button', { name: 'Allow' }).click();
  await expect(status).toHaveClass(/jp-mod-signed_in/);
  await waitForIdleKernel(page);
  expect((await runCode(page, WHO)).trim()).toBe('alice False');
  const grants = await callStore(request, 'GET', 'grants');
  expect(grants.body.grants[notebookPath]).toBe('allow');
});

test('gives a console opened here the default account without asking', async ({
  page
}) => {
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('console:create', {
      kernelPreference: { name: 'python3' }
    });
  });
  await page.waitForFunction(
    () =>
      (window.jupyterapp.shell.currentWidget as any)?.console?.sessionContext
        ?.session?.kernel?.status === 'idle'
  );
  const printed = await page.evaluate(async code => {
    const { console: codeConsole } = window.jupyterapp.shell
      .currentWidget as any;
    codeConsole.promptCell.model.sharedModel.setSource(code);
    await codeConsole.execute(true);
    const cell = codeConsole.cells.get(codeConsole.cells.length - 1);
    return cell.outputArea.model
      .toJSON()
      .map((output: { text?: string }) => output.text ?? '')
      .join('');
  }, WHO);
  expect(printed.trim()).toBe('alice False');
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
});

test('the notebook commands act on the notebook in front, not on one behind a console', async ({
  page,
  tmpPath
}) => {
  const notebookPath = await newNotebook(page, tmpPath);
  const enabled = () =>
    page.evaluate(() =>
      window.jupyterapp.commands.isEnabled(
        'jupyterlab-carto-credentials:switch-account'
      )
    );
  expect(await enabled()).toBe(true);
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('console:create', {
      kernelPreference: { name: 'python3' }
    });
  });
  await page.waitForFunction(
    () => (window.jupyterapp.shell.currentWidget as any)?.console !== undefined
  );
  expect(await enabled()).toBe(false);
  await openNotebook(page, notebookPath);
  expect(await enabled()).toBe(true);
});

test('renders in the dark theme', async ({ page }) => {
  await page.theme.setDarkTheme();
  await openCartoPanel(page);
  const background = await page.evaluate(
    panel => getComputedStyle(document.querySelector(panel)!).backgroundColor,
    PANEL
  );
  expect(background).not.toBe('rgb(255, 255, 255)');
  await screenshot(page, 'panel-dark');
});

test('logs out with the keyboard: the result is said and the focus stays in the list', async ({
  page,
  request
}) => {
  await openCartoPanel(page);
  const before = (await accounts(request)).accounts.length;
  expect(before).toBeGreaterThan(0);
  const logOut = page.locator(`${PANEL} .jp-CartoCredentials-logOut`).last();
  await logOut.focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Log out of CARTO?');
  await page.keyboard.press('Enter'); // the dialog's default button: Log out
  await expect(dialog).toHaveCount(0);
  await expect(
    page.locator(`${PANEL} .jp-CartoCredentials-listStatus`)
  ).toContainText('Logged out of');
  expect((await accounts(request)).accounts).toHaveLength(before - 1);
  // Not dropped on <body>: still in the CARTO panel, where the next Tab makes sense.
  expect(
    await page.evaluate(
      panel => document.querySelector(panel)!.contains(document.activeElement),
      PANEL
    )
  ).toBe(true);
});
