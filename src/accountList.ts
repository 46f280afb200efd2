/**
 * The accounts this user has: the default marked in words and with an icon, "Make default" and
 * "Log out" for stored accounts, and run-time accounts (set by notebook code) shown read-only.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { checkIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { createAvatar, displayName, nameAndServer } from './avatar';
import { confirmLogOut } from './dialogs';
import { loginErrorMessage } from './messages';
import type { ICartoCredentialsManager } from './manager';
import { ICartoCredentials } from './tokens';

export class AccountList extends Widget {
  constructor(options: AccountList.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans;
    this._confirm = options.confirm ?? (a => confirmLogOut(a, this._trans));
    this._relogin = options.relogin ?? null;
    this.addClass('jp-CartoCredentials-accountSection');
    const heading = (this._heading = document.createElement('h3'));
    heading.className = 'jp-CartoCredentials-heading';
    heading.textContent = this._trans.__('Accounts');
    // Where the focus goes when the focused account leaves the list (logged out).
    heading.tabIndex = -1;
    this._list = document.createElement('ul');
    this._list.className = 'jp-CartoCredentials-accounts';
    this._list.setAttribute('role', 'list');
    this._list.setAttribute('aria-label', this._trans.__('CARTO accounts'));
    this._empty = document.createElement('p');
    this._empty.className = 'jp-CartoCredentials-empty';
    this._empty.textContent = this._trans.__('No account yet: log in above.');
    this._error = document.createElement('div');
    this._error.className = 'jp-CartoCredentials-error';
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    // What an action did, for screen readers too (the list itself changes silently).
    this._status = document.createElement('div');
    this._status.className = 'jp-CartoCredentials-listStatus';
    this._status.setAttribute('role', 'status');
    this.node.append(
      heading,
      this._empty,
      this._list,
      this._status,
      this._error
    );
    // What the list shows: the accounts (code-set ones too) and which is the default.
    this._model.accountsChanged.connect(this.render, this);
    this._model.defaultChanged.connect(this.render, this);
    this._model.codeCredentialsChanged.connect(this.render, this);
    this.render();
  }

  /** Rebuild the list from the model (it holds no keys, so nothing secret is rendered). */
  render(): void {
    const accounts = this._model.accounts;
    const focused = this._focusedPlace();
    this._empty.hidden = accounts.length > 0;
    this._list.replaceChildren(...accounts.map(a => this._item(a)));
    if (focused) {
      this._restoreFocus(focused);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.accountsChanged.disconnect(this.render, this);
    this._model.defaultChanged.disconnect(this.render, this);
    this._model.codeCredentialsChanged.disconnect(this.render, this);
    super.dispose();
  }

  private _item(account: ICartoCredentials.IAccount): HTMLElement {
    const trans = this._trans;
    const isDefault = account.id === this._model.defaultAccountId;
    const item = document.createElement('li');
    item.className = 'jp-CartoCredentials-account';
    item.dataset.accountId = account.id;
    item.classList.toggle('jp-mod-default', isDefault);
    item.classList.toggle('jp-mod-runtime', account.isRuntime);
    item.dataset.kind = account.kind ?? 'api_key';
    const loginRequired = account.loginRequired === true;
    item.classList.toggle('jp-mod-loginRequired', loginRequired);

    const text = document.createElement('div');
    text.className = 'jp-CartoCredentials-accountText';
    text.append(...nameAndServer(account.label, account.baseUrl));

    const badges = document.createElement('div');
    badges.className = 'jp-CartoCredentials-badges';
    if (isDefault) {
      const badge = this._badge(trans.__('Default'), 'jp-mod-default');
      const icon = checkIcon.element({
        tag: 'span',
        className: 'jp-CartoCredentials-badgeIcon'
      });
      icon.setAttribute('aria-hidden', 'true');
      badge.prepend(icon);
      badges.appendChild(badge);
    }
    if (account.isPublic) {
      badges.appendChild(this._badge(trans.__('Public data only')));
    }
    if (account.kind === 'oauth') {
      badges.appendChild(this._badge(trans.__('CARTO 3 login')));
    } else if (account.kind === 'm2m') {
      badges.appendChild(this._badge(trans.__('CARTO 3 M2M client')));
    }
    if (loginRequired) {
      badges.appendChild(
        this._badge(
          account.kind === 'm2m'
            ? trans.__('Refused by CARTO: add the client again')
            : trans.__('Expired: log in again'),
          'jp-mod-loginRequired'
        )
      );
    }
    if (account.isRuntime) {
      badges.appendChild(
        this._badge(trans.__('Set by notebook code (read-only)'))
      );
    }
    text.appendChild(badges);

    item.append(createAvatar(account), text);
    if (!account.isRuntime) {
      const actions = document.createElement('div');
      actions.className = 'jp-CartoCredentials-actions';
      // An expired browser login is renewed by logging in again (an M2M client cannot be:
      // CARTO refused its secret, so it is added again).
      if (loginRequired && account.kind === 'oauth' && this._relogin) {
        const relogin = this._relogin;
        actions.appendChild(
          this._button(
            trans.__('Log in again'),
            trans.__('Log in again: %1', displayName(account)),
            'jp-CartoCredentials-relogin',
            () => relogin(account)
          )
        );
      }
      if (!isDefault) {
        actions.appendChild(
          this._button(
            trans.__('Make default'),
            // Starts with the visible text, so the name contains what is seen (WCAG 2.5.3).
            trans.__('Make default: %1', displayName(account)),
            'jp-CartoCredentials-makeDefault',
            async () => {
              await this._model.setDefault(account.id);
              this._status.textContent = trans.__(
                '%1 is now the default account.',
                displayName(account)
              );
            }
          )
        );
      }
      actions.appendChild(
        this._button(
          trans.__('Log out'),
          trans.__('Log out of %1', displayName(account)),
          'jp-CartoCredentials-logOut',
          async () => {
            if (await this._confirm(account)) {
              await this._model.removeAccount(account.id);
              this._status.textContent = trans.__(
                'Logged out of %1.',
                displayName(account)
              );
            }
          }
        )
      );
      item.appendChild(actions);
    }
    return item;
  }

  /** The account item and button holding the keyboard focus, before the list is rebuilt. */
  private _focusedPlace(): Private.IFocusedPlace | null {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !this._list.contains(active)) {
      return null;
    }
    const item = active.closest<HTMLElement>('li.jp-CartoCredentials-account');
    if (!item) {
      return null;
    }
    return {
      accountId: item.dataset.accountId ?? '',
      className: active.classList[0] ?? '',
      index: Array.from(this._list.children).indexOf(item)
    };
  }

  /**
   * Keep the keyboard where it was in the rebuilt list: the same button of the same account;
   * that account's item when the button is gone ("Make default" once it is the default); the
   * account now at its place, or the heading, when the account left ("Log out").
   */
  private _restoreFocus(place: Private.IFocusedPlace): void {
    const items = Array.from(
      this._list.querySelectorAll<HTMLElement>('li.jp-CartoCredentials-account')
    );
    const item = items.find(i => i.dataset.accountId === place.accountId);
    if (item) {
      const button = place.className
        ? item.querySelector<HTMLElement>(`button.${place.className}`)
        : null;
      if (button) {
        button.focus();
      } else {
        item.tabIndex = -1;
        item.focus();
      }
      return;
    }
    const next = items[Math.min(place.index, items.length - 1)];
    const target = next?.querySelector<HTMLElement>('button') ?? this._heading;
    target.focus();
  }

  private _badge(text: string, modifier = ''): HTMLElement {
    const badge = document.createElement('span');
    badge.className = `jp-CartoCredentials-badge ${modifier}`.trim();
    badge.textContent = text;
    return badge;
  }

  private _button(
    text: string,
    label: string,
    className: string,
    action: () => Promise<void>
  ): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `${className} jp-mod-styled`;
    button.textContent = text;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', () => {
      this._error.hidden = true;
      action().catch(reason => {
        this._error.textContent = loginErrorMessage(reason, this._trans);
        this._error.hidden = false;
      });
    });
    return button;
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _trans: TranslationBundle;
  private readonly _confirm: (
    account: ICartoCredentials.IAccount
  ) => Promise<boolean>;
  private readonly _relogin:
    ((account: ICartoCredentials.IAccount) => Promise<void>) | null;
  private readonly _heading: HTMLElement;
  private readonly _list: HTMLUListElement;
  private readonly _empty: HTMLElement;
  private readonly _status: HTMLElement;
  private readonly _error: HTMLElement;
}

namespace Private {
  /** Where the keyboard focus was in the list: which account, which button, which place. */
  export interface IFocusedPlace {
    accountId: string;
    className: string;
    index: number;
  }
}

export namespace AccountList {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
    /** Asks before logging out; a dialog by default. */
    confirm?: (account: ICartoCredentials.IAccount) => Promise<boolean>;
    /** Starts a new browser login for an expired CARTO 3 account ("Log in again"). */
    relogin?: (account: ICartoCredentials.IAccount) => Promise<void>;
  }
}
