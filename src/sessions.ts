/**
 * Gives every notebook and console its kernel bridge, keeps the model in step with each
 * notebook's metadata and path, and asks for access when the policy says so.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { KernelBridge } from './bridge';
import { IMetadataHolder, readAccountId } from './metadata';
import { concernSignals, type ICartoCredentialsManager } from './manager';
import type { GrantDecision } from './rest';

/** A notebook or console panel, as far as this module is concerned. */
export interface ISessionWidget {
  readonly sessionContext: ISessionContext;
  readonly isDisposed: boolean;
  readonly disposed: { connect(slot: () => void): boolean };
}

/** Where a notebook keeps its account choice; consoles have none. */
export type MetadataSource = () => IMetadataHolder | null;

export type AskGrant = (
  path: string,
  accountLabel: string
) => Promise<GrantDecision | null>;

export class SessionWatcher implements IDisposable {
  constructor(
    private readonly _model: ICartoCredentialsManager,
    private readonly _askGrant: AskGrant
  ) {
    // Any change may make a notebook need an answer (a new default, a choice, a revoked grant…).
    for (const signal of concernSignals(_model)) {
      signal.connect(this._onModelChanged, this);
    }
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The bridge of a widget, if it has one. */
  bridgeFor(widget: ISessionWidget): KernelBridge | undefined {
    return this._bridges.get(widget);
  }

  /** Start bridging a notebook or console panel. */
  watch(widget: ISessionWidget, metadata: MetadataSource = () => null): void {
    if (this._bridges.has(widget) || widget.isDisposed) {
      return;
    }
    const context = widget.sessionContext;
    let path = context.path;
    const holder = metadata();
    if (holder) {
      this._model.setNotebookAccount(path, readAccountId(holder));
    }
    const bridge = new KernelBridge({
      sessionContext: context,
      model: this._model
    });
    this._bridges.set(widget, bridge);
    const onPath = (_: unknown, property: string) => {
      if (property === 'path' && context.path !== path) {
        this._model.renameNotebook(path, context.path);
        path = context.path;
      }
    };
    context.propertyChanged.connect(onPath);
    widget.disposed.connect(() => {
      context.propertyChanged.disconnect(onPath);
      bridge.dispose();
      this._bridges.delete(widget);
    });
    // Ask once the session is up: by then a command that created this notebook or console
    // has granted it (its result comes after the widget is added).
    void context.ready.then(() => this._maybeAsk(context.path));
  }

  /** A notebook created in this JupyterLab is the user's own: allow it without asking. */
  async grantCreated(path: string): Promise<void> {
    if (this._model.settings.kernelAccess === 'ask') {
      await this._model.setGrant(path, 'allow');
    }
  }

  /**
   * Follow a command that ran: when it created a notebook or a console, grant what it created.
   * `result` is the command's result (the new panel).
   */
  async grantIfCreated(commandId: string, result: unknown): Promise<void> {
    if (!SessionWatcher.CREATE_COMMANDS.includes(commandId)) {
      return;
    }
    const path = (result as { sessionContext?: { path?: unknown } } | null)
      ?.sessionContext?.path;
    if (typeof path === 'string' && path !== '') {
      await this.grantCreated(path);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const bridge of this._bridges.values()) {
      bridge.dispose();
    }
    this._bridges.clear();
    Signal.clearData(this);
  }

  private _onModelChanged(): void {
    for (const widget of this._bridges.keys()) {
      void this._maybeAsk(widget.sessionContext.path);
    }
  }

  private async _maybeAsk(path: string): Promise<void> {
    await this._model.ready;
    const { account } = this._model.effectiveAccount(path);
    if (
      !account ||
      account.isPublic ||
      this._model.accessFor(path) !== 'undecided' ||
      this._asking.has(path) ||
      this._dismissed.has(path)
    ) {
      return;
    }
    this._asking.add(path);
    try {
      const decision = await this._askGrant(path, account.label);
      if (decision) {
        await this._model.setGrant(path, decision);
      } else {
        // Closed without answering: do not nag again while this notebook stays open.
        this._dismissed.add(path);
      }
    } finally {
      this._asking.delete(path);
    }
  }

  private readonly _bridges = new Map<ISessionWidget, KernelBridge>();
  private readonly _asking = new Set<string>();
  private readonly _dismissed = new Set<string>();
  private _isDisposed = false;
}

export namespace SessionWatcher {
  /** Commands whose result is a notebook or console the user just created here. */
  export const CREATE_COMMANDS = [
    'notebook:create-new',
    'console:create',
    'notebook:create-console'
  ];
}
