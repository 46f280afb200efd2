// CARTO 3 logins from the panel, end to end against the local CARTO 3 API
// (tools/carto_api/carto3.py; the server is pointed at it by jupyter_server_test_config.py):
// the PKCE redirect flow (a window opens, the user logs in on the local authorize page, the
// server completes the login, the panel shows the account), the paste-the-code flow, an M2M
// client by upload, a kernel cell reading the pushed login through carto_auth(), and a scan
// of every file the server wrote (and the browser console) for tokens and secrets.
import * as fs from 'node:fs';
import * as path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import type { Page, Request } from '@playwright/test';

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
    // A result, not work going on: no spinner next to it.
    const progress = page.locator(`${SECTION} .jp-CartoCredentials-progress`);
    await expect(progress).toHaveText('Added alice M2M.');
    await expect(page.locator(SECTION)).toHaveAttribute('aria-busy', 'false');
    expect(
      await progress.evaluate(
        node => getComputedStyle(node, '::before').content
      )
    ).toBe('none');
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

  test('a pydeck-carto map draws with the login token, which the saved notebook never holds', async ({
    page,
    tmpPath
  }) => {
    // deck.gl comes from the CDNs pydeck names, served here from pydeck's own bundle and the
    // pinned npm packages (test/e2e/cdn.mjs): nothing leaves the machine.
    const { serveCdnLocally } = await import('../../test/e2e/cdn.mjs');
    const cdn = await serveCdnLocally(page);
    const mapsRequests: Request[] = [];
    page.on('request', request => {
      if (new URL(request.url()).pathname.startsWith('/v3/maps/')) {
        mapsRequests.push(request);
      }
    });
    const list = await callStore(page.request, 'GET', 'accounts');
    const m2m = list.body.accounts.find(
      (a: { kind: string }) => a.kind === 'm2m'
    );
    const notebook = await newNotebook(page, tmpPath, 'python3-carto3');
    await runCode(
      page,
      'import pydeck as pdk, pydeck_carto as pdkc, carto_credentials\n' +
        'auth = carto_credentials.carto_auth()\n' +
        'pdkc.register_layers()\n' +
        'source = pdkc.sources.vector_query_source(access_token=auth.get_access_token(),\n' +
        '    api_base_url=auth.get_api_base_url(), connection_name="carto_dw",\n' +
        '    sql_query="select * from alice_stores", spatial_data_column="the_geom")\n' +
        'layer = pdk.Layer("VectorTileLayer", id="stores", data=source, pickable=True,\n' +
        '    get_fill_color=[200, 0, 80], point_radius_min_pixels=12)\n' +
        'view = pdk.ViewState(latitude=40.4168, longitude=-3.7, zoom=13)\n' +
        'pdk.Deck(layers=[layer], initial_view_state=view, map_style=None)'
    );
    const shown = page.locator(
      '.jp-OutputArea-output.jp-CartoCredentials-deckOutput iframe'
    );
    await expect(shown).toHaveCount(1);
    const key = await callStore(page.request, 'GET', `accounts/${m2m.id}/key`);
    const token: string = key.body.access_token;
    // What deck.gl is given: the login's token in the layer's source, no placeholder left.
    const srcdoc = (await shown.getAttribute('srcdoc')) ?? '';
    expect(srcdoc).toContain(token);
    expect(srcdoc).not.toContain('carto-credentials-access-token-');

    // deck.gl drew the stores from the local Maps API: picking at Sol's position finds it.
    const map = (await (await shown.elementHandle())!.contentFrame())!;
    await map.waitForFunction(
      () => {
        if (document.querySelector('body > b')) {
          return true; // pydeck-carto's notifyError replaced the page: reported below
        }
        // pydeck's page: `const deckInstance = createDeck(…)`, a global lexical binding.
        const deck = (0, eval)(
          'typeof deckInstance === "undefined" ? null : deckInstance'
        );
        // getViewports() asserts until deck is initialized: ask only then.
        const viewport = deck?.isInitialized ? deck.getViewports()[0] : null;
        if (!viewport) {
          return false;
        }
        const [x, y] = viewport.project([-3.7038, 40.4168]);
        return (
          deck.pickObject({ x, y, radius: 4 })?.object?.properties?.name ===
          'Sol'
        );
      },
      undefined,
      { timeout: 60000, polling: 200 }
    );
    expect(
      await map.evaluate(() =>
        document.querySelector('body > b') ? document.body.textContent : null
      )
    ).toBeNull();
    await screenshot(shown, 'carto3-pydeck-map');
    expect(cdn.unexpected).toEqual([]);
    const paths = mapsRequests.map(r => new URL(r.url()).pathname);
    expect(paths).toContain('/v3/maps/carto_dw/query');
    expect(paths).toContain('/v3/maps/carto_dw/query/tilejson');
    for (const request of mapsRequests) {
      expect(request.url()).not.toContain(token);
      if (request.method() !== 'OPTIONS') {
        expect((await request.allHeaders()).authorization).toBe(
          `Bearer ${token}`
        );
      }
    }

    await page.notebook.save();
    const saved = fs.readFileSync(path.join(dirs.work, notebook), 'utf8');
    expect(saved).toContain('application/vnd.carto-credentials.deck+json');
    expect(saved).toContain('carto-credentials-access-token-0');
    expect(saved).not.toContain(token);
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
