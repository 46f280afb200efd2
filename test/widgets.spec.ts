import { Signal } from '@lumino/signaling';
import { nullTranslator } from '@jupyterlab/translation';

import { WidgetModel } from '@jupyter-widgets/base';

import type { Carto3Token, ICarto3Store } from '../src/carto3Rest';
import { Carto3LayerLogin, CartoCredentialsModel } from '../src/model';
import { AccountStoreError } from '../src/rest';
import type { ICartoCredentials } from '../src/tokens';
import {
  carto3QueryEndpoint,
  fetchCarto3Features,
  parseGeometry,
  rowsToFeatures
} from '../src/widgets/carto3Sql';
import * as widgetExports from '../src/widgets/exports';
import {
  CartoLayerModel,
  CartoMapModel,
  CartoSourceModel
} from '../src/widgets/model';
import type { IDrawnLayer, IMapRenderer } from '../src/widgets/renderer';
import { setWidgetServices } from '../src/widgets/services';
import {
  basicAuthorization,
  fetchGeoJSON,
  layerQuery,
  sqlEndpoint
} from '../src/widgets/sqlApi';
import { parseLayerState, parseMapState } from '../src/widgets/state';
import { FakeStore } from './fakes';
import { CartoMapView } from '../src/widgets/view';

const REF = 'rt-0123456789abcdef';
const ALICE: ICartoCredentials.IResolved = {
  accountId: 'acc-a',
  label: 'alice',
  username: 'alice',
  baseUrl: 'http://127.0.0.1:9/user/alice/',
  apiKey: 'alice-demo-key-0001',
  source: 'default'
};
const BOB: ICartoCredentials.IResolved = {
  accountId: REF,
  label: 'bob',
  username: 'bob',
  baseUrl: 'https://bob.carto.com/',
  apiKey: 'bob-demo-key-0002',
  source: 'code'
};

class FakeCredentials implements ICartoCredentials {
  ready = Promise.resolve();
  accounts: ICartoCredentials.IAccount[] = [];
  defaultAccountId: string | null = null;
  changed: Signal<ICartoCredentials, ICartoCredentials.IChange> = new Signal<
    ICartoCredentials,
    ICartoCredentials.IChange
  >(this);
  notebook: ICartoCredentials.IResolved | null = ALICE;
  refs = new Map<string, ICartoCredentials.IResolved>([[REF, BOB]]);
  asked: ICartoCredentials.ITarget[] = [];
  notebookAccountId(): string | null {
    return null;
  }
  async resolve(
    target: ICartoCredentials.ITarget
  ): Promise<ICartoCredentials.IResolved | null> {
    this.asked.push(target);
    if (target.kernelId !== 'k1') {
      return null;
    }
    return target.ref ? (this.refs.get(target.ref) ?? null) : this.notebook;
  }
}

interface IRequest {
  url: string;
  body: URLSearchParams;
  rawBody: string;
  headers: Headers;
  init: RequestInit;
}

/** `Basic base64(username:key)`, computed independently of the code under test. */
const basic = (username: string, key: string) =>
  'Basic ' + Buffer.from(`${username}:${key}`).toString('base64');

/** The key a request carries in its Basic header ('' when none). */
const keyOf = (request: IRequest) => {
  const auth = request.headers.get('Authorization') ?? '';
  const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString();
  return decoded.slice(decoded.indexOf(':') + 1);
};

function geojson(n: number): unknown {
  return {
    type: 'FeatureCollection',
    features: Array.from({ length: n }, (_, i) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [i, i] },
      properties: { cartodb_id: i }
    }))
  };
}

class FakeFetch {
  requests: IRequest[] = [];
  answer: (request: IRequest) => Promise<Response> | Response = () =>
    this.json(200, geojson(2));
  json(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  }
  fetch = (async (url: string, init: RequestInit) => {
    const rawBody = String(init.body);
    const request = {
      url,
      body: new URLSearchParams(rawBody),
      rawBody,
      headers: new Headers(init.headers),
      init
    };
    this.requests.push(request);
    return this.answer(request);
  }) as unknown as typeof fetch;
}

class FakeRenderer implements IMapRenderer {
  static drawn: IDrawnLayer[][] = [];
  draw(layers: ReadonlyArray<IDrawnLayer>): void {
    FakeRenderer.drawn.push([...layers]);
  }
  resize(): void {
    // nothing to do
  }
  dispose(): void {
    // nothing to do
  }
}

let modelCount = 0;

/** A source model as the widget manager makes it from the kernel's state. */
function sourceModel(state: Record<string, unknown>): CartoSourceModel {
  return new CartoSourceModel(
    { ...new CartoSourceModel({}, modelOptions({})).defaults(), ...state },
    modelOptions({})
  );
}

function modelOptions(manager: unknown) {
  return { model_id: `w${++modelCount}`, widget_manager: manager as never };
}

/** A layer model whose source is `state` (a source model is made for a plain object). */
function layerModel(state: unknown): CartoLayerModel {
  const source =
    state instanceof WidgetModel
      ? state
      : sourceModel(state as Record<string, unknown>);
  return new CartoLayerModel({ source }, modelOptions({}));
}

