/**
 * The CARTO sidebar: who is signed in, an offer to import CARTOframes' `creds.json`, the login
 * form and the account list.
 *
 * Stable DOM hooks for browser tests (keep them when changing the markup):
 * - panel: `#jp-carto-credentials-panel` (a `SidePanel`; its title `.jp-CartoCredentials-title` in the header)
 * - signed-in summary: `.jp-CartoCredentials-signedIn` (text "Signed in as …"), its server
 *   `.jp-CartoCredentials-signedInServer`
 * - username input: `.jp-CartoCredentials-usernameInput`
 * - base URL input: `.jp-CartoCredentials-baseUrlInput`
 * - API key input: `.jp-CartoCredentials-keyInput`, its show/hide toggle
 *   `.jp-CartoCredentials-keyToggle` (`aria-pressed`)
 * - public checkbox: `.jp-CartoCredentials-publicCheckbox`
 * - login button: `.jp-CartoCredentials-loginButton`; the form is `.jp-CartoCredentials-form`
 *   (`aria-busy="true"` while CARTO is checked), progress text `.jp-CartoCredentials-progress`
 * - error alert: `.jp-CartoCredentials-form .jp-CartoCredentials-error` (`role="alert"`)
 * - account list items: `.jp-CartoCredentials-accounts > li.jp-CartoCredentials-account`
 *   (`data-account-id`; `.jp-mod-default` on the default), buttons `.jp-CartoCredentials-makeDefault`
 *   and `.jp-CartoCredentials-logOut`
 * - import offer: `.jp-CartoCredentials-import`, button `.jp-CartoCredentials-importButton`
 * - administrator-provisioned accounts: `.jp-CartoCredentials-provisioned`, buttons
 *   `.jp-CartoCredentials-useProvisioned`
 * - notebook toolbar select: `.jp-CartoCredentials-notebookAccount select`
 * - status bar item: `.jp-CartoCredentials-status`
 * - CARTO 3 section (loaded lazily, after the API-key form): see `carto3Login.ts`; an expired
 *   login's "Log in again" button in the list: `.jp-CartoCredentials-relogin`
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { AccountList } from './accountList';
import type { Carto3LoginSection } from './carto3Login';
import { createAvatar, displayName } from './avatar';
import { cartoIcon } from './icons';
import { LoginForm } from './loginForm';
import { loginErrorMessage } from './messages';
import type { ICarto3Store } from './carto3Rest';
import type { ICartoCredentialsManager } from './manager';
import { ProvisionedAccounts } from './provisioned';
import type { StoredAccount } from './rest';
import { ICartoCredentials } from './tokens';

export const PANEL_ID = 'jp-carto-credentials-panel';

export class CartoCredentialsPanel extends SidePanel {
  constructor(options: CartoCredentialsPanel.IOptions) {
    // A plain panel as content, not the default accordion: the sections stack and scroll as one.
    super({ content: new Panel() });
    this._model = options.model;
    this._cartoTrans = options.trans;
    const trans = this._cartoTrans;
    this.id = PANEL_ID;
    this.addClass('jp-CartoCredentials-panel');
    this.title.icon = cartoIcon;
    this.title.caption = trans.__('CARTO credentials');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('CARTO credentials'));
    // The content belongs to that region, not to a second one (named in English only).
    this.content.node.removeAttribute('role');
    this.content.node.removeAttribute('aria-label');
    this.content.addClass('jp-CartoCredentials-content');
    const title = new Widget({ node: document.createElement('h2') });
    title.addClass('jp-CartoCredentials-title');
    title.node.textContent = trans.__('CARTO credentials');
    this.header.addWidget(title);

    this._summary = new Widget();
    this._summary.addClass('jp-CartoCredentials-summary');
    this._import = new Widget();
    this._import.addClass('jp-CartoCredentials-import');
    this._import.hide();
    this.form = new LoginForm({ model: this._model, trans });
    this.list = new AccountList({
      model: this._model,
      trans,
      confirm: options.confirm,
      relogin: options.carto3
        ? async account => {
            const section = await this.carto3Section;
            // Its progress, code field and errors show there: bring it into view.
            section?.node.scrollIntoView?.({ block: 'nearest' });
            await section?.logIn(account.id);
          }
        : undefined
    });
    this.provisioned = new ProvisionedAccounts({
      model: this._model,
      trans,
      choose: (username, baseUrl) => this.form.prefill(username, baseUrl)
    });
    const heading = new Widget({ node: document.createElement('h3') });
    heading.addClass('jp-CartoCredentials-heading');
    heading.node.textContent = trans.__('Log in');
    this.addWidget(this._summary);
    this.addWidget(this._import);
    this.addWidget(this.provisioned);
    this.addWidget(heading);
    this.addWidget(this.form);
    this.addWidget(this.list);
    this.carto3Section = options.carto3
      ? this._loadCarto3(options.carto3)
      : Promise.resolve(null);
    this.form.loggedIn.connect(this._onLoggedIn, this);
    this._model.accountsChanged.connect(this._onAccountsChanged, this);
    this._model.defaultChanged.connect(this._renderSummary, this);
    this._model.codeCredentialsChanged.connect(this._renderSummary, this);
    this._renderSummary();
    void this.checkImport();
  }

  /** The login form, for commands that focus it. */
  readonly form: LoginForm;
  readonly list: AccountList;
  readonly provisioned: ProvisionedAccounts;
  /**
   * The CARTO 3 section, once its code arrived (a chunk of its own, fetched when the panel is
   * built: JupyterLab's start does not wait for it); `null` without a CARTO 3 store.
   */
  readonly carto3Section: Promise<Carto3LoginSection | null>;

  /** Offer CARTOframes' `creds.json` when the server found one this user has not added yet. */
  async checkImport(): Promise<void> {
    let info;
    try {
      info = await this._model.importInfo();
    } catch {
      // An old server without the import route: simply no offer.
      this._import.hide();
      return;
    }
    const known = this._model.accounts.some(
      a =>
        !a.isRuntime &&
        a.username === (info.username ?? null) &&
        (!info.base_url || a.baseUrl === info.base_url)
    );
    if (!info.available || known || this.isDisposed) {
      this._import.hide();
      return;
    }
    this._renderImport(info.username ?? info.base_url ?? '', info.path ?? '');
    this._import.show();
  }

  /**
   * Activated (its tab, the open-panel command or its shortcut Accel Alt C): the keyboard focus
   * moves into the panel, at the login form's first field, unless it is in the panel already. So
   * what the user types next, a key above all, goes here and never into the notebook cell that
   * had the focus.
   */
  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (!this.node.contains(document.activeElement)) {
      this.form.focusUsername();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.accountsChanged.disconnect(this._onAccountsChanged, this);
    this._model.defaultChanged.disconnect(this._renderSummary, this);
    this._model.codeCredentialsChanged.disconnect(this._renderSummary, this);
    super.dispose();
  }

  private async _loadCarto3(
    options: CartoCredentialsPanel.ICarto3Options
  ): Promise<Carto3LoginSection | null> {
    let module;
    try {
      module = await import('./carto3Login');
    } catch (reason) {
      console.warn(
        'CARTO credentials: the CARTO 3 login did not load.',
        reason
      );
      return null;
    }
    if (this.isDisposed) {
      return null;
    }
    const section = new module.Carto3LoginSection({
      store: options.store,
      trans: this._cartoTrans,
      accountAdded: options.accountAdded,
      allowNonHttps: () => this._model.settings.allowNonHttps
    });
    section.loggedIn.connect((_, account) => {
      this._lastSignedIn = account.id;
      this._renderSummary();
    });
    // After the API-key form, before the account list.
    this.insertWidget(this.widgets.indexOf(this.list), section);
    return section;
  }

  private _onLoggedIn(_: LoginForm, account: ICartoCredentials.IAccount): void {
    this._lastSignedIn = account.id;
    this._renderSummary();
  }

  private _onAccountsChanged(): void {
    this._renderSummary();
    if (!this._import.isHidden) {
      void this.checkImport();
    }
  }

  /** The account just signed into, else the default one. */
  private _renderSummary(): void {
    const trans = this._cartoTrans;
    const accounts = this._model.accounts;
    const account =
      accounts.find(a => a.id === this._lastSignedIn) ??
      this._model.defaultAccount;
    const node = this._summary.node;
    if (!account) {
      const text = document.createElement('p');
      text.className = 'jp-CartoCredentials-signedOut';
      text.textContent = trans.__('Not signed in to CARTO.');
      node.replaceChildren(text);
      return;
    }
    const text = document.createElement('div');
    text.className = 'jp-CartoCredentials-summaryText';
    const who = document.createElement('span');
    who.className = 'jp-CartoCredentials-signedIn';
    who.textContent = trans.__('Signed in as %1', displayName(account));
    const server = document.createElement('span');
    server.className = 'jp-CartoCredentials-signedInServer';
    server.textContent = account.baseUrl;
    text.append(who, server);
    if (account.userInfo?.email) {
      const email = document.createElement('span');
      email.className = 'jp-CartoCredentials-signedInEmail';
      email.textContent = account.userInfo.email;
      text.appendChild(email);
    }
    // Just signed into another account: say which one notebooks still use.
    const fallback = this._model.defaultAccount;
    if (fallback && fallback.id !== account.id) {
      const note = document.createElement('span');
      note.className = 'jp-CartoCredentials-summaryNote';
      note.textContent = trans.__(
        'Notebooks use %1 unless they choose another account.',
        displayName(fallback)
      );
      text.appendChild(note);
    }
    node.replaceChildren(createAvatar(account), text);
  }

  private _renderImport(name: string, path: string): void {
    const trans = this._cartoTrans;
    const text = document.createElement('p');
    text.textContent = trans.__(
      'CARTOframes credentials for %1 were found in %2.',
      name,
      path
    );
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-CartoCredentials-importButton jp-mod-styled';
    button.textContent = trans.__('Import');
    button.setAttribute(
      'aria-label',
      trans.__('Import the CARTOframes credentials of %1', name)
    );
    const error = document.createElement('div');
    error.className = 'jp-CartoCredentials-error';
    error.setAttribute('role', 'alert');
    error.hidden = true;
    button.addEventListener('click', async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        const account = await this._model.importCartoframes();
        this._lastSignedIn = account.id;
        this._import.hide();
        this._renderSummary();
      } catch (reason) {
        error.textContent = loginErrorMessage(reason, trans);
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    this._import.node.replaceChildren(text, button, error);
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _cartoTrans: TranslationBundle;
  private readonly _summary: Widget;
  private readonly _import: Widget;
  private _lastSignedIn: string | null = null;
}

export namespace CartoCredentialsPanel {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
    /** Asks before logging out; a dialog by default. */
    confirm?: (account: ICartoCredentials.IAccount) => Promise<boolean>;
    /** CARTO 3 logins (browser and M2M); without it the panel offers API keys only. */
    carto3?: ICarto3Options;
  }

  export interface ICarto3Options {
    store: ICarto3Store;
    /** The model takes a new or renewed CARTO 3 login in (list, default, token to kernels). */
    accountAdded: (account: StoredAccount, oauth: boolean) => Promise<void>;
  }
}
