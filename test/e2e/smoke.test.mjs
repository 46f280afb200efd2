// Stays on this harness rather than galata (ui-tests/): its second half serves JupyterLab under
// a JupyterHub-style base URL `/user/alice/`, which galata cannot drive (its file helpers call
// /api/contents without the prefix), and both halves check the server as users start it, with
// token auth and no galata helper extension loaded.
// Browser smoke test: the real `jupyter lab` 4.6 of the dev venv, a real kernel, headless
// Chromium. Run: node --test test/e2e/smoke.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  EXTENSION_NAME,
  launchBrowser,
  newNotebook,
  openLab,
  pageConfig,
  runCell,
  screenshot,
  startLab
} from './harness.mjs';

const PLUGIN_ID = `${EXTENSION_NAME}:plugin`;
const OUR_PLUGINS = [
  PLUGIN_ID,
  `${EXTENSION_NAME}:kernel-bridge`,
  `${EXTENSION_NAME}:panel`,
  `${EXTENSION_NAME}:notebook-toolbar`,
  `${EXTENSION_NAME}:status-bar`,
  `${EXTENSION_NAME}:widgets`
];
const WIDGET_MANAGER_PLUGIN = '@jupyter-widgets/jupyterlab-manager:plugin';

/** Our extension as the read-only extension manager lists it. */
async function listedExtension(lab) {
  const res = await lab.fetch('lab/api/extensions');
  assert.equal(res.status, 200, `lab/api/extensions answered ${res.status}`);
  const body = await res.json();
  // JupyterLab 4 answers [extensions, links]; keep older shapes readable.
  const list = Array.isArray(body[0]) ? body[0] : body;
  return list.find(e => e.name === EXTENSION_NAME);
}

describe('JupyterLab smoke', { timeout: 180000 }, () => {
  let lab;
  let browser;

  before(async () => {
    lab = await startLab();
    browser = await launchBrowser();
    await openLab(browser.page, lab);
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('serves JupyterLab 4.6 with our prebuilt extension on the labextensions path', async () => {
    const config = await pageConfig(browser.page);
    assert.equal(config.appVersion, '4.6.4');
    const names = (config.federated_extensions ?? []).map(e => e.name);
    assert.ok(
      names.includes(EXTENSION_NAME),
      `${EXTENSION_NAME} missing from federated_extensions (${JSON.stringify(names)}); ` +
        'build it (npm run build:prod) and install it (scripts/setup.sh)'
    );
    assert.match(
      lab.log(),
      /carto_credentials \| extension was successfully loaded/,
      'our server extension did not load'
    );
    const listed = await listedExtension(lab);
    assert.ok(listed, `${EXTENSION_NAME} not listed by lab/api/extensions`);
    assert.equal(listed.enabled, true);
  });

  it('activates every plugin of ours and the widget manager', async () => {
    const state = await browser.page.evaluate(
      ids =>
        ids.map(id => [
          id,
          window.jupyterapp.hasPlugin(id),
          window.jupyterapp.isPluginActivated(id)
        ]),
      [...OUR_PLUGINS, WIDGET_MANAGER_PLUGIN]
    );
    for (const [id, has, active] of state) {
      assert.ok(has, `plugin ${id} is not registered`);
      assert.ok(active, `plugin ${id} is registered but not activated`);
    }
  });

  it('runs a Python cell on a real kernel', async () => {
    const path = await newNotebook(browser.page);
    assert.match(path, /\.ipynb$/);
    const out = await runCell(
      browser.page,
      'import sys\nprint(6 * 7, sys.version_info[0])'
    );
    assert.equal(out, '42 3\n');
    const err = await runCell(browser.page, '1 / 0');
    assert.match(err, /ZeroDivisionError/);
    await screenshot(browser.page, 'smoke-notebook');
  });

  it('logs no errors in the browser console, gets no HTTP errors and shows no toast', async () => {
    assert.deepEqual(browser.httpErrors, []);
    const errors = browser.messages.filter(m => /^(error|pageerror):/.test(m));
    assert.deepEqual(errors, []);
    // The harness switches off the news and update-check notifications.
    assert.equal(
      await browser.page.locator('.jp-toast-message, .Toastify__toast').count(),
      0
    );
  });
});

describe(
  'JupyterLab under a JupyterHub-style base_url',
  { timeout: 120000 },
  () => {
    let lab;
    let browser;

    before(async () => {
      lab = await startLab({ baseUrl: '/user/alice/' });
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close();
      await lab?.stop();
    });

    it('serves the app, its assets and the extra endpoints below the prefix', async () => {
      assert.match(lab.url, /\/user\/alice\/$/);
      for (const endpoint of ['api/me', 'lsp/status', 'lab/api/extensions']) {
        const res = await lab.fetch(endpoint);
        assert.equal(res.status, 200, `${endpoint} answered ${res.status}`);
        await res.json();
      }
      const anonymous = await fetch(lab.url + 'carto-credentials/accounts');
      assert.equal(anonymous.status, 403, 'our REST API requires the token');
      await anonymous.text();
      await openLab(browser.page, lab);
      const config = await pageConfig(browser.page);
      assert.equal(config.baseUrl, '/user/alice/');
      assert.ok(config.fullStaticUrl.startsWith('/user/alice/'));
      const active = await browser.page.evaluate(
        id => window.jupyterapp.isPluginActivated(id),
        PLUGIN_ID
      );
      assert.ok(active, `${PLUGIN_ID} not active under base_url`);
      assert.ok((await listedExtension(lab))?.enabled);
      assert.deepEqual(browser.httpErrors, []);
    });
  }
);
