/**
 * The map widget's view. At render time it resolves each layer's credentials from the shared
 * CARTO context (the notebook's account, or credentials that code registered by reference),
 * fetches GeoJSON from the SQL API (the key in an HTTP Basic header) and draws it. A CARTO 3 layer
 * (one with a `connection`) takes its account's access token from the model's token cache and
 * queries `{api_base_url}/v3/sql/{connection}/query` with it in a Bearer header. Keys and tokens
 * stay in memory: never in the DOM, never in a model. It re-fetches when the account in use changes, and
 * redraws when the map's layers, or any layer's or source's state, change.
 */
import { DOMWidgetView, WidgetModel } from '@jupyter-widgets/base';

import '../../style/widgets.css';
import type { Carto3LayerLogin } from '../model';
import type { ICartoCredentials } from '../tokens';
import { fetchCarto3Features } from './carto3Sql';
import type { CartoMapModel } from './model';
import {
  IDrawnLayer,
  IMapRenderer,
  LAYER_COLORS,
  RendererFactory,
  loadLeafletRenderer
} from './renderer';
import { IWidgetServices, carto3Logins, widgetServices } from './services';
import {
  FeatureCollection,
  LayerLoadError,
  fetchGeoJSON,
  layerQuery
} from './sqlApi';
import type { LayerState } from './state';

/** What a layer draws with: API-key credentials, or a CARTO 3 login (`connection` layers). */
type Resolved =
  | { kind: 'api_key'; credentials: ICartoCredentials.IResolved | null }
  | { kind: 'carto3'; login: Carto3LayerLogin | null };

type LayerOutcome =
  | { ok: true; layer: IDrawnLayer; fingerprint: string }
  | { ok: false; message: string; fingerprint: string };

export class CartoMapView extends DOMWidgetView {
  /** Replaced in tests; loads Leaflet lazily otherwise. */
  static loadRenderer: () => Promise<RendererFactory> = loadLeafletRenderer;

  declare model: CartoMapModel;

  render(): void {
    this.el.classList.add('jp-CartoMap');
    this._status = document.createElement('div');
    this._status.className = 'jp-CartoMap-status';
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');
    this._canvas = document.createElement('div');
    this._canvas.className = 'jp-CartoMap-canvas';
    this.el.append(this._status, this._canvas);
    this.listenTo(this.model, 'change:layers', () => {
      this._watchParts();
      void this.refresh();
    });
    this.listenTo(this.model, 'change:height', () => {
      void this.refresh();
    });
    this._watchParts();
    this._services = widgetServices();
    this._services?.credentials.changed.connect(
      this._onCredentialsChanged,
      this
    );
    void this.refresh();
  }

  /** Resolves when the last refresh finished (for tests and benchmarks). */
  get settled(): Promise<void> {
    return this._settled;
  }

  /** The kernel this widget's manager talks to (jupyterlab-manager's `KernelWidgetManager`). */
  get kernelId(): string | null {
    const manager: unknown = this.model.widget_manager;
    const kernel =
      typeof manager === 'object' && manager !== null
        ? (manager as { kernel?: unknown }).kernel
        : undefined;
    const id =
      typeof kernel === 'object' && kernel !== null
        ? (kernel as { id?: unknown }).id
        : undefined;
    return typeof id === 'string' ? id : null;
  }

  /** Resolve, fetch and draw every layer; `force` re-fetches even if the accounts are the same. */
  refresh(force = true): Promise<void> {
    this._settled = this._refresh(force).catch(reason => {
      console.warn('CARTO map: could not draw the map.', reason?.name);
    });
    return this._settled;
  }

  remove(): void {
    this._ticket++;
    this._abort?.abort();
    this._services?.credentials.changed.disconnect(
      this._onCredentialsChanged,
      this
    );
    this._renderer?.dispose();
    this._renderer = null;
    return super.remove();
  }

  processLuminoMessage(
    msg: Parameters<DOMWidgetView['processLuminoMessage']>[0]
  ): void {
    super.processLuminoMessage(msg);
    if (
      msg.type === 'after-attach' ||
      msg.type === 'after-show' ||
      msg.type === 'resize'
    ) {
      this._renderer?.resize();
    }
  }

