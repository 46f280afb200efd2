/**
 * The panel's CARTO 3 section (`docs/contracts.md` §4), loaded lazily: a browser login with CARTO
 * (OAuth + PKCE, completed on the server) and machine-to-machine clients.
 *
 * - "Log in with CARTO" tries the `redirect` flow (an administrator-registered OAuth client brings
 *   CARTO back to this server) and follows the login until it is done; a server without a client
 *   answers `oauth_not_configured`, and the same click continues with the `paste` flow: CARTO's
 *   page shows a code that the user pastes here. The window is opened within the click (so no
 *   popup blocker stops it) and pointed at CARTO once the server gave the address.
 * - An M2M client is given by its credentials JSON (read here, sent once to the server, kept
 *   nowhere in the page) or by the path of that file on the Jupyter server.
 *
 * Stable DOM hooks for browser tests:
 * - section `.jp-CartoCredentials-carto3`; options `.jp-CartoCredentials-carto3Options`
 *   (organisation `.jp-CartoCredentials-orgInput`, API base URL `.jp-CartoCredentials-apiBaseUrlInput`)
 * - buttons `.jp-CartoCredentials-carto3Login`, `.jp-CartoCredentials-carto3PasteLogin` (the
 *   paste flow on demand), `.jp-CartoCredentials-carto3Cancel`
 * - paste form `.jp-CartoCredentials-pasteForm`, input `.jp-CartoCredentials-codeInput`, button
 *   `.jp-CartoCredentials-codeSubmit`; CARTO's page link `.jp-CartoCredentials-authorizeLink`
 * - M2M form `.jp-CartoCredentials-m2mForm`: file `.jp-CartoCredentials-m2mFile`, path
 *   `.jp-CartoCredentials-m2mPath`, label `.jp-CartoCredentials-m2mLabel`, button
 *   `.jp-CartoCredentials-m2mSubmit`
 * - progress `.jp-CartoCredentials-carto3 .jp-CartoCredentials-progress` (`role="status"`), errors
 *   `.jp-CartoCredentials-carto3 .jp-CartoCredentials-error` (`role="alert"`)
 */
import { DOMUtils } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import {
  ICarto3Store,
  INewM2MAccount,
  IOAuthStart,
  M2MFileError,
  parseM2MFile
} from './carto3Rest';
import { loginErrorMessage } from './messages';
import { AccountStoreError, StoredAccount, storeErrorCode } from './rest';

/** The slice of a browser window the login uses (a real `Window` fits). */
export interface ILoginWindow {
  readonly closed: boolean;
  location: { href: string };
  close(): void;
}

/** How often a `redirect` login is asked about. */
const POLL_MS = 1000;
/** The server forgets a pending login after `oauth_login_timeout` (600 s). */
const LOGIN_TIMEOUT_MS = 600_000;

export class Carto3LoginSection extends Widget {
  constructor(options: Carto3LoginSection.IOptions) {
    super({ node: document.createElement('section') });
    this._store = options.store;
    this._trans = options.trans;
    this._accountAdded = options.accountAdded;
    this._openWindow = options.openWindow ?? Private.openBlankWindow;
    this._pollMs = options.pollMs ?? POLL_MS;
    this._allowNonHttps = options.allowNonHttps ?? (() => false);
    this.addClass('jp-CartoCredentials-carto3');
    this._build();
  }

  /** Emitted after a CARTO 3 account was added or logged in again (no token in it). */
  get loggedIn(): ISignal<this, StoredAccount> {
    return this._loggedIn;
  }

  /** Whether a login is under way (waiting for CARTO or for a pasted code). */
  get busy(): boolean {
    return this._pending !== null || this._working;
  }

  get loginButton(): HTMLButtonElement {
    return this._loginButton;
  }

  get codeInput(): HTMLInputElement {
    return this._code;
  }

  get m2mFileInput(): HTMLInputElement {
    return this._m2mFile;
  }

  get m2mPathInput(): HTMLInputElement {
    return this._m2mPath;
  }

  focusLogin(): void {
    this._loginButton.focus();
  }

