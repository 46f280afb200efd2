import { Signal } from '@lumino/signaling';
import { nullTranslator } from '@jupyterlab/translation';

import { WidgetModel } from '@jupyter-widgets/base';

import type { ICartoCredentials } from '../src/tokens';
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
import { parseMapState } from '../src/widgets/state';
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
      layers: [table('alice_stores', REF)],
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
    expect(
      layerQuery({ source: 'SELECT 1', is_query: true, credentials_ref: null })
    ).toBe('SELECT 1');
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
    expect(view.el.textContent).toContain('bad key *** here');
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

  it.each([
    [
      301,
      'https://elsewhere.example/api/v2/sql?api_key=alice-demo-key-0001#x',
      'https://elsewhere.example/api/v2/sql'
    ],
    [307, '/user/alice/api/v2/sql?q=1', '/user/alice/api/v2/sql'],
    [302, null, '']
  ])(
    'reports a %s redirect with its target, never following it',
    async (status, location, shown) => {
      fakeFetch.answer = () =>
        new Response(null, {
          status,
          headers: location ? { Location: location } : {}
        });
      const error = await fetchGeoJSON(options({})).catch(e => e);
      expect(error).toMatchObject({ kind: 'redirect', status, detail: shown });
      expect(fakeFetch.requests).toHaveLength(1);
    }
  );

  it("reports a browser's opaque redirect", async () => {
    fakeFetch.answer = () =>
      ({
        type: 'opaqueredirect',
        status: 0,
        ok: false,
        headers: new Headers(),
        text: async () => ''
      }) as unknown as Response;
    const error = await fetchGeoJSON(options({})).catch(e => e);
    expect(error).toMatchObject({ kind: 'redirect', status: null, detail: '' });
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