/** A map view over layer models made from `layers`, as the kernel's widgets resolve. */
function makeView(
  layers: unknown,
  kernelId: string | null = 'k1'
): { view: CartoMapView; model: CartoMapModel } {
  const manager = kernelId === null ? {} : { kernel: { id: kernelId } };
  const model = new CartoMapModel(
    {
      layers: Array.isArray(layers) ? layers.map(layerModel) : layers,
      height: 300
    },
    { model_id: 'm1', widget_manager: manager as never }
  );
  const view = new CartoMapView({ model });
  view.render();
  return { view, model };
}

const table = (source: string, ref: string | null = null) => ({
  source,
  is_query: false,
  credentials_ref: ref
});

let credentials: FakeCredentials;
let fakeFetch: FakeFetch;

beforeEach(() => {
  credentials = new FakeCredentials();
  fakeFetch = new FakeFetch();
  FakeRenderer.drawn = [];
  CartoMapView.loadRenderer = async () => () => new FakeRenderer();
  setWidgetServices({
    credentials,
    trans: nullTranslator.load('jupyterlab_carto_credentials'),
    fetch: fakeFetch.fetch
  });
});

describe('CartoMapModel', () => {
  it('has the module names and empty layers by default', () => {
    const model = new CartoMapModel(
      {},
      { model_id: 'm0', widget_manager: {} as never }
    );
    const defaults = model.defaults();
    expect(defaults._model_name).toBe('CartoMapModel');
    expect(defaults._view_name).toBe('CartoMapView');
    expect(defaults._model_module).toBe('jupyterlab-carto-credentials');
    expect(defaults._view_module_version).toBe('^0.1.0');
    expect(defaults.layers).toEqual([]);
    expect(defaults._dom_classes).toEqual([]); // DOMWidgetModel's own defaults are kept
    expect(model.mapState).toEqual({ layers: [], height: 400 });
  });
});

describe('CartoLayerModel and CartoSourceModel', () => {
  it('are view-less models of the module, exported for the widget manager', () => {
    const source = new CartoSourceModel({}, modelOptions({}));
    const layer = new CartoLayerModel({}, modelOptions({}));
    expect(source.defaults()).toMatchObject({
      _model_name: 'CartoSourceModel',
      _model_module: 'jupyterlab-carto-credentials',
      _model_module_version: '^0.1.0',
      _view_name: null,
      source: '',
      is_query: false,
      credentials_ref: null
    });
    expect(layer.defaults()).toMatchObject({
      _model_name: 'CartoLayerModel',
      _view_name: null,
      source: null
    });
    expect(Object.keys(widgetExports).sort()).toEqual([
      'CartoLayerModel',
      'CartoMapModel',
      'CartoMapView',
      'CartoSourceModel'
    ]);
  });

  it('resolve "IPY_MODEL_" references through the widget manager', async () => {
    const source = sourceModel(table('alice_stores', REF));
    const layer = new CartoLayerModel({}, modelOptions({}));
    const models: Record<string, WidgetModel> = { s1: source, l1: layer };
    const manager = { get_model: async (id: string) => models[id] };
    const layerState = await CartoLayerModel._deserialize_state(
      { source: 'IPY_MODEL_s1' },
      manager as never
    );
    expect(layerState.source).toBe(source);
    layer.set(layerState);
    const mapState = await CartoMapModel._deserialize_state(
      { layers: ['IPY_MODEL_l1'], height: 300 },
      manager as never
    );
    expect(mapState).toEqual({ layers: [layer], height: 300 });
    const map = new CartoMapModel(mapState, modelOptions(manager));
    expect(map.mapState).toEqual({
      // Read with the CARTO 3 keys, null for an API-key layer.
      layers: [
        { ...table('alice_stores', REF), connection: null, account_ref: null }
      ],
      height: 300
    });
    expect(map.parts).toEqual([layer, source]);
    // Saved widget state holds the references again, not the models.
    expect(JSON.parse(JSON.stringify(map.get_state()))).toMatchObject({
      layers: ['IPY_MODEL_' + layer.model_id]
    });
  });

  it('make the map state invalid when a layer is not resolved or a source holds more', () => {
    const good = layerModel(table('t'));
    for (const layers of [
      ['IPY_MODEL_unresolved'],
      [good, 'x'],
      [new CartoLayerModel({ source: 'IPY_MODEL_s' }, modelOptions({}))],
      [layerModel({ ...table('t'), api_key: 'alice-demo-key-0001' })],
      [layerModel(table('t', 'alice-demo-key-0001'))],
      [layerModel(new CartoLayerModel({}, modelOptions({})))]
    ]) {
      const model = new CartoMapModel(
        { layers, height: 400 },
        modelOptions({})
      );
      expect(model.mapState).toBeNull();
    }
  });
});