  /** Listen to the current layer and source models (a layer's source may be replaced). */
  private _watchParts(): void {
    for (const part of this._parts) {
      this.stopListening(part);
    }
    this._parts = this.model.parts;
    for (const part of this._parts) {
      this.listenTo(part, 'change', () => {
        this._watchParts();
        void this.refresh();
      });
    }
  }

  private async _refresh(force: boolean): Promise<void> {
    const ticket = ++this._ticket;
    const services = this._services;
    const trans = services?.trans;
    if (!services || !trans) {
      this._showMessage(
        'The CARTO credentials extension is not active: the map cannot load its data.',
        true
      );
      return;
    }
    const state = this.model.mapState;
    if (!state) {
      this._showMessage(
        trans.__('This map could not be shown: its state is not valid.'),
        true
      );
      return;
    }
    // On the canvas, not on `el`: the widget's Layout view owns `el`'s inline size styles (it
    // removes `height` when `layout.height` is unset), and a `layout.height` set in code still
    // resizes the map, the canvas growing or shrinking to fill it.
    this._canvas.style.height = `${state.height}px`;
    const resolved = await Promise.all(
      state.layers.map(layer => this._resolve(services, layer))
    );
    if (ticket !== this._ticket) {
      return;
    }
    const fingerprint =
      JSON.stringify(resolved.map(Private.fingerprint)) +
      JSON.stringify(state.layers);
    if (!force && fingerprint === this._fingerprint && !this._hadErrors) {
      return;
    }
    this._fingerprint = fingerprint;
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    this._setLoading(true);
    this._status.textContent = trans.__('Loading map data…');
    this._status.classList.remove('jp-mod-error');
    const outcomes = await Promise.all(
      state.layers.map((layer, index) =>
        this._load(services, layer, index, resolved[index], abort.signal)
      )
    );
    if (ticket !== this._ticket) {
      return;
    }
    this._setLoading(false);
    const drawn = outcomes.flatMap(o => (o.ok ? [o.layer] : []));
    const errors = outcomes.flatMap(o => (o.ok ? [] : [o.message]));
    this._hadErrors = errors.length > 0;
    if (drawn.length === 0 && state.layers.length > 0) {
      this._showMessage(errors.join('\n'), true);
      return;
    }
    this._canvas.hidden = false;
    this._status.textContent = errors.join('\n');
    this._status.classList.toggle('jp-mod-error', errors.length > 0);
    if (!this._renderer) {
      const factory = await CartoMapView.loadRenderer();
      if (ticket !== this._ticket) {
        return;
      }
      this._renderer = factory(this._canvas);
    }
    this._renderer.draw(drawn);
  }

  private async _resolve(
    services: IWidgetServices,
    layer: LayerState
  ): Promise<Resolved> {
    const kernelId = this.kernelId;
    if (layer.connection !== null) {
      const logins = carto3Logins(services);
      const login =
        kernelId === null || !logins
          ? null
          : await logins
              .carto3Login({ kernelId, accountId: layer.account_ref })
              .catch(() => null);
      return { kind: 'carto3', login };
    }
    if (kernelId === null) {
      return { kind: 'api_key', credentials: null };
    }
    const credentials = await services.credentials
      .resolve(
        layer.credentials_ref === null
          ? { kernelId }
          : { kernelId, ref: layer.credentials_ref }
      )
      .catch(() => null);
    return { kind: 'api_key', credentials };
  }

