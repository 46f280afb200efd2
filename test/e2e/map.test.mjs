// Stays on this harness rather than galata (ui-tests/): it runs under a JupyterHub-style base URL
// `/user/alice/` (galata's file helpers ignore the prefix) with keys handed to the kernel through
// the server's environment, which galata's shared web server does not vary per spec.
// The map widget end to end: a two-layer map from two accounts given in code is drawn in the
// real JupyterLab (widget manager, lazy Leaflet; layers and sources are widget models the map
// references), the SQL API gets each key in an HTTP Basic header only (CORS preflight included),
// a layer changed in the kernel is redrawn, and the notebook saved with its widget state holds
// references only, never a key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { DEMO_USERS } from './carto-api.mjs';
import {
  drawnMapStatus,
  newNotebook,
  recordRequests,
  runCell,
  saveNotebook,
  screenshot,
  startSession
} from './harness.mjs';

describe('map widget', { timeout: 240000 }, () => {
  let session;
  let api;
  let lab;
  let page;
  let notebookPath;
  let sqlRequests;

  before(async () => {
    session = await startSession({
      // Keys reach the kernel through its environment, so the cell source holds none and the
      // whole saved file can be checked.
      lab: {
        baseUrl: '/user/alice/',
        env: { MAP_ALICE_KEY: DEMO_USERS.alice, MAP_BOB_KEY: DEMO_USERS.bob }
      },
      saveWidgetState: true
    });
    ({ api, lab, page } = session);
    sqlRequests = recordRequests(page, '/api/v2/sql');
    notebookPath = await newNotebook(page);
  });

  after(() => session?.stop());

  it('draws two layers from two accounts given in code', async () => {
    const code = [
      'import os',
      'from carto_credentials import Credentials',
      'from carto_credentials.widgets import Map, Layer',
      `alice = Credentials(base_url='${api.userUrl('alice')}', api_key=os.environ['MAP_ALICE_KEY'], allow_non_secure=True)`,
      `bob = Credentials(base_url='${api.userUrl('bob')}', api_key=os.environ['MAP_BOB_KEY'], allow_non_secure=True)`,
      "m = Map([Layer('alice_stores', credentials=alice), Layer('SELECT * FROM bob_parks', credentials=bob)])",
      'm'
    ].join('\n');
    await runCell(page, code);
    const status = await drawnMapStatus(page);
    assert.equal(status.trim(), '', `unexpected message: ${status}`);
    // The map keeps its height (400 px) once the widget's Layout view has styled it.
    await page.waitForTimeout(200);
    const height = await page.evaluate(
      () =>
        document.querySelector('.jp-CartoMap-canvas').getBoundingClientRect()
          .height
    );
    assert.equal(Math.round(height), 400);
    const html = await page.evaluate(
      () => document.querySelector('.jp-CartoMap').outerHTML
    );
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(!html.includes(key), 'key in the widget DOM');
    }
    await page.waitForTimeout(500);
    await screenshot(page, 'map-two-accounts');
  });

  it('sends each key in a Basic Authorization header, never in the URL or body', async () => {
    const posts = sqlRequests.filter(r => r.method() === 'POST');
    assert.equal(posts.length, 2, 'one SQL API request per layer');
    const seen = {};
    for (const request of posts) {
      const headers = await request.allHeaders();
      const [scheme, value] = (headers.authorization ?? '').split(' ');
      assert.equal(scheme, 'Basic');
      const decoded = Buffer.from(value, 'base64').toString();
      const key = decoded.slice(decoded.indexOf(':') + 1);
      const body = new URLSearchParams(request.postData() ?? '');
      seen[body.get('q')] = key;
      assert.ok(!body.has('api_key'), 'api_key in the body');
      for (const secret of Object.values(DEMO_USERS)) {
        assert.ok(!request.url().includes(secret), 'key in the URL');
        assert.ok(
          !(request.postData() ?? '').includes(secret),
          'key in the body'
        );
      }
    }
    assert.deepEqual(seen, {
      'SELECT * FROM alice_stores': DEMO_USERS.alice,
      'SELECT * FROM bob_parks': DEMO_USERS.bob
    });
  });

  it('redraws a layer whose source the kernel changes', async () => {
    const before = sqlRequests.length;
    await runCell(
      page,
      "m.layers[1].source = 'SELECT * FROM bob_parks LIMIT 1'"
    );
    const deadline = Date.now() + 30000;
    while (
      !sqlRequests
        .slice(before)
        .some(r => (r.postData() ?? '').includes('LIMIT+1'))
    ) {
      assert.ok(Date.now() < deadline, 'the changed layer was not fetched');
      await page.waitForTimeout(100);
    }
    const status = await drawnMapStatus(page);
    assert.equal(status.trim(), '', `unexpected message: ${status}`);
  });

  it('saves widget state without any key', async () => {
    const saved = await saveNotebook(page, lab, notebookPath);
    const notebook = JSON.parse(saved);
    const state = JSON.stringify(notebook.metadata.widgets ?? {});
    assert.match(state, /CartoMapModel/, 'widget state was not saved');
    // The map references its layer models, which reference their source models.
    const models =
      notebook.metadata.widgets['application/vnd.jupyter.widget-state+json']
        .state;
    const byRef = ref => models[ref.replace(/^IPY_MODEL_/, '')];
    const map = Object.values(models).find(
      m => m.model_name === 'CartoMapModel'
    );
    const sources = map.state.layers.map(ref => {
      const layer = byRef(ref);
      assert.equal(layer.model_name, 'CartoLayerModel');
      const source = byRef(layer.state.source);
      assert.equal(source.model_name, 'CartoSourceModel');
      return source.state;
    });
    assert.deepEqual(
      sources.map(s => s.source),
      ['alice_stores', 'SELECT * FROM bob_parks LIMIT 1']
    );
    for (const source of sources) {
      assert.match(source.credentials_ref, /^rt-[0-9a-f]{16}$/);
    }
    for (const key of Object.values(DEMO_USERS)) {
      assert.ok(
        !saved.includes(key),
        `key ${key.slice(0, 5)}… in the notebook`
      );
    }
  });
});