describe('map state', () => {
  it('accepts references and rejects anything that could hold a key', () => {
    expect(
      parseMapState({ layers: [table('t', REF)], height: 400 })
    ).not.toBeNull();
    for (const bad of [
      { layers: [{ ...table('t'), api_key: 'secret' }], height: 400 },
      { layers: [table('t', 'alice-demo-key-0001')], height: 400 },
      {
        layers: [{ source: '', is_query: false, credentials_ref: null }],
        height: 400
      },
      { layers: 'x', height: 400 },
      { layers: [], height: 'tall' }
    ]) {
      expect(parseMapState(bad)).toBeNull();
    }
  });

  it('builds the SQL and the endpoint', () => {
    expect(layerQuery(table('alice_stores'))).toBe(
      'SELECT * FROM alice_stores'
    );
    expect(layerQuery({ source: 'SELECT 1', is_query: true })).toBe('SELECT 1');
    expect(sqlEndpoint('https://h/user/a')).toBe('https://h/user/a/api/v2/sql');
    expect(sqlEndpoint('https://h/user/a/')).toBe(
      'https://h/user/a/api/v2/sql'
    );
  });
});

describe('CartoMapView', () => {
  it('resolves each layer through ICartoCredentials and sends the key in a Basic header only', async () => {
    const { view } = makeView([
      table('alice_stores'),
      {
        source: 'SELECT * FROM bob_parks',
        is_query: true,
        credentials_ref: REF
      }
    ]);
    await view.settled;
    expect(credentials.asked).toEqual([
      { kernelId: 'k1' },
      { kernelId: 'k1', ref: REF }
    ]);
    expect(fakeFetch.requests.map(r => r.url)).toEqual([
      'http://127.0.0.1:9/user/alice/api/v2/sql',
      'https://bob.carto.com/api/v2/sql'
    ]);
    expect(Object.fromEntries(fakeFetch.requests[0].body)).toEqual({
      q: 'SELECT * FROM alice_stores',
      format: 'GeoJSON'
    });
    expect(fakeFetch.requests.map(r => r.headers.get('Authorization'))).toEqual(
      [basic('alice', 'alice-demo-key-0001'), basic('bob', 'bob-demo-key-0002')]
    );
    for (const request of fakeFetch.requests) {
      expect(request.url + request.rawBody).not.toMatch(/demo-key|api_key/);
      expect(request.init).toMatchObject({
        method: 'POST',
        credentials: 'omit',
        redirect: 'manual'
      });
    }
    expect(FakeRenderer.drawn).toHaveLength(1);
    expect(FakeRenderer.drawn[0].map(l => l.data.features.length)).toEqual([
      2, 2
    ]);
    expect(view.el.outerHTML).not.toMatch(/demo-key/);
    const canvas = view.el.querySelector('.jp-CartoMap-canvas') as HTMLElement;
    expect(canvas.style.height).toBe('300px');
    // What the widget's Layout view does to `el` when `layout.height` is unset.
    view.el.style.removeProperty('height');
    expect(canvas.style.height).toBe('300px');
  });

  it('shows a loading state while fetching', async () => {
    let release!: () => void;
    fakeFetch.answer = () =>
      new Promise(resolve => {
        release = () => resolve(fakeFetch.json(200, geojson(1)));
      });
    const { view } = makeView([table('alice_stores')]);
    await new Promise(r => setTimeout(r, 0));
    expect(view.el.classList).toContain('jp-mod-loading');
    expect(view.el.textContent).toContain('Loading map data');
    release();
    await view.settled;
    expect(view.el.classList).not.toContain('jp-mod-loading');
  });

  it.each([
    [
      401,
      { error: ['Unauthorized'] },
      /refused the API key of alice \(HTTP 401\)/
    ],
    [
      403,
      { error: ['permission denied'] },
      /refused the API key of alice \(HTTP 403\)/
    ],
    [
      400,
      { error: ['relation "nope" does not exist'] },
      /table or query was not found in the account alice: relation "nope" does not exist/
    ],
    [
      404,
      { error: ['Not found: /x'] },
      /not found on 127\.0\.0\.1:9 \(HTTP 404\)/
    ],
    [500, { error: ['boom'] }, /had an error \(HTTP 500\)/]
  ])(
    'explains HTTP %s in the widget, not a blank map',
    async (status, body, text) => {
      fakeFetch.answer = () => fakeFetch.json(status, body);
      const { view } = makeView([table('nope')]);
      await view.settled;
      const message = view.el.querySelector('.jp-CartoMap-status')!;
      expect(message.textContent).toMatch(text);
      expect(message.classList).toContain('jp-mod-error');
      expect(
        (view.el.querySelector('.jp-CartoMap-canvas') as HTMLElement).hidden
      ).toBe(true);
      expect(FakeRenderer.drawn).toEqual([]);
      expect(view.el.outerHTML).not.toMatch(/demo-key/);
    }
  );

  it('explains a network failure and an answer that is not CARTO', async () => {
    fakeFetch.answer = () => Promise.reject(new TypeError('Failed to fetch'));
    const { view } = makeView([table('alice_stores')]);
    await view.settled;
    expect(view.el.textContent).toMatch(
      /could not reach the CARTO server 127\.0\.0\.1:9/
    );
    fakeFetch.answer = () => new Response('<html>', { status: 200 });
    await view.refresh();
    expect(view.el.textContent).toMatch(/did not answer like CARTO/);
  });

  it('never shows a key that a server echoes in its error', async () => {
    fakeFetch.answer = () =>
      fakeFetch.json(400, { error: ['bad key alice-demo-key-0001 here'] });
    const { view } = makeView([table('alice_stores')]);
    await view.settled;
    // The one mask of a known key (src/rules.ts maskKey): *** and its last 4 characters.
    expect(view.el.textContent).toContain('bad key ***0001 here');
  });

  it('draws the layers that loaded and names the one that failed', async () => {
    fakeFetch.answer = r =>
      keyOf(r) === 'bob-demo-key-0002'
        ? fakeFetch.json(401, { error: ['Unauthorized'] })
        : fakeFetch.json(200, geojson(3));
    const { view } = makeView([table('alice_stores'), table('bob_parks', REF)]);
    await view.settled;
    expect(FakeRenderer.drawn[0]).toHaveLength(1);
    expect(view.el.textContent).toMatch(/Layer 2 \(bob_parks\): CARTO refused/);
  });

  it('says how to log in when the notebook has no account, or the ref is unknown', async () => {
    credentials.notebook = null;
    const { view } = makeView([
      table('alice_stores'),
      table('bob_parks', 'rt-ffffffffffffffff')
    ]);
    await view.settled;
    expect(view.el.textContent).toMatch(/Log in from the CARTO panel/);
    expect(view.el.textContent).toMatch(/Run the cell again/);
    expect(fakeFetch.requests).toEqual([]);
  });

  it('re-fetches when the account in use changes, not on unrelated changes', async () => {
    const { view } = makeView([table('alice_stores')]);
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
    credentials.changed.emit({ type: 'accounts' }); // same credentials: nothing to do
    await view.settled;
    credentials.changed.emit({ type: 'runtime', kernelId: 'other-kernel' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
    credentials.notebook = { ...ALICE, apiKey: 'alice-new-key' };
    credentials.changed.emit({ type: 'default' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(2);
    expect(keyOf(fakeFetch.requests[1])).toBe('alice-new-key');
    expect(FakeRenderer.drawn).toHaveLength(2);
  });

  it('retries after a failure once credentials arrive', async () => {
    credentials.refs.clear();
    const { view } = makeView([table('bob_parks', REF)]);
    await view.settled;
    expect(view.el.textContent).toMatch(/Run the cell again/);
    credentials.refs.set(REF, BOB);
    credentials.changed.emit({ type: 'runtime', kernelId: 'k1' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
    expect(FakeRenderer.drawn).toHaveLength(1);
  });

  it('re-draws when the kernel changes the layers', async () => {
    const { view, model } = makeView([table('alice_stores')]);
    await view.settled;
    model.set('layers', [layerModel(table('alice_grid_10k'))]);
    await view.settled;
    expect(fakeFetch.requests.map(r => r.body.get('q'))).toEqual([
      'SELECT * FROM alice_stores',
      'SELECT * FROM alice_grid_10k'
    ]);
  });

  it("re-draws when a layer's source or a source's state changes", async () => {
    const { view, model } = makeView([table('alice_stores')]);
    await view.settled;
    const [layer] = model.layerModels;
    const first = layer.get('source') as WidgetModel;
    // The kernel points the layer at another source model (layer.source = …).
    const second = sourceModel(table('bob_parks', REF));
    layer.set('source', second);
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(2);
    expect(keyOf(fakeFetch.requests[1])).toBe('bob-demo-key-0002');
    // The new source is watched, the old one no longer.
    second.set({ source: 'SELECT * FROM bob_parks LIMIT 1', is_query: true });
    await view.settled;
    first.set('source', 'ignored');
    await view.settled;
    expect(fakeFetch.requests.map(r => r.body.get('q'))).toEqual([
      'SELECT * FROM alice_stores',
      'SELECT * FROM bob_parks',
      'SELECT * FROM bob_parks LIMIT 1'
    ]);
    expect(FakeRenderer.drawn).toHaveLength(3);
  });

  it('reports malformed state and a missing kernel clearly', async () => {
    const { view } = makeView([{ source: 't', api_key: 'x' }]);
    await view.settled;
    expect(view.el.textContent).toMatch(/state is not valid/);
    const unresolved = makeView('IPY_MODEL_x').view;
    await unresolved.settled;
    expect(unresolved.el.textContent).toMatch(/state is not valid/);
    const orphan = makeView([table('alice_stores')], null).view;
    await orphan.settled;
    expect(orphan.el.textContent).toMatch(/Log in from the CARTO panel/);
  });

  it('stops listening once removed', async () => {
    const { view } = makeView([table('alice_stores')]);
    await view.settled;
    view.remove();
    credentials.notebook = { ...ALICE, apiKey: 'other' };
    credentials.changed.emit({ type: 'default' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
  });
});

describe('fetchGeoJSON', () => {
  const options = (overrides: Partial<Parameters<typeof fetchGeoJSON>[0]>) => ({
    baseUrl: 'https://alice.carto.com/',
    username: 'alice',
    apiKey: 'alice-demo-key-0001',
    query: 'SELECT 1',
    fetch: fakeFetch.fetch,
    ...overrides
  });

  it('builds the Basic header from the username and key (UTF-8, base64)', async () => {
    expect(basicAuthorization('alice', 'k:1')).toBe(basic('alice', 'k:1'));
    expect(basicAuthorization(null, 'k')).toBe(basic('', 'k'));
    expect(basicAuthorization('zoë', 'k')).toBe(basic('zoë', 'k'));
    await fetchGeoJSON(options({ username: null }));
    expect(fakeFetch.requests[0].headers.get('Authorization')).toBe(
      basic('', 'alice-demo-key-0001')
    );
  });

  it('sends no Authorization header without a key', async () => {
    await fetchGeoJSON(options({ apiKey: '' }));
    expect(fakeFetch.requests[0].headers.has('Authorization')).toBe(false);
  });
});

describe('CartoMapView and redirects', () => {
  it('says the server redirected and what to check, without the key', async () => {
    fakeFetch.answer = () =>
      new Response(null, {
        status: 301,
        headers: {
          Location: 'https://evil.example/sql?api_key=alice-demo-key-0001'
        }
      });
    const { view } = makeView([table('alice_stores')]);
    await view.settled;
    expect(view.el.textContent).toMatch(
      /the server 127\.0\.0\.1:9 answered with a redirect to https:\/\/evil\.example\/sql: check the base URL, and use https\./
    );
    expect(view.el.outerHTML).not.toMatch(/demo-key/);
  });
});

// -- CARTO 3 layers (issue 11 part 4) -------------------------------------------------------------

const C3_API = 'https://gcp-us-east1.api.carto.com';
const C3_TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlLTAwMDE';

const carto3Layer = (
  source: string,
  connection = 'carto_dw',
  account: string | null = null
) => ({
  source,
  is_query: /^select/i.test(source),
  credentials_ref: null,
  connection,
  account_ref: account
});

/** What CARTO 3's SQL API answers (the local API's shape: geography as GeoJSON text). */
function carto3Rows(n: number): unknown {
  return {
    rows: Array.from({ length: n }, (_, i) => ({
      cartodb_id: i,
      name: `p${i}`,
      geom: JSON.stringify({ type: 'Point', coordinates: [i, -i] })
    })),
    schema: [
      { name: 'cartodb_id', type: 'number' },
      { name: 'name', type: 'string' },
      { name: 'geom', type: 'geography' }
    ],
    meta: { cacheHit: false }
  };
}

class FakeCarto3Logins {
  login: Carto3LayerLogin = {
    status: 'ok',
    accountId: 'acc-c3',
    label: 'alice (M2M)',
    apiBaseUrl: C3_API,
    accessToken: C3_TOKEN
  };
  asked: Array<{ kernelId: string; accountId?: string | null }> = [];
  async carto3Login(target: {
    kernelId: string;
    accountId?: string | null;
  }): Promise<Carto3LayerLogin> {
    this.asked.push(target);
    return this.login;
  }
}

/** WKB hex of a point, little- or big-endian, optionally PostGIS EWKB with an SRID. */
function wkbPoint(x: number, y: number, little = true, srid?: number): string {
  const size = srid === undefined ? 21 : 25;
  const view = new DataView(new ArrayBuffer(size));
  view.setUint8(0, little ? 1 : 0);
  view.setUint32(1, srid === undefined ? 1 : 0x20000001, little);
  let at = 5;
  if (srid !== undefined) {
    view.setUint32(at, srid, little);
    at += 4;
  }
  view.setFloat64(at, x, little);
  view.setFloat64(at + 8, y, little);
  return Buffer.from(view.buffer).toString('hex');
}

describe('CARTO 3 layer state', () => {
  it('holds a connection and an account reference, never a token', () => {
    expect(parseLayerState(carto3Layer('SELECT 1'))).toEqual(
      carto3Layer('SELECT 1')
    );
    expect(
      parseLayerState(carto3Layer('p.d.t', 'carto-dw', 'acc-0123456789abcdef'))
    ).toMatchObject({
      connection: 'carto-dw',
      account_ref: 'acc-0123456789abcdef'
    });
    // A kernel from before CARTO 3 support sends three keys: an API-key layer.
    expect(parseLayerState(table('t'))).toEqual({
      ...table('t'),
      connection: null,
      account_ref: null
    });
    for (const bad of [
      { ...carto3Layer('SELECT 1'), access_token: C3_TOKEN },
      { ...carto3Layer('SELECT 1'), api_base_url: C3_API },
      { ...carto3Layer('SELECT 1'), credentials_ref: REF },
      { ...table('t'), account_ref: 'acc-0123456789abcdef' },
      carto3Layer('SELECT 1', '../v2/sql'),
      carto3Layer('SELECT 1', 'carto_dw', 'acc a')
    ]) {
      expect(parseLayerState(bad)).toBeNull();
    }
  });
});

describe('fetchCarto3Features', () => {
  const fetchWith = (query = 'SELECT * FROM demo_points') =>
    fetchCarto3Features({
      apiBaseUrl: C3_API + '/',
      accessToken: C3_TOKEN,
      connection: 'carto_dw',
      query,
      fetch: fakeFetch.fetch
    });

  it('queries the connection with the token in a Bearer header only', async () => {
    fakeFetch.answer = () => fakeFetch.json(200, carto3Rows(3));
    const data = await fetchWith();
    expect(data.features).toHaveLength(3);
    expect(data.features[1]).toEqual({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [1, -1] },
      properties: { cartodb_id: 1, name: 'p1' }
    });
    const [request] = fakeFetch.requests;
    const url = new URL(request.url);
    expect(url.origin + url.pathname).toBe(`${C3_API}/v3/sql/carto_dw/query`);
    expect([...url.searchParams.entries()]).toEqual([
      ['q', 'SELECT * FROM demo_points']
    ]);
    expect(request.headers.get('Authorization')).toBe(`Bearer ${C3_TOKEN}`);
    expect(request.url).not.toContain(C3_TOKEN);
    expect(request.init).toMatchObject({
      method: 'GET',
      credentials: 'omit',
      redirect: 'manual',
      cache: 'no-store'
    });
    expect(request.init.body).toBeUndefined();
  });

  it('sends a long query in a JSON body, still without the token', async () => {
    fakeFetch.answer = () => fakeFetch.json(200, carto3Rows(1));
    const long = `SELECT * FROM demo_points WHERE name <> '${'x'.repeat(3000)}'`;
    await fetchWith(long);
    const [request] = fakeFetch.requests;
    expect(request.url).toBe(`${C3_API}/v3/sql/carto_dw/query`);
    expect(request.init.method).toBe('POST');
    expect(JSON.parse(request.rawBody)).toEqual({ q: long });
    expect(request.url + request.rawBody).not.toContain(C3_TOKEN);
    expect(request.headers.get('Authorization')).toBe(`Bearer ${C3_TOKEN}`);
  });

  it('encodes the connection into the path', () => {
    expect(carto3QueryEndpoint(C3_API, 'my conn/x')).toBe(
      `${C3_API}/v3/sql/my%20conn%2Fx/query`
    );
  });

  it.each([
    [401, { error: 'Unauthorized: jwt expired', status: 401 }, 'auth'],
    [404, { error: 'Connection not found: nope', status: 404 }, 'not_found'],
    [400, { error: 'Syntax error near FROM', status: 400 }, 'query'],
    // As the API-key SQL API (issue 12 item 3): a 403 is the token's, unless a relation is denied.
    [403, { error: ['Forbidden'] }, 'auth'],
    [403, { error: 'permission denied for relation t' }, 'query'],
    [500, { error: 'boom' }, 'server'],
    [502, '<html>bad gateway</html>', 'server'],
    [418, '<html>teapot</html>', 'not_carto']
  ])('reports HTTP %d (%j) as its kind', async (status, body, kind) => {
    fakeFetch.answer = () => fakeFetch.json(status, body);
    await expect(fetchWith()).rejects.toMatchObject({ kind, status });
  });

  it('never shows a token CARTO echoes, and reports network, redirect and odd answers', async () => {
    fakeFetch.answer = () =>
      fakeFetch.json(400, { error: `bad token ${C3_TOKEN}`, status: 400 });
    const echoed = await fetchWith().catch(e => e);
    expect(echoed.detail).toBe(`bad token ***${C3_TOKEN.slice(-4)}`);
    fakeFetch.answer = () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(fetchWith()).rejects.toMatchObject({ kind: 'network' });
    fakeFetch.answer = () =>
      new Response(null, { status: 302, headers: { Location: '/x' } });
    await expect(fetchWith()).rejects.toMatchObject({ kind: 'redirect' });
    fakeFetch.answer = () => fakeFetch.json(200, { features: [] });
    await expect(fetchWith()).rejects.toMatchObject({ kind: 'not_carto' });
  });
});

describe('CARTO 3 rows to features', () => {
  it('reads GeoJSON objects and text, and WKB hex (either byte order, EWKB SRID)', () => {
    const point = { type: 'Point', coordinates: [-3.7, 40.4] };
    expect(parseGeometry(point)).toEqual(point);
    expect(parseGeometry(JSON.stringify(point))).toEqual(point);
    for (const hex of [
      wkbPoint(-3.7, 40.4),
      wkbPoint(-3.7, 40.4, false),
      wkbPoint(-3.7, 40.4, true, 4326).toUpperCase()
    ]) {
      expect(parseGeometry(hex)).toEqual(point);
    }
    // PostGIS: ST_GeomFromText('LINESTRING(0 0,1 1)', 4326) and a MULTIPOINT.
    expect(
      parseGeometry(
        '0102000020E61000000200000000000000000000000000000000000000000000000000F03F000000000000F03F'
      )
    ).toEqual({
      type: 'LineString',
      coordinates: [
        [0, 0],
        [1, 1]
      ]
    });
    expect(
      parseGeometry(
        '0104000000020000000101000000000000000000F03F0000000000000040010100000000000000000008400000000000001040'
      )
    ).toEqual({
      type: 'MultiPoint',
      coordinates: [
        [1, 2],
        [3, 4]
      ]
    });
    for (const bad of [null, 3, 'POINT(1 2)', '{"type":', '0101', 'zz', {}]) {
      expect(parseGeometry(bad)).toBeNull();
    }
  });

  it('takes the geography column of the schema, else geom / the_geom, and skips empty rows', () => {
    const rows = [
      { where: '{"type":"Point","coordinates":[1,2]}', geom: 'not it', n: 1 },
      { where: null, geom: 'x', n: 2 }
    ];
    expect(
      rowsToFeatures(rows, [{ name: 'where', type: 'GEOGRAPHY' }]).features
    ).toEqual([
      {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [1, 2] },
        properties: { geom: 'not it', n: 1 }
      }
    ]);
    expect(
      rowsToFeatures([{ the_geom: wkbPoint(5, 6), n: 1 }]).features[0].geometry
    ).toEqual({ type: 'Point', coordinates: [5, 6] });
    expect(rowsToFeatures([{ n: 1 }]).features).toEqual([]);
  });
});

describe('CartoMapView with CARTO 3 layers', () => {
  let logins: FakeCarto3Logins;
  beforeEach(() => {
    logins = new FakeCarto3Logins();
    setWidgetServices({
      credentials,
      carto3: logins,
      trans: nullTranslator.load('jupyterlab_carto_credentials'),
      fetch: fakeFetch.fetch
    });
    fakeFetch.answer = r =>
      r.url.includes('/v3/sql/')
        ? fakeFetch.json(200, carto3Rows(4))
        : fakeFetch.json(200, geojson(2));
  });

  it('draws a CARTO 3 layer next to an API-key one, the token in a Bearer header only', async () => {
    const { view } = makeView([
      carto3Layer('SELECT * FROM demo_points'),
      table('alice_stores'),
      carto3Layer('p.d.stores', 'carto-dw', 'acc-b')
    ]);
    await view.settled;
    expect(logins.asked).toEqual([
      { kernelId: 'k1', accountId: null },
      { kernelId: 'k1', accountId: 'acc-b' }
    ]);
    expect(credentials.asked).toEqual([{ kernelId: 'k1' }]);
    const urls = fakeFetch.requests.map(r => r.url);
    expect(urls).toEqual([
      `${C3_API}/v3/sql/carto_dw/query?q=SELECT+*+FROM+demo_points`,
      'http://127.0.0.1:9/user/alice/api/v2/sql',
      `${C3_API}/v3/sql/carto-dw/query?q=SELECT+*+FROM+p.d.stores`
    ]);
    expect(fakeFetch.requests.map(r => r.headers.get('Authorization'))).toEqual(
      [
        `Bearer ${C3_TOKEN}`,
        basic('alice', 'alice-demo-key-0001'),
        `Bearer ${C3_TOKEN}`
      ]
    );
    for (const request of fakeFetch.requests) {
      expect(request.url + request.rawBody).not.toContain(C3_TOKEN);
    }
    expect(FakeRenderer.drawn[0].map(l => l.data.features.length)).toEqual([
      4, 2, 4
    ]);
    expect(view.el.outerHTML).not.toContain(C3_TOKEN);
  });

  it.each([
    ['login_required', { status: 'login_required', label: 'alice (OAuth)' }],
    ['HTTP 401', null]
  ])(
    'asks to log in again from the CARTO panel (%s), in an accessible status',
    async (_, login) => {
      if (login) {
        logins.login = login as Carto3LayerLogin;
      } else {
        fakeFetch.answer = () =>
          fakeFetch.json(401, {
            error: 'Unauthorized: jwt expired',
            status: 401
          });
      }
      const { view } = makeView([carto3Layer('SELECT * FROM demo_points')]);
      await view.settled;
      const status = view.el.querySelector('[role="status"]') as HTMLElement;
      expect(status.getAttribute('aria-live')).toBe('polite');
      expect(status.textContent).toMatch(
        /^Layer 1 \(SELECT \* FROM demo_points\): .*Log in again from the CARTO panel\.$/
      );
      expect(status.classList.contains('jp-mod-error')).toBe(true);
      expect(view.el.outerHTML).not.toContain(C3_TOKEN);
      expect(FakeRenderer.drawn).toEqual([]);
    }
  );

  it.each([
    [{ status: 'not_carto3', label: 'alice' }, /is not a CARTO 3 login/],
    [{ status: 'not_granted', label: 'alice (M2M)' }, /not allowed to use/],
    [{ status: 'unknown_account' }, /not in the CARTO panel/],
    [{ status: 'no_account' }, /Log in to CARTO 3 from the CARTO panel/]
  ])(
    'says what to do when there is no usable login (%o)',
    async (login, text) => {
      logins.login = login as Carto3LayerLogin;
      const { view } = makeView([carto3Layer('SELECT 1')]);
      await view.settled;
      expect(view.el.textContent).toMatch(text);
      expect(fakeFetch.requests).toEqual([]);
    }
  );

  it('explains a query error and an unknown connection', async () => {
    fakeFetch.answer = r =>
      r.url.includes('/nope/')
        ? fakeFetch.json(404, {
            error: 'Connection not found: nope',
            status: 404
          })
        : fakeFetch.json(400, {
            error: 'relation "x" does not exist',
            status: 400
          });
    const { view } = makeView([
      carto3Layer('SELECT * FROM x'),
      carto3Layer('SELECT 1', 'nope')
    ]);
    await view.settled;
    expect(view.el.textContent).toMatch(
      /could not run the query on the connection carto_dw: relation "x" does not exist/
    );
    expect(view.el.textContent).toMatch(/check the connection name nope/);
  });

  it('says where a redirect points (as API-key layers do), without the token', async () => {
    fakeFetch.answer = () =>
      new Response(null, {
        status: 302,
        headers: {
          Location: `https://login.example/v3/sql/carto_dw/query?access_token=${C3_TOKEN}`
        }
      });
    const { view } = makeView([carto3Layer('SELECT * FROM demo_points')]);
    await view.settled;
    expect(view.el.textContent).toMatch(
      /the server gcp-us-east1\.api\.carto\.com answered with a redirect to https:\/\/login\.example\/v3\/sql\/carto_dw\/query: check the API base URL, and use https\./
    );
    expect(view.el.outerHTML).not.toContain(C3_TOKEN);
  });

  it('does not fetch again when only the token was renewed, but does after a new login', async () => {
    const { view } = makeView([carto3Layer('SELECT 1')]);
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
    logins.login = {
      ...(logins.login as object),
      accessToken: 'renewed-token-0002'
    } as Carto3LayerLogin;
    credentials.changed.emit({ type: 'accounts' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(1);
    logins.login = { status: 'login_required', label: 'alice' };
    credentials.changed.emit({ type: 'accounts' });
    await view.settled;
    expect(view.el.textContent).toMatch(/Log in again/);
    logins.login = {
      status: 'ok',
      accountId: 'acc-c3',
      label: 'alice',
      apiBaseUrl: C3_API,
      accessToken: 'new-login-token-0003'
    };
    credentials.changed.emit({ type: 'accounts' });
    await view.settled;
    expect(fakeFetch.requests).toHaveLength(2);
    expect(fakeFetch.requests[1].headers.get('Authorization')).toBe(
      'Bearer new-login-token-0003'
    );
  });

  it('without a source of CARTO 3 logins, says to log in to CARTO 3', async () => {
    setWidgetServices({
      credentials,
      trans: nullTranslator.load('jupyterlab_carto_credentials'),
      fetch: fakeFetch.fetch
    });
    const { view } = makeView([carto3Layer('SELECT 1')]);
    await view.settled;
    expect(view.el.textContent).toMatch(/No CARTO 3 login is available/);
  });
});

describe('CartoCredentialsModel.carto3Login', () => {
  class TokenServer implements ICarto3Store {
    requests = 0;
    expired = false;
    async token(id: string): Promise<Carto3Token> {
      this.requests++;
      if (this.expired) {
        throw new AccountStoreError(
          'login_required',
          'log in again',
          new Response(null, { status: 409 })
        );
      }
      return {
        access_token: `${id}-token`,
        api_base_url: C3_API,
        expires_at: Math.floor(Date.now() / 1000) + 3600
      };
    }
    addM2M = () => Promise.reject(new Error('not used'));
    startLogin = () => Promise.reject(new Error('not used'));
    exchange = () => Promise.reject(new Error('not used'));
    loginStatus = () => Promise.reject(new Error('not used'));
  }

  async function setup(defaultId: string) {
    const store = new FakeStore();
    store.add('acc-key', 'alice', 'alice-key');
    for (const id of ['acc-c3', 'acc-other']) {
      store.accounts.push({
        id,
        kind: 'm2m',
        label: `${id} (M2M)`,
        username: null,
        base_url: '',
        api_base_url: C3_API,
        expires_at: null,
        status: 'ok',
        public: false,
        user_info: null,
        api_key: ''
      });
    }
    store.defaultId = defaultId;
    store.grantMap['nb.ipynb'] = 'allow';
    const server = new TokenServer();
    const model = new CartoCredentialsModel({ store, carto3: server });
    await model.refresh();
    model.registerKernel('k1', 'nb.ipynb');
    return { model, server, store };
  }

  it("gives the notebook's or the named account's token from the cache", async () => {
    const { model, server } = await setup('acc-c3');
    const fetched = server.requests;
    expect(await model.carto3Login({ kernelId: 'k1' })).toEqual({
      status: 'ok',
      accountId: 'acc-c3',
      label: 'acc-c3 (M2M)',
      apiBaseUrl: C3_API,
      accessToken: 'acc-c3-token'
    });
    expect(
      await model.carto3Login({ kernelId: 'k1', accountId: 'acc-other' })
    ).toMatchObject({ status: 'ok', accessToken: 'acc-other-token' });
    expect(server.requests).toBe(fetched); // the cache, not a second fetch
    expect(
      await model.carto3Login({ kernelId: 'k1', accountId: 'acc-key' })
    ).toEqual({ status: 'not_carto3', label: 'alice' });
    expect(
      await model.carto3Login({ kernelId: 'k1', accountId: 'acc-gone' })
    ).toEqual({ status: 'unknown_account' });
    expect(await model.carto3Login({ kernelId: 'k9' })).toEqual({
      status: 'no_account'
    });
    model.dispose();
  });

  it('withholds the token without a grant and says when a new login is needed', async () => {
    const { model, server, store } = await setup('acc-c3');
    model.registerKernel('k2', 'other.ipynb');
    expect(await model.carto3Login({ kernelId: 'k2' })).toEqual({
      status: 'not_granted',
      label: 'acc-c3 (M2M)'
    });
    server.expired = true;
    model.dispose();
    const fresh = new CartoCredentialsModel({ store, carto3: server });
    await fresh.refresh();
    fresh.registerKernel('k1', 'nb.ipynb');
    expect(await fresh.carto3Login({ kernelId: 'k1' })).toEqual({
      status: 'login_required',
      label: 'acc-c3 (M2M)'
    });
    fresh.dispose();
  });
});
