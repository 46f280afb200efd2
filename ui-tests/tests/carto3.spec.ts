// CARTO 3 logins from the panel, end to end against the local CARTO 3 API
// (tools/carto_api/carto3.py; the server is pointed at it by jupyter_server_test_config.py):
// the PKCE redirect flow (a window opens, the user logs in on the local authorize page, the
// server completes the login, the panel shows the account), the paste-the-code flow, an M2M
// client by upload, a kernel cell reading the pushed login through carto_auth(), and a scan
// of every file the server wrote (and the browser console) for tokens and secrets.
import * as fs from 'node:fs';
import * as path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';

import {
  PANEL,
  api,
  callStore,
  consoleMessages,
  dirs,
  emptyStore,
  expect,
  filesContaining,
  newNotebook,
  openCartoPanel,
  runCode,
  screenshot,
  test
} from './carto';

const SECTION = `${PANEL} .jp-CartoCredentials-carto3`;
const PASSWORDS: Record<string, string> = {
  alice: 'alice-demo-password',
  bob: 'bob-demo-password'
};
const M2M = {
  client_id: 'alice-m2m-client-0001',
  client_secret: 'alice-m2m-demo-secret-0001'
};
const API_BASE_URL = api.url.replace(/\/$/, '');

test.describe.configure({ mode: 'serial' });
// Real settings and workspace files (galata mocks them in memory by default; the run's settings
// allow the local API's plain http), and notebooks kept after each test, so the last test can
// scan everything the server wrote.
test.use({ mockSettings: false, mockState: false, serverFiles: 'on' });

/** Log in on the local CARTO authorize page the panel opened. */
async function logInOnCarto(popup: Page, username: string): Promise<void> {
  await popup.waitForURL(/\/authorize\?/);
  await popup.fill('#username', username);
  await popup.fill('#password', PASSWORDS[username]);
  await popup.click('button[value="login"]');
}

function accountItem(page: Page, kind: string) {
  return page.locator(
    `${PANEL} .jp-CartoCredentials-accounts > li.jp-CartoCredentials-account[data-kind="${kind}"]`
  );
}

