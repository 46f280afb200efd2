// Browser smoke test: real JupyterLab 4.6 (tools/lab), real kernel, headless
// Chromium. Run: tools/lab/build.sh && node --test test/e2e/
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
const WIDGET_MANAGER_PLUGIN = '@jupyter-widgets/jupyterlab-manager:plugin';

// No host noise is tolerated: the FAST design-token recursion ("RangeError: Maximum call
// stack size exceeded") that @microsoft/fast-foundation 2.50.0 caused is fixed by pinning
// 2.49.6 in tools/lab/package.json; this test fails if it comes back.
const KNOWN_HOST_ERRORS = [];
// jupyter_server 1.23 has no /api/resolvePath; the 4.6 front end probes it
// once, gets 404 and falls back to its own path heuristics (by design).
const KNOWN_HTTP_ERRORS = [/^404 GET http:\/\/[^/]+\/api\/resolvePath\?/];
const RESOURCE_404 =
  /^error: Failed to load resource: the server responded with a status of 404/;

describe('JupyterLab smoke', { timeout: 180000 }, () => {
  let lab;
  let browser;

  before(async () => {
    lab = await startLab();
    browser = await launchBrowser();
    await openLab(browser.page, lab.url);
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
        'build it (npm run build:labextension) and install it (scripts/setup.sh)'
    );
  });

  it('activates our plugin and the widget manager', async () => {
    const state = await browser.page.evaluate(
      ids =>
        ids.map(id => [
          id,
          window.jupyterapp.hasPlugin(id),
          window.jupyterapp.isPluginActivated(id)
        ]),
      [PLUGIN_ID, WIDGET_MANAGER_PLUGIN]
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

  it('logs no errors in the browser console and gets no unexpected HTTP errors', () => {
    const http = browser.httpErrors.filter(
      e => !KNOWN_HTTP_ERRORS.some(re => re.test(e))
    );
    assert.deepEqual(http, []);
    const known404s = browser.httpErrors.length - http.length;
    let skipped404s = 0;
    const errors = browser.messages.filter(m => {
      if (
        !/^(error|pageerror):/.test(m) ||
        KNOWN_HOST_ERRORS.some(re => re.test(m))
      ) {
        return false;
      }
      if (RESOURCE_404.test(m) && skipped404s < known404s) {
        skipped404s++;
        return false;
      }
      return true;
    });
    assert.deepEqual(errors, []);
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
        const res = await fetch(lab.url + endpoint);
        assert.equal(res.status, 200, `${endpoint} answered ${res.status}`);
        await res.json();
      }
      // An unknown /lab/... URL must not leak "Path Not Found" into later pages.
      const notFound = await fetch(lab.url + 'lab/no/such/page');
      assert.equal(notFound.status, 200);
      await notFound.text();
      await openLab(browser.page, lab.url);
      const config = await pageConfig(browser.page);
      assert.equal(config.baseUrl, '/user/alice/');
      assert.equal(config.notFoundUrl, undefined);
      assert.ok(config.fullStaticUrl.startsWith('/user/alice/'));
      const active = await browser.page.evaluate(
        id => window.jupyterapp.isPluginActivated(id),
        PLUGIN_ID
      );
      assert.ok(active, `${PLUGIN_ID} not active under base_url`);
      assert.deepEqual(browser.httpErrors, []);
    });
  }
);
