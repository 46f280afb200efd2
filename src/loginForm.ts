/**
 * The login form: username or on-premises base URL, API key or public data only. Values survive a
 * failed attempt; only the key is cleared, and only after the account was saved.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { DOMUtils } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { displayName } from './avatar';
import { loginErrorMessage } from './messages';
import type { ICartoCredentialsManager } from './manager';
import { INewAccount, storeErrorCode } from './rest';
import { PUBLIC_API_KEY, RuleField, problemWith } from './rules';
import { ICartoCredentials } from './tokens';

const USERNAME_PLACEHOLDER = '{username}';

export class LoginForm extends Widget {
  constructor(options: LoginForm.IOptions) {
    super({ node: document.createElement('form') });
    this._model = options.model;
    this._trans = options.trans;
    this.addClass('jp-CartoCredentials-form');
    this.node.setAttribute('aria-label', this._trans.__('Log in to CARTO'));
    this.node.setAttribute('novalidate', '');
    this._build();
    this._applyTemplate();
    this._model.settingsChanged.connect(this._applyTemplate, this);
  }

  /** Emitted after an account was saved; the payload has no key. */
  get loggedIn(): ISignal<this, ICartoCredentials.IAccount> {
    return this._loggedIn;
  }

  /** Whether the server is checking an attempt now. */
  get busy(): boolean {
    return this._busy;
  }

  get usernameInput(): HTMLInputElement {
    return this._username;
  }

  get baseUrlInput(): HTMLInputElement {
    return this._baseUrl;
  }

  get keyInput(): HTMLInputElement {
    return this._key;
  }

  get publicCheckbox(): HTMLInputElement {
    return this._public;
  }

  focusUsername(): void {
    this._username.focus();
  }

  /** Prefill the server fields (e.g. from an administrator-provisioned account). */
  prefill(username: string | undefined, baseUrl: string): void {
    this._username.value = username ?? '';
    this._baseUrl.value = baseUrl;
    this._baseUrlEdited = true;
    this._key.focus();
  }

  /** Validate and save the account; resolves with it, or `null` after showing why not. */
  async submit(): Promise<ICartoCredentials.IAccount | null> {
    if (this._busy) {
      return null;
    }
    const request = this._read();
    if ('problem' in request) {
      this._showError(request.problem, request.field);
      return null;
    }
    this._setBusy(true);
    this._showError('', null);
    let done = '';
    try {
      const account = await this._model.addAccount(request);
      this._key.value = '';
      this._setKeyVisible(false);
      // Said in the status line too, so a screen reader hears the result, not only "Checking…".
      done = this._trans.__('Logged in as %1.', displayName(account));
      this._loggedIn.emit(account);
      return account;
    } catch (reason) {
      const field = Private.fieldFor(reason);
      this._showError(
        loginErrorMessage(reason, this._trans),
        // Without a username, "no such user" is about the base URL's /user/NAME.
        this._inputFor(
          field === 'username' && !request.username ? 'baseUrl' : field
        )
      );
      return null;
    } finally {
      this._setBusy(false, done);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.clearData(this);
    super.dispose();
  }

  private _build(): void {
    const trans = this._trans;
    this._username = this._field(
      trans.__('Username'),
      'jp-CartoCredentials-usernameInput',
      'text'
    );
    this._username.autocomplete = 'username';
    this._username.addEventListener('input', () => this._applyTemplate());

    this._baseUrl = this._field(
      trans.__('Server (base URL)'),
      'jp-CartoCredentials-baseUrlInput',
      'url'
    );
    this._baseUrl.addEventListener('input', () => {
      // Once the user types a server, stop deriving it from the username.
      this._baseUrlEdited = this._baseUrl.value !== '';
    });
    const hint = document.createElement('div');
    hint.className = 'jp-CartoCredentials-hint';
    hint.id = DOMUtils.createDomID();
    hint.textContent = trans.__(
      'Give your username, or the base URL of an on-premises server.'
    );
    this._baseUrl.parentElement!.appendChild(hint);
    this._baseUrl.setAttribute('aria-describedby', hint.id);

    this._key = this._field(
      trans.__('API key'),
      'jp-CartoCredentials-keyInput',
      'password'
    );
    this._key.autocomplete = 'off';
    const keyRow = document.createElement('div');
    keyRow.className = 'jp-CartoCredentials-keyRow';
    this._key.replaceWith(keyRow);
    keyRow.appendChild(this._key);
    this._toggle = document.createElement('button');
    this._toggle.type = 'button';
    this._toggle.className = 'jp-CartoCredentials-keyToggle jp-mod-styled';
    this._toggle.setAttribute('aria-label', trans.__('Show API key'));
    this._toggle.textContent = trans.__('Show');
    this._toggle.addEventListener('click', () =>
      this._setKeyVisible(this._key.type === 'password')
    );
    keyRow.appendChild(this._toggle);
    this._setKeyVisible(false);

    const check = document.createElement('div');
    check.className = 'jp-CartoCredentials-check';
    this._public = document.createElement('input');
    this._public.type = 'checkbox';
    this._public.id = DOMUtils.createDomID();
    this._public.className = 'jp-CartoCredentials-publicCheckbox';
    this._public.addEventListener('change', () => {
      this._key.disabled = this._public.checked;
      this._toggle.disabled = this._public.checked;
    });
    const publicLabel = document.createElement('label');
    publicLabel.htmlFor = this._public.id;
    publicLabel.textContent = trans.__('Public data only (no API key)');
    check.append(this._public, publicLabel);
    this.node.appendChild(check);

    this._button = document.createElement('button');
    this._button.type = 'submit';
    this._button.className =
      'jp-CartoCredentials-loginButton jp-mod-styled jp-mod-accept';
    this._button.textContent = trans.__('Log in');
    this.node.appendChild(this._button);

    this._progress = document.createElement('div');
    this._progress.className = 'jp-CartoCredentials-progress';
    this._progress.setAttribute('role', 'status');
    this.node.appendChild(this._progress);

    this._error = document.createElement('div');
    this._error.className = 'jp-CartoCredentials-error';
    this._error.id = DOMUtils.createDomID();
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this.node.appendChild(this._error);

    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this.submit();
    });
  }

  private _field(
    text: string,
    className: string,
    type: string
  ): HTMLInputElement {
    const row = document.createElement('div');
    row.className = 'jp-CartoCredentials-field';
    const input = document.createElement('input');
    input.id = DOMUtils.createDomID();
    input.type = type;
    input.className = `${className} jp-mod-styled`;
    input.spellcheck = false;
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = text;
    row.append(label, input);
    this.node.appendChild(row);
    return input;
  }

  private _read(): INewAccount | Private.IProblem {
    const username = this._username.value.trim();
    // An emptied Server field means the URL its placeholder shows, never a hidden default.
    const baseUrl = this._baseUrl.value.trim() || this._templateUrl();
    const apiKey = this._public.checked ? PUBLIC_API_KEY : this._key.value;
    if (!username && !baseUrl) {
      return {
        problem: this._trans.__(
          'Enter your CARTO username, or the base URL of your server.'
        ),
        field: this._username
      };
    }
    if (!apiKey.trim()) {
      return {
        problem: this._trans.__(
          'Enter your API key, or tick "Public data only" to use public datasets.'
        ),
        field: this._key
      };
    }
    const request: INewAccount = { api_key: apiKey.trim() };
    if (username) {
      request.username = username;
    }
    if (baseUrl) {
      request.base_url = baseUrl;
    }
    // The server's own rules (rules.json), so the same message shows before any request.
    const checks: [RuleField, string | undefined, HTMLInputElement][] = [
      ['username', request.username, this._username],
      ['base_url', request.base_url, this._baseUrl],
      ['api_key', request.api_key, this._key]
    ];
    for (const [field, value, input] of checks) {
      const problem =
        value === undefined
          ? null
          : problemWith(field, value, this._model.settings.allowNonHttps);
      if (problem) {
        return { problem: problem.message, field: input };
      }
    }
    return request;
  }

  private _inputFor(field: Private.Field | null): HTMLInputElement | null {
    switch (field) {
      case 'username':
        return this._username;
      case 'baseUrl':
        return this._baseUrl;
      case 'key':
        return this._key;
      default:
        return null;
    }
  }

  /** Show (or clear, with '') a problem and mark the field it is about. */
  private _showError(message: string, target: HTMLInputElement | null): void {
    for (const input of [this._username, this._baseUrl, this._key]) {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-errormessage');
    }
    this._error.textContent = message;
    this._error.hidden = message === '';
    if (message && target) {
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-errormessage', this._error.id);
      if (!target.disabled) {
        target.focus();
      }
    }
  }

  /** Busy while CARTO checks a login; `result`: what the status line says once it is done. */
  private _setBusy(busy: boolean, result = ''): void {
    this._busy = busy;
    this._button.disabled = busy;
    this.node.setAttribute('aria-busy', String(busy));
    this.toggleClass('jp-mod-busy', busy);
    this._progress.textContent = busy
      ? this._trans.__('Checking with CARTO…')
      : result;
  }

  private _setKeyVisible(visible: boolean): void {
    this._key.type = visible ? 'text' : 'password';
    this._toggle.setAttribute('aria-pressed', String(visible));
    this._toggle.textContent = visible
      ? this._trans.__('Hide')
      : this._trans.__('Show');
  }

  /** The base URL the settings' template gives for the typed username ('' without one). */
  private _templateUrl(): string {
    const template = this._model.settings.baseUrlTemplate;
    if (!template.includes(USERNAME_PLACEHOLDER)) {
      return template;
    }
    const username = this._username.value.trim();
    return username ? template.split(USERNAME_PLACEHOLDER).join(username) : '';
  }

  /**
   * The settings' template, with the username filled in as it is typed; an emptied Server field
   * shows it as its placeholder, which is what a login then uses (`_read`).
   */
  private _applyTemplate(): void {
    const url = this._templateUrl();
    this._baseUrl.placeholder = url || this._model.settings.baseUrlTemplate;
    if (!this._baseUrlEdited) {
      this._baseUrl.value = url;
    }
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _trans: TranslationBundle;
  private readonly _loggedIn = new Signal<this, ICartoCredentials.IAccount>(
    this
  );
  private _username!: HTMLInputElement;
  private _baseUrl!: HTMLInputElement;
  private _key!: HTMLInputElement;
  private _toggle!: HTMLButtonElement;
  private _public!: HTMLInputElement;
  private _button!: HTMLButtonElement;
  private _progress!: HTMLElement;
  private _error!: HTMLElement;
  private _baseUrlEdited = false;
  private _busy = false;
}

export namespace LoginForm {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
  }
}

namespace Private {
  export type Field = 'username' | 'baseUrl' | 'key';

  /** A local check that failed before asking the server. */
  export interface IProblem {
    problem: string;
    field: HTMLInputElement;
  }

  /** Which field a server-side failure is about, to focus and mark it. */
  export function fieldFor(reason: unknown): Field | null {
    switch (storeErrorCode(reason)) {
      case 'bad_key':
      case 'bad_key_format':
        return 'key';
      case 'unknown_user':
      case 'bad_username':
        return 'username';
      case 'not_https':
      case 'bad_url':
      case 'not_carto':
      case 'unreachable':
        return 'baseUrl';
      default:
        return null;
    }
  }
}