  /**
   * Log in with CARTO: the `redirect` flow when the server has an OAuth client, else `paste`.
   * Call it from a click (it opens the window at once). With `accountId`, log that account in
   * again.
   */
  async logIn(
    accountId?: string,
    flow: 'redirect' | 'paste' = 'redirect'
  ): Promise<StoredAccount | null> {
    if (this.busy) {
      return null;
    }
    const win = this._openWindow();
    const request: IOAuthStart = { flow, ...this._options() };
    if (accountId) {
      request.account_id = accountId;
    }
    this._working = true;
    this._showError('');
    this._setProgress(this._trans.__('Starting the CARTO login…'));
    this._update();
    let started;
    try {
      if (flow === 'redirect' && this._redirectAvailable) {
        try {
          started = await this._store.startLogin(request);
        } catch (reason) {
          if (storeErrorCode(reason) !== 'oauth_not_configured') {
            throw reason;
          }
          // No OAuth client on this server: CARTO's public client and its code page.
          this._redirectAvailable = false;
        }
      }
      if (!started) {
        request.flow = 'paste';
        started = await this._store.startLogin(request);
      }
    } catch (reason) {
      win?.close();
      this._working = false;
      this._setProgress('');
      this._showError(this._message(reason), this._inputOfField(reason));
      this._update();
      return null;
    }
    this._working = false;
    if (win && !win.closed) {
      win.location.href = started.authorize_url;
    }
    return new Promise<StoredAccount | null>(resolve => {
      this._pending = {
        flow: request.flow,
        state: started.state,
        window: win,
        resolve,
        deadline: Date.now() + LOGIN_TIMEOUT_MS,
        timer: null
      };
      this._showAuthorizeLink(started.authorize_url, win === null);
      if (request.flow === 'paste') {
        this._setProgress(
          this._trans.__(
            'Log in on the CARTO page, then paste the code it shows below.'
          )
        );
        this._update();
        this._code.focus();
      } else {
        this._setProgress(
          this._trans.__(
            'Waiting for the CARTO login in the other window… You can cancel it.'
          )
        );
        this._update();
        this._poll();
      }
    });
  }

  /** Stop waiting for the login under way (the server forgets it after its timeout). */
  cancel(message = ''): void {
    const pending = this._pending;
    if (!pending) {
      return;
    }
    this._pending = null;
    if (pending.timer !== null) {
      clearTimeout(pending.timer);
    }
    this._code.value = '';
    this._showAuthorizeLink(null, false);
    this._setProgress(message);
    this._update();
    pending.resolve(null);
  }

  /** Submit the pasted code (or the page address holding `code=`). */
  async submitCode(): Promise<StoredAccount | null> {
    const pending = this._pending;
    if (!pending || pending.flow !== 'paste' || this._working) {
      return null;
    }
    const code = this._code.value.trim();
    if (!code || code.length > Private.MAX_PASTED_CODE) {
      this._showError(
        code
          ? this._trans.__(
              'This is too long to be a CARTO code: paste only the code CARTO showed (or the address of that page).'
            )
          : this._trans.__(
              'Paste the code CARTO showed (or the address of that page).'
            ),
        this._code
      );
      return null;
    }
    this._working = true;
    this._showError('');
    this._setProgress(this._trans.__('Checking the code with CARTO…'));
    this._update();
    try {
      const account = await this._store.exchange(pending.state, code);
      await this._finish(pending, account);
      return account;
    } catch (reason) {
      this._working = false;
      const stateLost = storeErrorCode(reason) === 'oauth_state_unknown';
      if (stateLost) {
        this.cancel();
      } else {
        this._setProgress('');
        this._update();
      }
      this._showError(
        this._message(reason),
        stateLost ? null : (this._inputOfField(reason) ?? this._code)
      );
      return null;
    }
  }