  /** A CARTO 3 layer: its login's token, its connection's SQL API, the same drawing. */
  private async _loadCarto3(
    services: IWidgetServices,
    layer: LayerState & { connection: string },
    login: Carto3LayerLogin | null,
    fail: (message: string) => LayerOutcome,
    signal: AbortSignal
  ): Promise<FeatureCollection | LayerOutcome> {
    const trans = services.trans;
    const again = trans.__('Log in again from the CARTO panel.');
    switch (login?.status) {
      case 'ok':
        break;
      case 'login_required':
        return fail(
          trans.__('the CARTO 3 login %1 has expired. %2', login.label, again)
        );
      case 'not_granted':
        return fail(
          trans.__(
            'this notebook is not allowed to use the CARTO account %1. Allow it from the CARTO panel or the notebook toolbar.',
            login.label
          )
        );
      case 'not_carto3':
        return fail(
          trans.__(
            'the account %1 is not a CARTO 3 login, and this layer queries the CARTO 3 connection %2. Log in to CARTO 3 from the CARTO panel and choose that account for this notebook, or drop connection= to draw from this account.',
            login.label,
            layer.connection
          )
        );
      case 'unknown_account':
        return fail(
          trans.__(
            'the CARTO 3 account this layer names is not in the CARTO panel. Log in from the CARTO panel, or run the cell again with another account.'
          )
        );
      default:
        return fail(
          trans.__(
            'No CARTO 3 login is available for this notebook. Log in to CARTO 3 from the CARTO panel.'
          )
        );
    }
    const host = Private.host(login.apiBaseUrl);
    try {
      return await fetchCarto3Features({
        apiBaseUrl: login.apiBaseUrl,
        accessToken: login.accessToken,
        connection: layer.connection,
        query: layerQuery(layer),
        fetch: services.fetch ?? window.fetch.bind(window),
        signal
      });
    } catch (reason) {
      if (!(reason instanceof LayerLoadError)) {
        if ((reason as { name?: string } | null)?.name === 'AbortError') {
          throw reason;
        }
        return fail(trans.__('the data could not be loaded.'));
      }
      switch (reason.kind) {
        case 'auth':
          return fail(
            trans.__(
              'CARTO refused the access token of %1 (HTTP %2). %3',
              login.label,
              reason.status ?? '',
              again
            )
          );
        case 'query':
          return fail(
            trans.__(
              'CARTO could not run the query on the connection %1: %2',
              layer.connection,
              reason.detail || `HTTP ${reason.status}`
            )
          );
        case 'not_found':
          return fail(
            trans
              .__(
                'not found on %1 (HTTP 404): check the connection name %2. %3',
                host,
                layer.connection,
                reason.detail
              )
              .trim()
          );
        case 'server':
          return fail(
            trans.__(
              'the CARTO server %1 had an error (HTTP %2). Try again later.',
              host,
              reason.status ?? ''
            )
          );
        case 'redirect':
          return fail(
            reason.detail
              ? trans.__(
                  'the server %1 answered with a redirect to %2: check the API base URL, and use https.',
                  host,
                  reason.detail
                )
              : trans.__(
                  'the server %1 answered with a redirect: check the API base URL, and use https.',
                  host
                )
          );
        case 'network':
          return fail(
            trans.__(
              'could not reach the CARTO server %1. Check the network connection and the API base URL.',
              host
            )
          );
        default:
          return fail(
            trans.__('the server %1 did not answer like CARTO’s SQL API.', host)
          );
      }
    }
  }

