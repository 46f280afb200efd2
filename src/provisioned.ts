/**
 * Accounts an administrator lists in the settings (`provisionedAccounts`, never with a key): the
 * panel offers each one the user has not logged into yet, and choosing it fills the login form so
 * only the key is left to type.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { nameAndServer } from './avatar';
import type { ICartoCredentialsManager } from './manager';
import type { ISettingsConfig } from './settings';

type Provisioned = ISettingsConfig['provisionedAccounts'][number];

/** Same server, ignoring a trailing slash and letter case (CARTO hosts and usernames are lowercase). */
function sameServer(a: string, b: string): boolean {
  const norm = (url: string) => url.trim().replace(/\/+$/, '').toLowerCase();
  return norm(a) === norm(b);
}

export class ProvisionedAccounts extends Widget {
  constructor(options: ProvisionedAccounts.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans;
    this._choose = options.choose;
    this.addClass('jp-CartoCredentials-provisioned');
    this._model.accountsChanged.connect(this.render, this);
    this._model.settingsChanged.connect(this.render, this);
    this.render();
  }

  /** The provisioned accounts not logged into yet. */
  get pending(): Provisioned[] {
    const accounts = this._model.accounts.filter(a => !a.isRuntime);
    return this._model.settings.provisionedAccounts.filter(
      entry =>
        !accounts.some(
          account =>
            sameServer(account.baseUrl, entry.baseUrl) &&
            (!entry.username || account.username === entry.username)
        )
    );
  }

  render(): void {
    const trans = this._trans;
    const pending = this.pending;
    this.setHidden(pending.length === 0);
    const heading = document.createElement('h3');
    heading.className = 'jp-CartoCredentials-heading';
    heading.textContent = trans.__('Accounts from your administrator');
    const list = document.createElement('ul');
    list.className = 'jp-CartoCredentials-provisionedList';
    list.setAttribute('aria-label', heading.textContent);
    for (const entry of pending) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className =
        'jp-Button jp-mod-styled jp-CartoCredentials-useProvisioned';
      button.textContent = trans.__('Log in');
      button.setAttribute('aria-label', trans.__('Log in to %1', entry.label));
      button.addEventListener('click', () =>
        this._choose(entry.username, entry.baseUrl)
      );
      item.append(...nameAndServer(entry.label, entry.baseUrl), button);
      list.appendChild(item);
    }
    this.node.replaceChildren(heading, list);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.accountsChanged.disconnect(this.render, this);
    this._model.settingsChanged.disconnect(this.render, this);
    super.dispose();
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _trans: TranslationBundle;
  private readonly _choose: (
    username: string | undefined,
    baseUrl: string
  ) => void;
}

export namespace ProvisionedAccounts {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
    /** Fill the login form with this account's username and server. */
    choose: (username: string | undefined, baseUrl: string) => void;
  }
}