  /** Add an M2M client from the picked file, else from the path on the server. */
  async addM2M(): Promise<StoredAccount | null> {
    if (this._working) {
      return null;
    }
    const trans = this._trans;
    const file = this._m2mFile.files?.[0] ?? null;
    const path = this._m2mPath.value.trim();
    const label = this._m2mLabel.value.trim();
    let request: INewM2MAccount;
    if (file) {
      let text: string;
      try {
        text = await file.text();
        request = { credentials: parseM2MFile(text) };
      } catch (reason) {
        this._showError(
          reason instanceof M2MFileError && reason.field !== null
            ? trans.__(
                'This file has no valid "%1". Download the M2M client\'s credentials JSON again from CARTO (Developers › Credentials).',
                reason.field
              )
            : trans.__(
                'This file is not an M2M credentials JSON (api_base_url, client_id, client_secret). Download it again from CARTO (Developers › Credentials).'
              ),
          this._m2mFile
        );
        return null;
      }
    } else if (path) {
      request = { path };
    } else {
      this._showError(
        trans.__(
          'Choose the M2M credentials JSON file, or give its path on the Jupyter server.'
        ),
        this._m2mFile
      );
      return null;
    }
    if (label) {
      request.label = label;
    }
    if (this._allowNonHttps()) {
      request.allow_non_https = true;
    }
    this._working = true;
    this._showError('');
    this._setProgress(trans.__('Getting a first token from CARTO…'));
    this._update();
    try {
      const account = await this._store.addM2M(request);
      await this._accountAdded(account, false);
      // Nothing of the file stays in the page.
      this._m2mFile.value = '';
      this._m2mPath.value = '';
      this._m2mLabel.value = '';
      this._setProgress(trans.__('Added %1.', account.label));
      this._loggedIn.emit(account);
      return account;
    } catch (reason) {
      this._setProgress('');
      this._showError(
        this._message(reason),
        this._inputOfField(reason) ?? (file ? this._m2mFile : this._m2mPath)
      );
      return null;
    } finally {
      this._working = false;
      this._update();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.cancel();
    Signal.clearData(this);
    super.dispose();
  }

  private async _finish(
    pending: Private.IPending,
    account: StoredAccount
  ): Promise<void> {
    this._pending = null;
    if (pending.timer !== null) {
      clearTimeout(pending.timer);
    }
    this._code.value = '';
    this._showAuthorizeLink(null, false);
    try {
      await this._accountAdded(account, true);
    } finally {
      this._working = false;
      this._setProgress(
        this._trans.__('Logged in to CARTO as %1.', account.label)
      );
      this._update();
    }
    this._loggedIn.emit(account);
    pending.resolve(account);
  }

  /** Follow a `redirect` login until it is done, failed, cancelled or too old. */
  private _poll(): void {
    const pending = this._pending;
    if (!pending) {
      return;
    }
    pending.timer = setTimeout(async () => {
      pending.timer = null;
      if (this._pending !== pending) {
        return;
      }
      let status;
      try {
        status = await this._store.loginStatus(pending.state);
      } catch (reason) {
        if (this._pending === pending) {
          this.cancel();
          this._showError(this._message(reason));
        }
        return;
      }
      if (this._pending !== pending) {
        return;
      }
      if (status.status === 'done' && status.account) {
        this._working = true;
        await this._finish(pending, status.account);
      } else if (status.status === 'failed') {
        this.cancel();
        this._showError(
          status.error
            ? this._codeMessage(status.error.code, status.error.message)
            : this._trans.__('The CARTO login failed. Try again.')
        );
      } else if (Date.now() > pending.deadline) {
        this.cancel();
        this._showError(
          this._trans.__(
            'The CARTO login took too long and was stopped. Start it again.'
          )
        );
      } else if (pending.window?.closed && pending.closedSeen) {
        // Closed, and asked once more after that: the login will not finish.
        this.cancel();
        this._showError(
          this._trans.__(
            'The CARTO window was closed before the login finished. Start it again.'
          )
        );
      } else {
        pending.closedSeen = pending.window?.closed ?? false;
        this._poll();
      }
    }, this._pollMs);
  }

  private _options(): Omit<IOAuthStart, 'flow'> {
    const options: Omit<IOAuthStart, 'flow'> = {};
    const org = this._org.value.trim();
    const apiBaseUrl = this._apiBaseUrl.value.trim();
    if (org) {
      options.org = org;
    }
    if (apiBaseUrl) {
      options.api_base_url = apiBaseUrl;
      if (this._allowNonHttps()) {
        options.allow_non_https = true;
      }
    }
    return options;
  }

  private _message(reason: unknown): string {
    const code = storeErrorCode(reason);
    if (code !== null && reason instanceof Error) {
      const message = this._codeMessage(code, reason.message, reason);
      const input = this._inputOfField(reason);
      // The server speaks of its body's fields ('org', 'path'): name the control instead.
      return input
        ? this._trans.__('%1: %2', Private.labelOf(input), message)
        : message;
    }
    return loginErrorMessage(reason, this._trans);
  }

  /** The control of this section that filled in the field a refused request names, if any. */
  private _inputOfField(reason: unknown): HTMLInputElement | null {
    const field = reason instanceof AccountStoreError ? reason.field : null;
    switch (field) {
      case 'org':
        return this._org;
      case 'api_base_url':
        return this._apiBaseUrl;
      case 'path':
        return this._m2mPath;
      case 'label':
        return this._m2mLabel;
      case 'code':
        return this._code;
      default:
        return null;
    }
  }

  /** What to do about a CARTO 3 failure; the server's sentence when there is no better one. */
  private _codeMessage(code: string, message: string, error?: unknown): string {
    const trans = this._trans;
    switch (code) {
      case 'oauth_state_unknown':
        return trans.__(
          'This CARTO login is no longer known to the server (used, too old, or the server restarted). Start the login again.'
        );
      case 'oauth_denied':
        // The server's sentence names CARTO's error code; this one says what to do.
        return trans.__(
          'CARTO did not grant the login. Start it again, and accept on the CARTO page.'
        );
      case 'bad_code':
        return trans.__(
          'CARTO refused this code: paste it again exactly as CARTO shows it. A code works once and for a minute; after that, start the login again.'
        );
      case 'bad_client':
        return trans.__(
          'CARTO refused this M2M client (client id or secret). Check the client in CARTO (Developers › Credentials) and download its JSON again.'
        );
      case 'no_api_base_url':
        return trans.__(
          'CARTO did not say which API base URL your organisation uses: give it under "Options" (CARTO › Developers › API base URL).'
        );
      case 'oauth_not_configured':
      case 'm2m_file_invalid':
      case 'login_required':
      case 'bad_url':
      case 'not_https':
        // The server names what to do (a field or a path, never a value), and what a CARTO 3
        // API base URL looks like (loginErrorMessage's example is an API-key base URL).
        return message;
      default:
        return error === undefined
          ? message
          : loginErrorMessage(error, this._trans);
    }
  }

  private _build(): void {
    const trans = this._trans;
    const node = this.node;
    const headingId = DOMUtils.createDomID();
    node.setAttribute('aria-labelledby', headingId);
    const heading = document.createElement('h3');
    heading.id = headingId;
    heading.className = 'jp-CartoCredentials-heading';
    heading.textContent = trans.__('CARTO 3');
    const intro = document.createElement('p');
    intro.className = 'jp-CartoCredentials-hint';
    intro.textContent = trans.__(
      'Log in to the CARTO platform with your CARTO account, or add a machine-to-machine (M2M) client. Tokens stay on the Jupyter server.'
    );

    // Options of the browser login.
    const options = document.createElement('details');
    options.className = 'jp-CartoCredentials-carto3Options';
    const summary = document.createElement('summary');
    summary.textContent = trans.__('Options: organisation, API base URL');
    options.appendChild(summary);
    this._org = Private.field(
      options,
      trans.__('Organisation (single sign-on), optional'),
      'jp-CartoCredentials-orgInput',
      'text'
    );
    this._apiBaseUrl = Private.field(
      options,
      trans.__('API base URL, optional'),
      'jp-CartoCredentials-apiBaseUrlInput',
      'url'
    );
    this._apiBaseUrl.placeholder = trans.__(
      'e.g. %1',
      'https://gcp-us-east1.api.carto.com'
    );

    this._loginButton = document.createElement('button');
    this._loginButton.type = 'button';
    this._loginButton.className =
      'jp-CartoCredentials-carto3Login jp-mod-styled jp-mod-accept';
    this._loginButton.textContent = trans.__('Log in with CARTO');
    this._loginButton.addEventListener('click', () => void this.logIn());
    // The paste flow on demand: when CARTO cannot come back to this server (a proxy).
    this._pasteButton = document.createElement('button');
    this._pasteButton.type = 'button';
    this._pasteButton.className =
      'jp-CartoCredentials-carto3PasteLogin jp-mod-styled';
    this._pasteButton.textContent = trans.__('Log in with a code instead');
    this._pasteButton.addEventListener(
      'click',
      () => void this.logIn(undefined, 'paste')
    );

    // Where the user pastes CARTO's code (paste flow only).
    this._pasteForm = document.createElement('form');
    this._pasteForm.className = 'jp-CartoCredentials-pasteForm';
    this._pasteForm.setAttribute('novalidate', '');
    this._pasteForm.setAttribute('aria-label', trans.__('Code from CARTO'));
    this._code = Private.field(
      this._pasteForm,
      trans.__('Code from CARTO (or the address of its page)'),
      'jp-CartoCredentials-codeInput',
      'text'
    );
    this._code.autocomplete = 'off';
    this._codeSubmit = document.createElement('button');
    this._codeSubmit.type = 'submit';
    this._codeSubmit.className =
      'jp-CartoCredentials-codeSubmit jp-mod-styled jp-mod-accept';
    this._codeSubmit.textContent = trans.__('Submit code');
    this._pasteForm.appendChild(this._codeSubmit);
    this._pasteForm.addEventListener('submit', event => {
      event.preventDefault();
      void this.submitCode();
    });

    this._link = document.createElement('p');
    this._link.className = 'jp-CartoCredentials-authorizeHint';
    this._cancelButton = document.createElement('button');
    this._cancelButton.type = 'button';
    this._cancelButton.className =
      'jp-CartoCredentials-carto3Cancel jp-mod-styled';
    this._cancelButton.textContent = trans.__('Cancel login');
    this._cancelButton.addEventListener('click', () =>
      this.cancel(this._trans.__('Login cancelled.'))
    );

    // M2M client.
    this._m2mForm = document.createElement('form');
    this._m2mForm.className = 'jp-CartoCredentials-m2mForm';
    this._m2mForm.setAttribute('novalidate', '');
    const fieldset = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = trans.__('Machine-to-machine (M2M) client');
    fieldset.appendChild(legend);
    this._m2mFile = Private.field(
      fieldset,
      trans.__('Credentials file (JSON)'),
      'jp-CartoCredentials-m2mFile',
      'file'
    );
    this._m2mFile.accept = '.json,application/json';
    this._m2mPath = Private.field(
      fieldset,
      trans.__('Or its path on the Jupyter server'),
      'jp-CartoCredentials-m2mPath',
      'text'
    );
    this._m2mPath.placeholder = trans.__(
      'e.g. %1',
      '/home/me/m2m-credentials.json'
    );
    // A new file or path is a new attempt: the last one's error no longer applies.
    this._m2mFile.addEventListener('change', () => this._showError(''));
    this._m2mPath.addEventListener('input', () => this._showError(''));
    this._m2mLabel = Private.field(
      fieldset,
      trans.__('Label, optional'),
      'jp-CartoCredentials-m2mLabel',
      'text'
    );
    this._m2mSubmit = document.createElement('button');
    this._m2mSubmit.type = 'submit';
    this._m2mSubmit.className = 'jp-CartoCredentials-m2mSubmit jp-mod-styled';
    this._m2mSubmit.textContent = trans.__('Add M2M client');
    fieldset.appendChild(this._m2mSubmit);
    this._m2mForm.appendChild(fieldset);
    this._m2mForm.addEventListener('submit', event => {
      event.preventDefault();
      void this.addM2M();
    });

    this._progress = document.createElement('div');
    this._progress.className = 'jp-CartoCredentials-progress';
    this._progress.setAttribute('role', 'status');
    this._error = document.createElement('div');
    this._error.className = 'jp-CartoCredentials-error';
    this._error.id = DOMUtils.createDomID();
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;

    node.append(
      heading,
      intro,
      options,
      this._loginButton,
      this._pasteButton,
      this._progress,
      this._link,
      this._pasteForm,
      this._cancelButton,
      this._error,
      this._m2mForm
    );
    this._showAuthorizeLink(null, false);
    this._update();
  }

  /** Show (or hide, with `null`) the link to CARTO's page: needed when no window could open. */
  private _showAuthorizeLink(url: string | null, blocked: boolean): void {
    const trans = this._trans;
    if (url === null) {
      this._link.replaceChildren();
      this._link.hidden = true;
      return;
    }
    const link = document.createElement('a');
    link.className = 'jp-CartoCredentials-authorizeLink';
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    link.textContent = trans.__("Open CARTO's login page");
    const text = document.createElement('span');
    text.textContent = blocked
      ? trans.__('The browser did not open a window: ')
      : trans.__('No window? ');
    this._link.replaceChildren(text, link);
    this._link.hidden = false;
  }

  private _update(): void {
    const pending = this._pending;
    const busy = this.busy;
    this._loginButton.disabled = busy;
    this._pasteButton.disabled = busy;
    this._m2mSubmit.disabled = this._working;
    this._pasteForm.hidden = pending?.flow !== 'paste';
    this._codeSubmit.disabled = this._working;
    this._cancelButton.hidden = pending === null;
    this.node.setAttribute('aria-busy', String(busy));
    this.toggleClass('jp-mod-busy', busy);
  }

  private _setProgress(text: string): void {
    this._progress.textContent = text;
  }

  /** Show (or clear, with '') a problem and mark the field it is about. */
  private _showError(
    message: string,
    target: HTMLInputElement | null = null
  ): void {
    for (const input of [
      this._org,
      this._apiBaseUrl,
      this._code,
      this._m2mFile,
      this._m2mPath,
      this._m2mLabel
    ]) {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-errormessage');
    }
    this._error.textContent = message;
    this._error.hidden = message === '';
    if (message && target) {
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-errormessage', this._error.id);
      target.focus();
    }
  }

  private readonly _store: ICarto3Store;
  private readonly _trans: TranslationBundle;
  private readonly _accountAdded: Carto3LoginSection.IOptions['accountAdded'];
  private readonly _openWindow: () => ILoginWindow | null;
  private readonly _pollMs: number;
  private readonly _allowNonHttps: () => boolean;
  private readonly _loggedIn = new Signal<this, StoredAccount>(this);
  private _redirectAvailable = true;
  private _pending: Private.IPending | null = null;
  private _working = false;
  private _org!: HTMLInputElement;
  private _apiBaseUrl!: HTMLInputElement;
  private _loginButton!: HTMLButtonElement;
  private _pasteButton!: HTMLButtonElement;
  private _cancelButton!: HTMLButtonElement;
  private _pasteForm!: HTMLFormElement;
  private _code!: HTMLInputElement;
  private _codeSubmit!: HTMLButtonElement;
  private _link!: HTMLElement;
  private _m2mForm!: HTMLFormElement;
  private _m2mFile!: HTMLInputElement;
  private _m2mPath!: HTMLInputElement;
  private _m2mLabel!: HTMLInputElement;
  private _m2mSubmit!: HTMLButtonElement;
  private _progress!: HTMLElement;
  private _error!: HTMLElement;
}

export namespace Carto3LoginSection {
  export interface IOptions {
    store: ICarto3Store;
    trans: TranslationBundle;
    /**
     * Called with each account added or logged in again (`oauth` true for a browser login),
     * before `loggedIn`: the model reloads its accounts and pushes the new token to kernels.
     */
    accountAdded: (account: StoredAccount, oauth: boolean) => Promise<void>;
    /** Opens an empty window within the user's click; a real one by default. */
    openWindow?: () => ILoginWindow | null;
    /** Milliseconds between two questions about a `redirect` login. */
    pollMs?: number;
    /** Whether the settings allow http:// API base URLs (local test servers). */
    allowNonHttps?: () => boolean;
  }
}

namespace Private {
  /**
   * Longer than any code CARTO shows or the address of its page (a few hundred characters):
   * something else was pasted, said here rather than as the server's body-size refusal.
   */
  export const MAX_PASTED_CODE = 4096;

  export interface IPending {
    flow: 'redirect' | 'paste';
    state: string;
    window: ILoginWindow | null;
    resolve: (account: StoredAccount | null) => void;
    deadline: number;
    timer: ReturnType<typeof setTimeout> | null;
    /** The window was seen closed at the previous question. */
    closedSeen?: boolean;
  }

  /**
   * An empty window, opened in the click; it loses its link to this page before it is pointed
   * at CARTO, so CARTO's page cannot reach JupyterLab through `window.opener`.
   */
  export function openBlankWindow(): ILoginWindow | null {
    const win = window.open('', '_blank');
    if (win) {
      win.opener = null;
    }
    return win;
  }

  /** A labelled input, appended to `parent` in its own row. */
  /** The visible label of a control made by `field`. */
  export function labelOf(input: HTMLInputElement): string {
    return input.labels?.[0]?.textContent ?? '';
  }

  export function field(
    parent: HTMLElement,
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
    parent.appendChild(row);
    return input;
  }
}
