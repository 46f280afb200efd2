// A pydeck-carto map drawn by a real browser against the local CARTO 3 API, with no CDN and no
// carto.com: the page is the HTML pydeck-carto 0.2.1 writes (`deck.to_html(as_string=True)` in
// the CARTO 3 kernel venv), with the token of alice's M2M client. Its CDN scripts come from
// local files (cdn.mjs); @deck.gl/carto 9.0 then instantiates the map through the Maps API
// (tools/carto_api/maps.py), fetches the TileJSON and the binary tiles with the token in a
// Bearer header only, and deck draws the stores: picking at a store's position finds it.
// pydeck's page declares `const deckInstance = createDeck(…)` (read in page.evaluate).
/* global deckInstance */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { KERNEL_VENV, serveCdnLocally } from './cdn.mjs';
import { launchBrowser, screenshot, startCartoApi } from './harness.mjs';

// tools/carto_api/carto3.py M2M_CLIENTS: alice's demo client.
const CLIENT_ID = 'alice-m2m-client-0001';
const CLIENT_SECRET = 'alice-m2m-demo-secret-0001';
const QUERY = 'select * from alice_stores';
// tools/carto_api/data.py: alice_stores' first row.
const SOL = { name: 'Sol', lon: -3.7038, lat: 40.4168 };

// What a user's notebook cell does, token and API URL from stdin (never in argv).
const PYDECK_SCRIPT = `
import json, sys
import pydeck as pdk
import pydeck_carto as pdkc

given = json.load(sys.stdin)
pdkc.register_layers()
layer = pdk.Layer(
    "VectorTileLayer",
    id="stores",
    data=pdkc.sources.vector_query_source(
        access_token=given["token"],
        api_base_url=given["api"],
        connection_name="carto_dw",
        sql_query=given["query"],
        spatial_data_column="the_geom",
    ),
    get_fill_color=[200, 0, 80],
    point_radius_min_pixels=12,
    pickable=True,
)
view = pdk.ViewState(latitude=40.4168, longitude=-3.7, zoom=13)
deck = pdk.Deck(layers=[layer], initial_view_state=view, map_style=None)
sys.stdout.write(deck.to_html(as_string=True))
`;

async function m2mToken(apiUrl) {
  const response = await fetch(new URL('oauth/token', apiUrl), {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      audience: 'carto-cloud-native-api',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET
    })
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).access_token;
}

