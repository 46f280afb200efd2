/**
 * The kernel bridge: one per notebook or console session. It is the only code that talks to
 * kernels. Credentials travel in the comm *open* message (ordered before any later
 * `execute_request`), are pushed again on every (re)connection, and code-set credentials flow back.
 * Measured mechanics: `shared/reference/comm-mechanics.md`.
 */
import { CommsOverSubshells } from '@jupyterlab/services';
import type { JSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICartoCredentialsManager } from './manager';
import { COMM_TARGET, parseKernelMessage } from './protocol';
import { OutgoingMessage, PushContent, setCredentialsMessage } from './push';

export { OutgoingMessage, PushContent, setCredentialsMessage } from './push';

/** The slice of a comm the bridge uses (a real `Kernel.IComm` fits). */
export interface ICommLike {
  readonly isDisposed: boolean;
  commsOverSubshells?: CommsOverSubshells;
  // Method syntax: a real `Kernel.IComm`, whose handlers take full message types, must fit.
  onMsg(msg: { content: { data: unknown } }): void;
  onClose(msg: { content: { data: unknown } }): void;
  open(data?: JSONObject): unknown;
  send(data: JSONObject): unknown;
}

export type ConnectionStatus = 'connected' | 'connecting' | 'disconnected';

/** The slice of a kernel connection the bridge uses. */
export interface IKernelLike {
  readonly id: string;
  readonly connectionStatus: ConnectionStatus;
  readonly connectionStatusChanged: ISignal<unknown, ConnectionStatus>;
  /** The kernel's `kernel_info` reply (its language decides whether to bootstrap). */
  readonly info: Promise<{ readonly language_info: { readonly name: string } }>;
  createComm(targetName: string): ICommLike;
  requestExecute(content: {
    code: string;
    silent: boolean;
    store_history: boolean;
  }): unknown;
}

/** The slice of a session context the bridge uses. */
export interface ISessionContextLike {
  readonly path: string;
  readonly session: { readonly kernel: IKernelLike | null } | null;
  readonly kernelChanged: ISignal<unknown, { newValue: IKernelLike | null }>;
}

export class KernelBridge implements IDisposable {
  constructor(options: KernelBridge.IOptions) {
    this._context = options.sessionContext;
    this._model = options.model;
    this._context.kernelChanged.connect(this._onKernelChanged, this);
    this._model.accountsChanged.connect(this._onAnyNotebookChanged, this);
    this._model.defaultChanged.connect(this._onAnyNotebookChanged, this);
    this._model.settingsChanged.connect(this._onAnyNotebookChanged, this);
    this._model.notebookAccountChanged.connect(this._onNotebookChanged, this);
    this._model.grantsChanged.connect(this._onNotebookChanged, this);
    this._attach(this._context.session?.kernel ?? null);
  }

  /** Emitted after each push reached the comm; for status displays and tests. */
  get pushed(): ISignal<this, OutgoingMessage['state']> {
    return this._pushed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Push the current credentials now (e.g. after the user changed this notebook's account). */
  async push(force = false): Promise<void> {
    const kernel = this._kernel;
    if (!kernel || kernel.connectionStatus !== 'connected') {
      return;
    }
    const ticket = ++this._ticket;
    const path = this._context.path;
    this._model.registerKernel(kernel.id, path);
    let payload: PushContent;
    try {
      payload = await this._model.pushPayload(path);
    } catch (reason) {
      console.warn(
        'CARTO credentials: could not read the account key.',
        reason
      );
      payload = { state: 'no_account' as const, account: null };
    }
    // A newer push or a kernel change overtook this one while the key was being fetched.
    if (
      ticket !== this._ticket ||
      kernel !== this._kernel ||
      this._isDisposed
    ) {
      return;
    }
    const message = setCredentialsMessage(payload, path, kernel.id);
    const fingerprint = JSON.stringify(message);
    const comm = this._comm;
    if (comm && !comm.isDisposed) {
      if (!force && fingerprint === this._lastSent) {
        return;
      }
      comm.send(message as unknown as JSONObject);
    } else {
      this._open(kernel, message);
    }
    this._lastSent = fingerprint;
    this._pushed.emit(message.state);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (this._kernel) {
      this._model.unregisterKernel(this._kernel.id);
    }
    this._detach();
    Signal.clearData(this);
  }

  private _open(kernel: IKernelLike, message: OutgoingMessage): void {
    const comm = kernel.createComm(COMM_TARGET);
    // Set before any await: keeps this comm on the main shell, ordered with execute requests.
    comm.commsOverSubshells = CommsOverSubshells.Disabled;
    let heardBack = false;
    comm.onMsg = msg => {
      heardBack = true;
      this._onKernelMessage(kernel, msg.content.data);
    };
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
      }
      // Closed straight back: the kernel has no target yet. Bootstrap once, then push again.
      if (
        !heardBack &&
        !this._bootstrapped.has(kernel.id) &&
        kernel === this._kernel
      ) {
        this._bootstrapped.add(kernel.id);
        void this._bootstrap(kernel);
      }
    };
    this._comm = comm;
    comm.open(message as unknown as JSONObject);
  }

