// Existing CARTOframes code gets the JupyterLab login with zero changes (issue 13): log in from the
// CARTO panel, open a notebook on the `python3-cartoframes` kernel (the real cartoframes 1.2.5 in its
// own venv, with our package), run the seeds' `read_carto(...)` and `Map(Layer(...))` with no key
// in the code against the local CARTO API, save, and scan the saved notebook and every directory of
// the run for the key.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DEMO_USERS, accountStoreFile, filesContaining } from './carto-api.mjs';
import {
  newNotebook,
  runCell,
  saveNotebook,
  screenshot,
  startSession
} from './harness.mjs';

const PANEL = '#jp-carto-credentials-panel';
const FORM = `${PANEL} .jp-CartoCredentials-form`;
const KEY = DEMO_USERS.alice;

describe(
  'a CARTOframes kernel after a panel login',
  { timeout: 420000 },
  () => {
    let session;
    let lab;
    let browser;
    let page;
    let notebookPath;

    before(async () => {
      session = await startSession({
        lab: {
          env: {
            NO_PROXY: '127.0.0.1,localhost',
            no_proxy: '127.0.0.1,localhost'
          }
        },
        settings: api => ({ baseUrlTemplate: api.userUrl('{username}') })
      });
      ({ lab, browser, page } = session);
      // cartoframes posts usage metrics after read_carto unless its config turns them off
      // (kernels get HOME = the run's home, so appdirs' config dir is ~/.config/cartoframes).
      const config = path.join(lab.dirs.home, '.config', 'cartoframes');
      fs.mkdirSync(config, { recursive: true });
      fs.writeFileSync(
        path.join(config, 'metrics.json'),
        JSON.stringify({ uuid: crypto.randomUUID(), enabled: false })
      );
    });

    after(() => session?.stop());

    it('logs in from the panel', async () => {
      // The sidebar may still be settling after the restore: activate until the form shows.
      const input = page.locator(`${FORM} .jp-CartoCredentials-usernameInput`);
      const deadline = Date.now() + 60000;
      while (!(await input.isVisible())) {
        assert.ok(Date.now() < deadline, 'the CARTO panel did not open');
        await page.evaluate(
          id => window.jupyterapp.shell.activateById(id),
          PANEL.slice(1)
        );
        await page.waitForTimeout(500);
      }
      await page.fill(`${FORM} .jp-CartoCredentials-usernameInput`, 'alice');
      await page.fill(`${FORM} .jp-CartoCredentials-keyInput`, KEY);
      await page.click(`${FORM} .jp-CartoCredentials-loginButton`);
      // Logged in once the form is not busy, shows no error and has cleared the key (as in
      // ui-tests' panel.spec.ts); the next test's first cell shows the account reached the kernel.
      await page
        .waitForFunction(
          form => {
            const node = document.querySelector(form);
            const error = node?.querySelector('.jp-CartoCredentials-error');
            const key = node?.querySelector('.jp-CartoCredentials-keyInput');
            return (
              node?.getAttribute('aria-busy') !== 'true' &&
              !!error?.hidden &&
              key?.value === ''
            );
          },
          FORM,
          { timeout: 30000 }
        )
        .catch(async err => {
          const state = await page.evaluate(form => {
            const node = document.querySelector(form);
            return {
              busy: node?.getAttribute('aria-busy'),
              error: node?.querySelector('.jp-CartoCredentials-error')
                ?.textContent,
              keyEmpty:
                node?.querySelector('.jp-CartoCredentials-keyInput')?.value ===
                ''
            };
          }, FORM);
          throw new Error(
            `${err.message}: ${JSON.stringify(state)} ${browser.httpErrors.join('; ')}`
          );
        });
    });

    it('runs read_carto and Map(Layer(...)) with no key in the code', async () => {
      notebookPath = await newNotebook(page, {
        kernelName: 'python3-cartoframes',
        timeout: 120000
      });
      const read = await runCell(
        page,
        [
          'import warnings',
          "warnings.simplefilter('ignore')  # carto-python: 'unencrypted API key' over http",
          'from cartoframes import read_carto',
          'from cartoframes.auth import get_default_credentials',
          'print(get_default_credentials().username)',
          "gdf = read_carto('alice_stores')",
          'print(type(gdf).__name__, len(gdf))'
        ].join('\n'),
        { timeout: 120000 }
      );
      assert.equal(read.trim(), 'alice\nGeoDataFrame 5');
      await runCell(
        page,
        "from cartoframes.viz import Map, Layer\nMap(Layer('alice_stores'))",
        { timeout: 120000 }
      );
      const mimeTypes = await page.evaluate(() => {
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        const outputs = cells.get(cells.length - 1).outputs;
        const types = [];
        for (let i = 0; i < outputs.length; i++) {
          const out = outputs.get(i).toJSON();
          types.push(out.output_type, ...Object.keys(out.data ?? {}));
        }
        return types;
      });
      assert.ok(mimeTypes.includes('text/html'), JSON.stringify(mimeTypes));
      await screenshot(page, 'cartoframes-map');
    });

    it('saves a notebook, and leaves no key in any file of the run or the console', async () => {
      const saved = await saveNotebook(page, lab, notebookPath);
      assert.ok(!saved.includes('alice-demo-key'), 'no key in the code cells');
      // NOTE: cartoframes' Map HTML embeds the layer's api_key. This assertion relies on the
      // output masking (kernel side and on save); it fails only because of that HTML if the masking
      // does not cover it.
      assert.ok(!saved.includes(KEY), 'key in the saved notebook (Map HTML?)');
      assert.deepEqual(filesContaining(lab.dirs.root, KEY), [
        accountStoreFile(lab)
      ]);
      assert.ok(
        !browser.messages.some(m => m.includes(KEY)),
        'key in the console'
      );
    });
  }
);
