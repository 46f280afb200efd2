// The map widget end to end: a two-layer map from two accounts given in code is drawn in the
// real JupyterLab (widget manager, lazy Leaflet), and the notebook saved with its widget state
// holds references only, never a key.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DEMO_USERS, startCartoApi, writeSettings } from './carto-api.mjs';
import {
  launchBrowser,
  newNotebook,
  openLab,
  runCell,
  screenshot,
  startLab
} from './harness.mjs';

describe('map widget', { timeout: 240000 }, () => {
  let api;
  let lab;
  let browser;
  let page;
  let notebookPath;

  before(async () => {
    api = await startCartoApi();
    // Keys reach the kernel through its environment, so the cell source holds none and the whole
    // saved file can be checked.
    lab = await startLab({
      baseUrl: '/user/alice/',
      env: { MAP_ALICE_KEY: DEMO_USERS.alice, MAP_BOB_KEY: DEMO_USERS.bob }
    });
    writeSettings(lab, { allowNonHttps: true });
    writeSettings(
      lab,
      { saveState: true },
      '@jupyter-widgets/jupyterlab-manager:plugin'
    );
    browser = await launchBrowser();
    page = browser.page;
    await openLab(page, lab);
    notebookPath = await newNotebook(page);
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
    await api?.stop();
  });

  it('draws two layers from two accounts given in code', async () => {
    const code = [
      'import os',
      'from carto_credentials import Credentials',
      'from carto_credentials.widgets import Map, Layer',
      `alice = Credentials(base_url='${api.userUrl('alice')}', api_key=os.environ['MAP_ALICE_KEY'], allow_non_secure=True)`,
      `bob = Credentials(base_url='${api.userUrl('bob')}', api_key=os.environ['MAP_BOB_KEY'], allow_non_secure=True)`,
      "Map([Layer('alice_stores', credentials=alice), Layer('SELECT * FROM bob_parks', credentials=bob)])"
    ].join('\n');
    await runCell(page, code);
    await page.waitForSelector(
      '.jp-CartoMap:not(.jp-mod-loading) .leaflet-container canvas',
      { timeout: 30000 }
    );
    const status = await page.textContent('.jp-CartoMap-status');
    assert.equal(status.trim(), '', `unexpected message: ${status}`);
    const html = await page.evaluate(
      () => document.querySelector('.jp-CartoMap').outerHTML
    );
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(!html.includes(key), 'key in the widget DOM');
    }
    await page.waitForTimeout(500);
    await screenshot(page, 'map-two-accounts');
  });

  it('saves widget state without any key', async () => {
    await page.evaluate(() =>
      window.jupyterapp.shell.currentWidget.context.save()
    );
    const saved = fs.readFileSync(
      path.join(lab.dirs.work, notebookPath),
      'utf8'
    );
    const notebook = JSON.parse(saved);
    const state = JSON.stringify(notebook.metadata.widgets ?? {});
    assert.match(state, /CartoMapModel/, 'widget state was not saved');
    assert.match(state, /"credentials_ref":"rt-[0-9a-f]{16}"/);
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(
        !saved.includes(key),
        `key ${key.slice(0, 5)}… in the notebook`
      );
    }
  });
});
