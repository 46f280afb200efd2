/**
 * The notebook toolbar selector: which CARTO account this notebook uses. The choice is written to
 * the notebook's metadata (an account id only) and to the model.
 */
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { DOMUtils } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IMetadataHolder } from './metadata';
import type { ICartoCredentialsManager } from './manager';
import { accountChoices, chooseNotebookAccount } from './notebookAccount';

export class NotebookAccountSelector extends Widget {
  constructor(options: NotebookAccountSelector.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans;
    this._path = options.path;
    this._metadata = options.metadata;
    this._warn = options.warn ?? (m => void Notification.warning(m));
    this.addClass('jp-CartoCredentials-notebookAccount');
    const label = document.createElement('label');
    this._select = document.createElement('select');
    this._select.id = DOMUtils.createDomID();
    label.htmlFor = this._select.id;
    label.className = 'jp-CartoCredentials-notebookAccountLabel';
    label.textContent = this._trans.__('CARTO');
    this._select.className = 'jp-CartoCredentials-select';
    this._select.setAttribute(
      'aria-label',
      this._trans.__('CARTO account for this notebook')
    );
    this._select.title = this._trans.__(
      'CARTO account used by this notebook (saved in the notebook as an account id only)'
    );
    this._select.addEventListener('change', () => this._onSelect());
    this.node.append(label, this._select);
    this._model.accountsChanged.connect(this.render, this);
    this._model.defaultChanged.connect(this.render, this);
    this._model.notebookAccountChanged.connect(this.render, this);
    this._model.codeCredentialsChanged.connect(this.render, this);
    this.render();
  }

  get select(): HTMLSelectElement {
    return this._select;
  }

  /** Rebuild the options from the model; warns once when the notebook's account is missing. */
  render(): void {
    const path = this._path();
    const chosen = this._model.notebookAccountId(path);
    const { missingId } = this._model.effectiveAccount(path);
    const options = accountChoices(this._model, this._trans).map(choice => {
      const option = document.createElement('option');
      option.value = choice.id ?? '';
      option.textContent = choice.label;
      return option;
    });
    if (missingId !== null) {
      const option = document.createElement('option');
      option.value = missingId;
      option.disabled = true;
      option.textContent = this._trans.__('Missing account (using default)');
      options.push(option);
    }
    this._select.replaceChildren(...options);
    this._select.value = chosen ?? '';
    this.toggleClass('jp-mod-warning', missingId !== null);
    if (missingId !== null && !this._warned.has(missingId)) {
      this._warned.add(missingId);
      const fallback = this._model.defaultAccount;
      this._warn(
        fallback
          ? this._trans.__(
              'Notebook "%1" uses a CARTO account you do not have; it falls back to your default account (%2).',
              path,
              fallback.label
            )
          : this._trans.__(
              'Notebook "%1" uses a CARTO account you do not have, and you have no default account: log in to CARTO.',
              path
            )
      );
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.accountsChanged.disconnect(this.render, this);
    this._model.defaultChanged.disconnect(this.render, this);
    this._model.notebookAccountChanged.disconnect(this.render, this);
    this._model.codeCredentialsChanged.disconnect(this.render, this);
    super.dispose();
  }

  private _onSelect(): void {
    const value = this._select.value;
    chooseNotebookAccount(
      this._model,
      this._path(),
      this._metadata(),
      value === '' ? null : value
    );
  }

  private readonly _model: ICartoCredentialsManager;
  private readonly _trans: TranslationBundle;
  private readonly _path: () => string;
  private readonly _metadata: () => IMetadataHolder | null;
  private readonly _warn: (message: string) => void;
  private readonly _select: HTMLSelectElement;
  private readonly _warned = new Set<string>();
}

export namespace NotebookAccountSelector {
  export interface IOptions {
    model: ICartoCredentialsManager;
    trans: TranslationBundle;
    /** The notebook's current path (it changes on rename). */
    path: () => string;
    /** Where the notebook keeps its choice. */
    metadata: () => IMetadataHolder | null;
    /** Shows the missing-account warning; a notification by default. */
    warn?: (message: string) => void;
  }
}