test.describe('CARTO 3 logins', () => {
  test.beforeAll(async ({ request }) => {
    await emptyStore(request);
  });

  test('PKCE redirect flow: log in on CARTO in the window, the panel shows the account', async ({
    page
  }) => {
    await openCartoPanel(page);
    const login = page.locator(`${SECTION} .jp-CartoCredentials-carto3Login`);
    await expect(login).toBeVisible();
    const popupOpened = page.waitForEvent('popup');
    await login.click();
    const popup = await popupOpened;
    await expect(
      page.locator(`${SECTION} .jp-CartoCredentials-progress`)
    ).toContainText('Waiting for the CARTO login');
    const closed = popup.waitForEvent('close');
    await logInOnCarto(popup, 'alice');
    // CARTO sends the window back to this server's callback, which completes the login and
    // closes the window; the panel, following the login, shows the account.
    await closed;
    await expect(accountItem(page, 'oauth')).toHaveCount(1);
    await expect(
      page.locator(`${SECTION} .jp-CartoCredentials-progress`)
    ).toContainText('Logged in to CARTO as');
    await expect(page.locator(SECTION)).toHaveAttribute('aria-busy', 'false');

    const list = await callStore(page.request, 'GET', 'accounts');
    const oauth = list.body.accounts.filter((a: any) => a.kind === 'oauth');
    expect(oauth).toHaveLength(1);
    expect(oauth[0].api_base_url).toBe(API_BASE_URL);
    expect(oauth[0].status).toBe('ok');
  });

  test('paste flow: the code CARTO shows, pasted into the panel', async ({
    page
  }) => {
    await openCartoPanel(page);
    const popupOpened = page.waitForEvent('popup');
    await page.click(`${SECTION} .jp-CartoCredentials-carto3PasteLogin`);
    const popup = await popupOpened;
    await logInOnCarto(popup, 'bob');
    await popup.waitForURL(/\/auth\/token\?/);
    const code = await popup.locator('#code').inputValue();
    expect(code).not.toBe('');
    await popup.close();
    const field = page.locator(`${SECTION} .jp-CartoCredentials-codeInput`);
    await expect(field).toBeFocused();
    await field.fill(code);
    await page.click(`${SECTION} .jp-CartoCredentials-codeSubmit`);
    await expect(accountItem(page, 'oauth')).toHaveCount(2);
    await expect(
      page.locator(`${SECTION} .jp-CartoCredentials-pasteForm`)
    ).toBeHidden();
  });

  test('M2M by upload, then a notebook cell gets the login through carto_auth()', async ({
    page,
    tmpPath
  }) => {
    const file = path.join(dirs.root, 'tmp', 'm2m-credentials.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ api_base_url: API_BASE_URL, ...M2M })
    );
    await openCartoPanel(page);
    await page.setInputFiles(`${SECTION} .jp-CartoCredentials-m2mFile`, file);
    await page.fill(`${SECTION} .jp-CartoCredentials-m2mLabel`, 'alice M2M');
    await page.click(`${SECTION} .jp-CartoCredentials-m2mSubmit`);
    const item = accountItem(page, 'm2m');
    await expect(item).toHaveCount(1);
    fs.rmSync(file);
    // Notebooks use the default account: make the M2M client the default.
    await item.locator('.jp-CartoCredentials-makeDefault').click();
    await expect(item).toHaveClass(/jp-mod-default/);

    await newNotebook(page, tmpPath);
    const output = await runCode(
      page,
      'import carto_credentials\n' +
        'auth = carto_credentials.carto_auth()\n' +
        'print(auth.get_api_base_url(), len(auth.get_access_token()) > 0)'
    );
    expect(output.trim()).toBe(`${API_BASE_URL} True`);
    await page.notebook.save();
  });

  test('the CARTO 3 section has no WCAG 2.1 AA violation with the code field and an error shown', async ({
    page
  }) => {
    await openCartoPanel(page);
    const popupOpened = page.waitForEvent('popup');
    await page.click(`${SECTION} .jp-CartoCredentials-carto3PasteLogin`);
    await (await popupOpened).close();
    // Enter in the code field submits it (a form): a wrong code is refused by CARTO.
    const field = page.locator(`${SECTION} .jp-CartoCredentials-codeInput`);
    await field.fill('not-a-code');
    await field.press('Enter');
    const error = page.locator(`${SECTION} .jp-CartoCredentials-error`);
    await expect(error).toContainText('CARTO refused this code');
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    await page
      .locator(`${SECTION} .jp-CartoCredentials-carto3Options summary`)
      .click();
    await screenshot(page.locator(PANEL), 'carto3-panel');
    // JupyterLab's 0-px-high body would make axe skip every contrast check (see a11y.spec.ts).
    await page.evaluate(() => {
      document.body.style.height = '100vh';
    });
    const { violations } = await new AxeBuilder({ page })
      .include(SECTION)
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    expect(
      violations.flatMap(v =>
        v.nodes.map(n => `${v.id}: ${v.help} at ${n.target.join(' ')}`)
      )
    ).toEqual([]);
    await page.click(`${SECTION} .jp-CartoCredentials-carto3Cancel`);
    await expect(page.locator(SECTION)).toHaveAttribute('aria-busy', 'false');
  });

  test('no token or client secret in saved notebooks, settings, workspaces or the console', async ({
    page
  }) => {
    const list = await callStore(page.request, 'GET', 'accounts');
    const secrets = [M2M.client_secret];
    for (const account of list.body.accounts) {
      const key = await callStore(
        page.request,
        'GET',
        `accounts/${account.id}/key`
      );
      expect(key.status).toBe(200);
      secrets.push(key.body.access_token);
    }
    expect(secrets).toHaveLength(4);
    for (const secret of secrets) {
      for (const dir of [dirs.work, dirs.settings, dirs.workspaces]) {
        expect(filesContaining(dir, secret)).toEqual([]);
      }
      expect(consoleMessages.filter(m => m.includes(secret))).toEqual([]);
    }
  });
});