  private async _load(
    services: IWidgetServices,
    layer: LayerState,
    index: number,
    resolved: Resolved,
    signal: AbortSignal
  ): Promise<LayerOutcome> {
    const trans = services.trans;
    const name = trans.__(
      'Layer %1 (%2)',
      index + 1,
      Private.shorten(layer.source)
    );
    const fail = (message: string): LayerOutcome => ({
      ok: false,
      message: `${name}: ${message}`,
      fingerprint: ''
    });
    const color = LAYER_COLORS[index % LAYER_COLORS.length];
    if (resolved.kind === 'carto3' && layer.connection !== null) {
      const loaded = await this._loadCarto3(
        services,
        { ...layer, connection: layer.connection },
        resolved.login,
        fail,
        signal
      );
      return 'type' in loaded && loaded.type === 'FeatureCollection'
        ? { ok: true, layer: { data: loaded, color }, fingerprint: '' }
        : (loaded as LayerOutcome);
    }
    const credentials =
      resolved.kind === 'api_key' ? resolved.credentials : null;
    if (!credentials) {
      return fail(
        layer.credentials_ref === null
          ? trans.__(
              'No CARTO account is available for this notebook. Log in from the CARTO panel, or allow this notebook to use your account.'
            )
          : trans.__(
              'the credentials given in code for this layer are not known to this page. Run the cell again.'
            )
      );
    }
    const host = Private.host(credentials.baseUrl);
    try {
      const data = await fetchGeoJSON({
        baseUrl: credentials.baseUrl,
        username: credentials.username,
        apiKey: credentials.apiKey,
        query: layerQuery(layer),
        fetch: services.fetch ?? window.fetch.bind(window),
        signal
      });
      return {
        ok: true,
        layer: { data, color },
        fingerprint: ''
      };
    } catch (reason) {
      if (!(reason instanceof LayerLoadError)) {
        return fail(trans.__('the data could not be loaded.'));
      }
      const account = credentials.username ?? host;
      switch (reason.kind) {
        case 'auth':
          return fail(
            trans.__(
              'CARTO refused the API key of %1 (HTTP %2). Log in again from the CARTO panel, or check the key given in code.',
              account,
              reason.status ?? ''
            )
          );
        case 'query':
          return fail(
            /does not exist/i.test(reason.detail)
              ? trans.__(
                  'the table or query was not found in the account %1: %2',
                  account,
                  reason.detail
                )
              : trans.__(
                  'CARTO could not run the query: %1',
                  reason.detail || `HTTP ${reason.status}`
                )
          );
        case 'not_found':
          return fail(
            trans
              .__('not found on %1 (HTTP 404). %2', host, reason.detail)
              .trim()
          );
        case 'server':
          return fail(
            trans.__(
              'the CARTO server %1 had an error (HTTP %2). Try again later.',
              host,
              reason.status ?? ''
            )
          );
        case 'redirect':
          return fail(
            reason.detail
              ? trans.__(
                  'the server %1 answered with a redirect to %2: check the base URL, and use https.',
                  host,
                  reason.detail
                )
              : trans.__(
                  'the server %1 answered with a redirect: check the base URL, and use https.',
                  host
                )
          );
        case 'network':
          return fail(
            trans.__(
              'could not reach the CARTO server %1. Check the network connection and the server URL.',
              host
            )
          );
        default:
          return fail(
            trans.__('the server %1 did not answer like CARTO’s SQL API.', host)
          );
      }
    }
  }

  private _onCredentialsChanged(
    _: ICartoCredentials,
    change: ICartoCredentials.IChange
  ): void {
    if (change.type === 'settings') {
      return;
    }
    if (
      change.type === 'runtime' &&
      change.kernelId !== undefined &&
      change.kernelId !== this.kernelId
    ) {
      return;
    }
    void this.refresh(false);
  }

  private _showMessage(message: string, isError: boolean): void {
    this._setLoading(false);
    this._canvas.hidden = true;
    this._status.textContent = message;
    this._status.classList.toggle('jp-mod-error', isError);
  }

  private _setLoading(loading: boolean): void {
    this.el.classList.toggle('jp-mod-loading', loading);
    this.el.setAttribute('aria-busy', loading ? 'true' : 'false');
  }

  private _status!: HTMLDivElement;
  private _canvas!: HTMLDivElement;
  private _services: IWidgetServices | null = null;
  private _renderer: IMapRenderer | null = null;
  private _abort: AbortController | null = null;
  private _ticket = 0;
  private _fingerprint: string | null = null;
  private _hadErrors = false;
  private _settled: Promise<void> = Promise.resolve();
  private _parts: WidgetModel[] = [];
}

namespace Private {
  /** What decides whether a refresh must fetch again (no token: a renewal need not redraw). */
  export function fingerprint(resolved: Resolved): unknown {
    if (resolved.kind === 'carto3') {
      const login = resolved.login;
      return login?.status === 'ok'
        ? [login.status, login.accountId, login.apiBaseUrl]
        : [login?.status ?? null];
    }
    const r = resolved.credentials;
    return r ? [r.accountId, r.baseUrl, r.apiKey, r.username] : null;
  }

  export function shorten(source: string): string {
    const flat = source.replace(/\s+/g, ' ');
    return flat.length > 60 ? `${flat.slice(0, 57)}…` : flat;
  }

  export function host(baseUrl: string): string {
    try {
      return new URL(baseUrl).host;
    } catch {
      return baseUrl;
    }
  }
}