  /**
   * The kernel has no comm target: its startup file did not run (another environment, with or
   * without the package). Run the server's bootstrap silently, then push again.
   */
  private async _bootstrap(kernel: IKernelLike): Promise<void> {
    // Other languages' kernels refuse the comm too; they get no Python.
    const language = await kernel.info.then(
      info => info.language_info.name,
      () => ''
    );
    if (language.toLowerCase() !== 'python') {
      return;
    }
    const code = await this._model.kernelBootstrap();
    if (!code || kernel !== this._kernel || this._isDisposed) {
      return;
    }
    kernel.requestExecute({ code, silent: true, store_history: false });
    await this.push(true);
  }

  private _onKernelMessage(kernel: IKernelLike, data: unknown): void {
    const message = parseKernelMessage(data);
    if (!message) {
      console.warn(
        'CARTO credentials: ignored a malformed message from the kernel.'
      );
      return;
    }
    if (message.type === 'credentials_changed') {
      this._model.setRuntimeCredentials(kernel.id, message.credentials);
    } else if (message.type === 'register_credentials') {
      this._model.registerRuntimeReference(
        kernel.id,
        message.ref,
        message.credentials
      );
    }
  }

  private _onKernelChanged(
    _: unknown,
    args: { newValue: IKernelLike | null }
  ): void {
    this._attach(args.newValue);
  }

  private _attach(kernel: IKernelLike | null): void {
    if (kernel === this._kernel) {
      // A user restart fires kernelChanged with the same connection: the
      // connectionStatusChanged handler does the re-push.
      return;
    }
    this._detach();
    this._kernel = kernel;
    if (!kernel) {
      return;
    }
    kernel.connectionStatusChanged.connect(this._onConnectionStatus, this);
    if (kernel.connectionStatus === 'connected') {
      void this.push(true);
    }
  }

  private _detach(): void {
    const kernel = this._kernel;
    if (kernel) {
      kernel.connectionStatusChanged.disconnect(this._onConnectionStatus, this);
      this._model.unregisterKernel(kernel.id);
    }
    this._kernel = null;
    this._comm = null;
    this._lastSent = null;
  }

  private _onConnectionStatus(_: unknown, status: ConnectionStatus): void {
    if (status === 'connected') {
      // Start, restart, auto-restart or reconnect: the kernel may have lost everything,
      // including a bootstrapped comm target.
      this._bootstrapped.clear();
      void this.push(true);
    }
  }

  /** The accounts, the default or the preferences changed: every notebook may get new ones. */
  private _onAnyNotebookChanged(): void {
    void this.push();
  }

  /** A notebook's choice or access answer changed: push if it is this one. */
  private _onNotebookChanged(_: unknown, path: string): void {
    if (path === this._context.path) {
      void this.push();
    }
  }

  private readonly _context: ISessionContextLike;
  private readonly _model: ICartoCredentialsManager;
  private _kernel: IKernelLike | null = null;
  private _comm: ICommLike | null = null;
  private _lastSent: string | null = null;
  private _ticket = 0;
  private readonly _bootstrapped = new Set<string>();
  private readonly _pushed = new Signal<this, OutgoingMessage['state']>(this);
  private _isDisposed = false;
}

export namespace KernelBridge {
  export interface IOptions {
    sessionContext: ISessionContextLike;
    model: ICartoCredentialsManager;
  }
}