function pydeckHtml(token, api) {
  const run = spawnSync(
    path.join(KERNEL_VENV, 'bin', 'python'),
    ['-c', PYDECK_SCRIPT],
    {
      input: JSON.stringify({ token, api, query: QUERY }),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024
    }
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

describe(
  'pydeck-carto map against the local CARTO 3 API, no CDN',
  { timeout: 180000 },
  () => {
    let api;
    let pageServer;
    let browser;
    let page;
    let cdn;
    let token;
    const apiRequests = [];
    const tileResponses = [];

    before(async () => {
      api = await startCartoApi();
      const apiOrigin = api.url.replace(/\/$/, '');
      token = await m2mToken(api.url);
      const html = pydeckHtml(token, apiOrigin);
      assert.match(html, /vectorQuerySource/);
      browser = await launchBrowser();
      page = browser.page;
      cdn = await serveCdnLocally(browser.context);
      // The page from another loopback origin than the API's (a server of its own on 127.0.0.1,
      // so Chromium lets it call loopback), so the Maps API calls are cross-origin with an
      // Authorization header: CORS preflights included.
      pageServer = http.createServer((request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(html);
      });
      await new Promise(resolve => pageServer.listen(0, '127.0.0.1', resolve));
      const pageUrl = `http://127.0.0.1:${pageServer.address().port}/pydeck-carto.html`;
      page.on('request', request => {
        if (request.url().startsWith(apiOrigin)) {
          apiRequests.push(request);
        }
      });
      page.on('response', response => {
        if (
          /\/v3\/maps\/carto_dw\/query\/\d+\/\d+\/\d+\?/.test(response.url())
        ) {
          tileResponses.push(response);
        }
      });
      await page.goto(pageUrl);
    });

    after(async () => {
      await browser?.close();
      await new Promise(resolve =>
        pageServer ? pageServer.close(resolve) : resolve()
      );
      await api?.stop();
    });

    it('draws the stores: picking at a store finds it', async () => {
      await page.waitForFunction(
        ({ lon, lat, name }) => {
          if (document.querySelector('body > b')) {
            return true; // pydeck-carto's notifyError replaced the page: reported below
          }
          // pydeck's page: `const deckInstance = createDeck(…)`, a global lexical binding.
          const deck =
            typeof deckInstance === 'undefined' ? null : deckInstance;
          // getViewports() asserts until deck is initialized: ask only then.
          const viewport = deck?.isInitialized ? deck.getViewports()[0] : null;
          if (!viewport) {
            return false;
          }
          const [x, y] = viewport.project([lon, lat]);
          const picked = deck.pickObject({ x, y, radius: 4 });
          return picked?.object?.properties?.name === name;
        },
        SOL,
        { timeout: 60000, polling: 200 }
      );
      // pydeck-carto's onDataError handler writes `<b>Layer Error</b>: message` as the body.
      const layerError = await page.evaluate(() =>
        document.querySelector('body > b') ? document.body.textContent : null
      );
      assert.equal(layerError, null);
      const picked = await page.evaluate(({ lon, lat }) => {
        const deck = deckInstance;
        const [x, y] = deck.getViewports()[0].project([lon, lat]);
        const info = deck.pickObject({ x, y, radius: 4 });
        return { layer: info.layer.id, properties: info.object.properties };
      }, SOL);
      assert.match(picked.layer, /^stores/);
      assert.equal(picked.properties.name, 'Sol');
      assert.equal(picked.properties.revenue, 1200);
      await screenshot(page, 'pydeck-carto');
    });

    it('instantiated the map through the Maps API with a Bearer header, tiles 200', async () => {
      const maps = apiRequests.filter(r => r.method() === 'GET');
      const instantiation = maps.find(
        r => new URL(r.url()).pathname === '/v3/maps/carto_dw/query'
      );
      assert.ok(instantiation, maps.map(r => r.url()).join('\n'));
      const params = new URL(instantiation.url()).searchParams;
      assert.equal(params.get('q'), QUERY);
      assert.equal(params.get('client'), 'pydeck-carto');
      assert.equal(params.get('spatialDataColumn'), 'the_geom');
      const tilejson = maps.find(
        r => new URL(r.url()).pathname === '/v3/maps/carto_dw/query/tilejson'
      );
      assert.ok(tilejson, 'no TileJSON request');
      assert.ok(tileResponses.length > 0, 'no tile request');
      for (const response of tileResponses) {
        assert.equal(response.status(), 200, response.url());
        assert.equal(
          response.headers()['content-type'],
          'application/vnd.carto-vector-tile'
        );
      }
      for (const request of [
        instantiation,
        tilejson,
        ...tileResponses.map(r => r.request())
      ]) {
        const headers = await request.allHeaders();
        assert.equal(headers.authorization, `Bearer ${token}`, request.url());
      }
    });

    it('never put the token in a URL, and loaded nothing from outside', () => {
      for (const request of apiRequests) {
        assert.ok(!request.url().includes(token), `token in ${request.url()}`);
      }
      assert.deepEqual(cdn.unexpected, []);
      const served = cdn.served.join('\n');
      assert.match(served, /@deck\.gl\/jupyter-widget@/);
      assert.match(served, /\/combine\/npm\/h3-js@/);
      assert.match(
        served,
        /unpkg\.com\/@deck\.gl\/carto@9\.0\.41\/dist\/cartoVectorTile-worker\.js/
      );
    });
  }
);
