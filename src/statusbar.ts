/**
 * The status bar item: which CARTO account the current notebook uses and whether its kernel gets
 * the key. Clicking it opens the sidebar. Built from the status bar's own components (`GroupItem`,
 * `TextItem`), like JupyterLab's core items.
 */
import { GroupItem, TextItem } from '@jupyterlab/statusbar';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { cartoIcon } from './icons';
import type { ICartoCredentialsManager } from './manager';
import { ICartoCredentials } from './tokens';

/** What the item can say. */
export type NotebookState =
  | 'signed_in'
  | 'code_set'
  | 'public'
  | 'not_granted'
  | 'no_account'
  | 'login_required'
  | 'error';

export interface INotebookStatus {
  readonly state: NotebookState;
  readonly account: ICartoCredentials.IAccount | null;
  /** `not_granted` because the kernel access setting is `never` (no notebook answer helps). */
  readonly never?: boolean;
}

/** The state of a notebook (or, with no notebook, of the default account). */
export function notebookStatus(
  model: ICartoCredentialsManager,
  path: string | null
): INotebookStatus {
  if (path === null) {
    const account = model.defaultAccount;
    if (!account) {
      return { state: 'no_account', account: null };
    }
    if (account.loginRequired) {
      return { state: 'login_required', account };
    }
    return { state: account.isPublic ? 'public' : 'signed_in', account };
  }
  // Code in the kernel set its credentials: they win there over any account of the panel.
  const code = model.codeAccountOf(path);
  if (code) {
    return { state: 'code_set', account: code };
  }
  const { account, missingId } = model.effectiveAccount(path);
  if (missingId !== null) {
    return { state: 'error', account };
  }
  if (!account) {
    return { state: 'no_account', account: null };
  }
  if (account.isPublic) {
    return { state: 'public', account };
  }
  // An expired CARTO 3 login: what the user must do comes first, grant or not.
  if (account.loginRequired) {
    return { state: 'login_required', account };
  }
  if (model.accessFor(path) === 'allow') {
    return { state: 'signed_in', account };
  }
  return {
    state: 'not_granted',
    account,
    never: model.settings.kernelAccess === 'never'
  };
}

/** The status text and its longer explanation. */
export function describeStatus(
  status: INotebookStatus,
  trans: TranslationBundle
): { text: string; title: string } {
  const label = status.account?.label ?? '';
  switch (status.state) {
    case 'signed_in':
      return {
        text: trans.__('CARTO: %1', label),
        title: trans.__('This notebook uses the CARTO account %1.', label)
      };
    case 'code_set':
      return {
        text: trans.__('CARTO: %1 (set by code)', label),
        title: trans.__(
          "Code in this notebook's kernel set the CARTO credentials (%1): they win over the notebook's account until unset_default_credentials() or a restart.",
          label
        )
      };
    case 'public':
      return {
        text: trans.__('CARTO: %1 (public)', label),
        title: trans.__(
          'This notebook uses public CARTO data only (%1).',
          label
        )
      };
    case 'not_granted':
      return {
        text: trans.__('CARTO: %1 (not granted)', label),
        title: status.never
          ? trans.__(
              'No notebook gets CARTO credentials: the kernel access setting is Never (Settings › CARTO credentials).'
            )
          : trans.__(
              'This notebook has not been allowed to use the CARTO account %1: click to choose whether it may.',
              label
            )
      };
    case 'login_required':
      return {
        text: trans.__('CARTO: %1 (log in again)', label),
        title: trans.__(
          'The CARTO 3 login %1 has expired: log in again from the CARTO panel. Until then this notebook gets no token.',
          label
        )
      };
    case 'error':
      return {
        text: label
          ? trans.__('CARTO: %1 (account missing)', label)
          : trans.__('CARTO: account missing'),
        title: trans.__(
          'This notebook names a CARTO account you do not have; it uses your default account instead.'
        )
      };
    default:
      return {
        text: trans.__('CARTO: not logged in'),
        title: trans.__('No CARTO account: click to log in.')
      };
  }
}

/** The status bar widget; the host decides where it goes. */
export class CartoStatusItem extends ReactWidget {
  constructor(options: CartoStatusItem.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans;
    this._currentPath = options.currentPath;
    this._onClick = options.onClick;
    this.addClass('jp-CartoCredentials-statusItem');
    this._model.accountsChanged.connect(this.refresh, this);
    this._model.defaultChanged.connect(this.refresh, this);
    this._model.notebookAccountChanged.connect(this.refresh, this);
    this._model.grantsChanged.connect(this.refresh, this);
    this._model.codeCredentialsChanged.connect(this.refresh, this);
    this._model.settingsChanged.connect(this._onSettingsChanged, this);
    this.update();
  }

  /** Emitted when the `showStatusBar` setting may have changed visibility. */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  /** Whether the settings ask for the item. */
  get isActive(): boolean {
    return this._model.settings.showStatusBar;
  }

  /** The notebook in focus changed, or anything else the text depends on. */
  refresh(): void {
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.clearData(this);
    this._model.accountsChanged.disconnect(this.refresh, this);
    this._model.defaultChanged.disconnect(this.refresh, this);
    this._model.notebookAccountChanged.disconnect(this.refresh, this);
    this._model.grantsChanged.disconnect(this.refresh, this);
    this._model.codeCredentialsChanged.disconnect(this.refresh, this);
    this._model.settingsChanged.disconnect(this._onSettingsChanged, this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const status = notebookStatus(this._model, this._currentPath());
    const { text, title } = describeStatus(status, this._trans);
    const props: GroupItem.IProps & React.HTMLAttributes<HTMLDivElement> = {
      spacing: 0,
      className: `jp-CartoCredentials-status jp-mod-${status.state}`,
      role: 'button',
      tabIndex: 0,
      title,
      // The visible text first, so the name contains what is seen (WCAG 2.5.3, axe's
      // label-content-name-mismatch), then the longer explanation.
      'aria-label':
        status.state === 'not_granted' && !status.never
          ? this._trans.__('%1. %2', text, title)
          : this._trans.__(
              '%1. %2 Open the CARTO credentials panel.',
              text,
              title
            ),
      onClick: this._onClick,
      onKeyDown: (event: React.KeyboardEvent) => {
        // What a native button does with the keyboard.
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this._onClick();
        }
      },
      children: [
        React.createElement(
          'span',
          { key: 'icon', 'aria-hidden': true },
          React.createElement(cartoIcon.react, {
            tag: 'span',
            className: 'jp-CartoCredentials-statusIcon'
          })
        ),
        React.createElement(TextItem, {
          key: 'text',
          source: text,
          className: 'jp-CartoCredentials-statusText'
        })
      ]
    };
    return React.createElement(GroupItem, {
      ...props,
      ...{ 'data-state': status.state }
    });
  }

  /** The item may now be hidden or shown (`isActive`), and its text may change. */
  private _onSettingsChanged(): void {
    this._activeStateChanged.emit();
    this.update();
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _trans: TranslationBundle;
  private readonly _currentPath: () => string | null;
  private readonly _onClick: () => void;
  private readonly _activeStateChanged = new Signal<this, void>(this);
}

export namespace CartoStatusItem {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
    /** The path of the notebook in focus, or `null`. */
    currentPath: () => string | null;
    onClick: () => void;
  }
}
