// The map widget with a CARTO 3 layer end to end, on this harness like map.test.mjs: an M2M
// client is added through the extension's REST API (the server gets its token from the local
// CARTO 3 API's client-credentials grant) and made the default; a notebook cell draws
// `Layer('SELECT …', connection='carto_dw')` with no token in its code; the page queries
// `/v3/sql/carto_dw/query` with the token in an `Authorization: Bearer` header only; and the
// notebook saved with its widget state holds the connection and no token nor secret.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { callStore, filesContaining } from './carto-api.mjs';
import {
  drawnMapStatus,
  newNotebook,
  openLab,
  recordRequests,
  runCell,
  saveNotebook,
  screenshot,
  startSession
} from './harness.mjs';

// tools/carto_api/carto3.py: alice's demo M2M client.
const CLIENT_ID = 'alice-m2m-client-0001';
const CLIENT_SECRET = 'alice-m2m-demo-secret-0001';

describe('map widget, CARTO 3 layer', { timeout: 240000 }, () => {
  let session;
  let lab;
  let page;
  let notebookPath;
  let account;
  let sqlRequests;
  const tokens = new Set();

  /** The access tokens of the account store (the server's 0600 file), as they are now. */
  const readStoreTokens = () => {
    for (const file of filesContaining(lab.dirs.data, CLIENT_SECRET)) {
      const walk = value => {
        if (Array.isArray(value)) {
          value.forEach(walk);
        } else if (value && typeof value === 'object') {
          for (const [key, inner] of Object.entries(value)) {
            if (key === 'access_token' && typeof inner === 'string') {
              tokens.add(inner);
            }
            walk(inner);
          }
        }
      };
      walk(JSON.parse(fs.readFileSync(file, 'utf8')));
    }
    return tokens;
  };

  before(async () => {
    const originOf = api => api.url.replace(/\/$/, '');
    session = await startSession({
      lab: api => ({
        extraArgs: [
          `--CartoCredentials.oauth_url=${originOf(api)}`,
          `--CartoCredentials.accounts_url=${originOf(api)}`
        ]
      }),
      saveWidgetState: true
    });
    ({ lab, page } = session);
    const origin = originOf(session.api);
    sqlRequests = recordRequests(page, '/v3/sql/');
    const created = await callStore(page, 'POST', 'accounts', {
      kind: 'm2m',
      credentials: {
        api_base_url: origin,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET
      },
      label: 'alice (M2M)',
      allow_non_https: true
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    account = created.body;
    assert.equal(account.kind, 'm2m');
    const made = await callStore(page, 'PUT', 'default', {
      account_id: account.id
    });
    assert.ok(made.status < 300, JSON.stringify(made.body));
    // Read the accounts again with the new default before the notebook's kernel starts.
    await openLab(page, lab);
    notebookPath = await newNotebook(page);
  });

  after(() => session?.stop());

  it("draws a CARTO 3 layer with the notebook's login, no token in the code", async () => {
    const output = await runCell(
      page,
      [
        'from carto_credentials import Map, Layer',
        "m = Map(Layer('SELECT * FROM alice_stores', connection='carto_dw'))",
        'm'
      ].join('\n')
    );
    assert.doesNotMatch(output, /Error/, output);
    const status = await drawnMapStatus(page);
    assert.equal(status.trim(), '', `unexpected message: ${status}`);
    await page.waitForTimeout(300);
    await screenshot(page, 'map-carto3');
  });

  it('queries the connection with the token in a Bearer header only', async () => {
    assert.ok(readStoreTokens().size > 0, 'no CARTO 3 token in the store');
    assert.equal(sqlRequests.length, 1, 'one SQL API request for the layer');
    const [request] = sqlRequests;
    const url = new URL(request.url());
    assert.equal(url.pathname, '/v3/sql/carto_dw/query');
    assert.equal(url.searchParams.get('q'), 'SELECT * FROM alice_stores');
    const headers = await request.allHeaders();
    const [scheme, token] = (headers.authorization ?? '').split(' ');
    assert.equal(scheme, 'Bearer');
    assert.ok(tokens.has(token), "not the account's token");
    for (const secret of tokens) {
      assert.ok(!request.url().includes(secret), 'token in the URL');
      assert.ok(!(request.postData() ?? '').includes(secret), 'in a body');
    }
    const html = await page.evaluate(
      () => document.querySelector('.jp-CartoMap').outerHTML
    );
    for (const secret of tokens) {
      assert.ok(!html.includes(secret), 'token in the widget DOM');
    }
  });

  it('saves the connection and the account reference, never a token or secret', async () => {
    readStoreTokens();
    const saved = await saveNotebook(page, lab, notebookPath);
    const models =
      JSON.parse(saved).metadata.widgets[
        'application/vnd.jupyter.widget-state+json'
      ].state;
    const source = Object.values(models).find(
      m => m.model_name === 'CartoSourceModel'
    );
    assert.deepEqual(
      Object.fromEntries(
        [
          'source',
          'is_query',
          'credentials_ref',
          'connection',
          'account_ref'
        ].map(k => [k, source.state[k] ?? null])
      ),
      {
        source: 'SELECT * FROM alice_stores',
        is_query: true,
        credentials_ref: null,
        connection: 'carto_dw',
        account_ref: null
      }
    );
    for (const secret of [...tokens, CLIENT_SECRET]) {
      assert.ok(!saved.includes(secret), 'a secret in the saved notebook');
      for (const dir of ['work', 'settings', 'workspaces']) {
        assert.deepEqual(filesContaining(lab.dirs[dir], secret), [], dir);
      }
    }
  });

  it('draws with an account named by id, and names a connection CARTO does not know', async () => {
    const output = await runCell(
      page,
      `Map(Layer('SELECT * FROM alice_stores LIMIT 2', connection='carto-dw', account='${account.id}'))`
    );
    assert.doesNotMatch(output, /Error/, output);
    const maps = page.locator('.jp-CartoMap');
    await maps.nth(1).locator('.leaflet-container canvas').waitFor({
      timeout: 30000
    });
    // A connection the local API does not know: its 404 is named, the map still renders.
    await runCell(
      page,
      "Map(Layer('SELECT * FROM alice_stores', connection='no_such_conn'))"
    );
    const status = maps.nth(2).locator('[role="status"]');
    await status.filter({ hasText: /no_such_conn/ }).waitFor({
      timeout: 30000
    });
  });
});
