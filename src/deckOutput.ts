/**
 * Shows pydeck maps that draw with a CARTO 3 login (`DECK_MIME`, sent by the kernel's output
 * filter, `carto_credentials/_deck_output.py`): pydeck's page with each placeholder replaced by
 * the *current* access token of the login it names, so the map loads its tiles, while the output
 * model (and so the saved notebook) keeps only placeholders and masks.
 *
 * Only trusted outputs are shown with a token: a trusted output's scripts already run with the
 * page's rights (they could ask the server for a token themselves); an untrusted one shows a line
 * saying how to trust it, and nothing of the page. The notebook must be allowed to use the login (its grant, as for map layers); otherwise,
 * or while the login needs a new sign-in, the page shows with its placeholders and a status line
 * says what to do. It renders again when, after accounts or grants changed, one of its logins
 * became usable or stopped being so (logging out stops the map), not when only a token changed.
 */
import { MimeModel, RenderedHTML } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ISignal } from '@lumino/signaling';

import type { Carto3LayerLogin, ICartoCredentialsManager } from './manager';
import { DECK_MIME, DeckOutput, deckOutputSchema } from './protocol';

/** Ahead of `text/html` (rank 50 in JupyterLab), so the bundle wins where this extension runs. */
export const DECK_RENDERER_RANK = 40;

/** What the renderer needs from the shared login (this extension's manager; a fake in tests). */
export interface IDeckLogins {
  carto3Login: ICartoCredentialsManager['carto3Login'];
  readonly accountsChanged: ISignal<unknown, void>;
  readonly grantsChanged: ISignal<unknown, string>;
}

export class RenderedDeck extends RenderedHTML {
  constructor(
    options: IRenderMime.IRendererOptions,
    private readonly _manager: IDeckLogins,
    private readonly _trans: TranslationBundle
  ) {
    // RenderedHTML renders its MIME type's data: the page we build, as text/html.
    super({ ...options, mimeType: 'text/html' });
    this.addClass('jp-CartoCredentials-deckOutput');
    this._manager.accountsChanged.connect(this._onLoginsChanged, this);
    this._manager.grantsChanged.connect(this._onLoginsChanged, this);
  }

  /** Shows `model`'s map; pass the model as the output area gives it (with `DECK_MIME`). */
  async render(model: IRenderMime.IMimeModel): Promise<void> {
    this._model = model;
    // A later render (the accounts changed again) wins over one still asking for tokens.
    const generation = ++this._generation;
    const parsed = deckOutputSchema.safeParse(model.data[DECK_MIME]);
    if (!parsed.success) {
      // Malformed: what any viewer shows, sanitised unless trusted.
      this._missing = [];
      return super.render(
        new MimeModel({
          data: { 'text/html': String(model.data['text/html'] ?? '') },
          trusted: model.trusted
        })
      );
    }
    if (!model.trusted) {
      // Never a token for an untrusted output: say how to show it.
      this._missing = [];
      return super.render(
        new MimeModel({
          data: {
            'text/html': Private.notice(
              this._trans.__(
                'This CARTO map shows once the notebook is trusted: run “Trust Notebook” from the command palette, or run its cell again.'
              )
            )
          },
          trusted: false
        })
      );
    }
    const { html, missing } = await this._restore(parsed.data);
    if (generation !== this._generation || this.isDisposed) {
      return;
    }
    this._missing = missing;
    const notice = missing.length ? this._notice(missing) : '';
    await super.render(
      new MimeModel({ data: { 'text/html': notice + html }, trusted: true })
    );
  }

  dispose(): void {
    this._model = null;
    super.dispose();
  }

  private async _restore(
    output: DeckOutput
  ): Promise<{ html: string; missing: Carto3LayerLogin[] }> {
    const path = this._resolverPath();
    let html = output.html;
    const missing: Carto3LayerLogin[] = [];
    // Longest placeholder first: "…-1" is the start of "…-10".
    const placeholders = Object.keys(output.logins).sort(
      (a, b) => b.length - a.length
    );
    for (const placeholder of placeholders) {
      const login: Carto3LayerLogin =
        path === null
          ? { status: 'no_account' }
          : await this._manager.carto3Login({
              path,
              accountId: output.logins[placeholder]
            });
      if (login.status === 'ok') {
        html = html.split(placeholder).join(login.accessToken);
      } else {
        missing.push(login);
      }
    }
    return { html, missing };
  }

  /** The notebook's path, from the URL resolver its output area was given (JupyterLab's own). */
  private _resolverPath(): string | null {
    const path = (this.resolver as { path?: unknown } | null)?.path;
    return typeof path === 'string' ? path : null;
  }

  private _notice(missing: Carto3LayerLogin[]): string {
    const lines = missing.map(login => Private.explain(login, this._trans));
    return Private.notice([...new Set(lines)].join(' '));
  }

  /**
   * After accounts or grants changed: render again when a login of the map became usable or
   * stopped being so (logged out, access revoked), not when only its token changed, which would
   * reset the map's view.
   */
  private async _refresh(): Promise<void> {
    const model = this._model;
    const parsed = deckOutputSchema.safeParse(model?.data[DECK_MIME]);
    if (!model || !model.trusted || !parsed.success || this.isDisposed) {
      return;
    }
    const { missing } = await this._restore(parsed.data);
    if (Private.statuses(missing) !== Private.statuses(this._missing)) {
      await this.render(model);
    }
  }

  private _onLoginsChanged(): void {
    void this._refresh();
  }

  private _model: IRenderMime.IMimeModel | null = null;
  private _missing: Carto3LayerLogin[] = [];
  private _generation = 0;
}

/** The renderer factory `RenderMimeRegistry.addFactory` takes. */
export function deckRendererFactory(
  manager: IDeckLogins,
  trans: TranslationBundle
): IRenderMime.IRendererFactory {
  return {
    // Safe: an untrusted output gets no token, only a sanitised line saying how to show it.
    safe: true,
    mimeTypes: [DECK_MIME],
    defaultRank: DECK_RENDERER_RANK,
    createRenderer: options => new RenderedDeck(options, manager, trans)
  };
}

namespace Private {
  /** A status line (`role=status`), as HTML. */
  export function notice(text: string): string {
    const div = document.createElement('div');
    div.className = 'jp-CartoCredentials-deckNotice';
    div.setAttribute('role', 'status');
    div.textContent = text;
    return div.outerHTML;
  }

  /** What decides whether a map must render again: each missing login's status and label. */
  export function statuses(missing: Carto3LayerLogin[]): string {
    return JSON.stringify(
      missing.map(login => [login.status, 'label' in login ? login.label : ''])
    );
  }

  export function explain(
    login: Carto3LayerLogin,
    trans: TranslationBundle
  ): string {
    switch (login.status) {
      case 'login_required':
        return trans.__(
          'This map needs a new CARTO 3 sign-in: log in to %1 again in the CARTO panel.',
          login.label
        );
      case 'not_granted':
        return trans.__(
          'This map draws with the CARTO 3 login %1, which this notebook may not use: allow it with the command “Allow CARTO Access for This Notebook” (command palette, CARTO).',
          login.label
        );
      case 'not_carto3':
        return trans.__(
          'This map draws with a CARTO 3 login, but %1 is not one: run its cell again.',
          login.label
        );
      default:
        return trans.__(
          'This map draws with a CARTO 3 login that is no longer in the CARTO panel: run its cell again with a CARTO 3 login of this notebook.'
        );
    }
  }
}
