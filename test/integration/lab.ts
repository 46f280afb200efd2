/**
 * The frontend half of the integration tests: real `@jupyterlab/services` managers, real
 * `SessionContext`s, the real `KernelBridge`, `CartoCredentialsModel` and `RestAccountStore`,
 * talking to a `JupyterServerProcess`.
 */
import { SessionContext } from '@jupyterlab/apputils';
import {
  CommsOverSubshells,
  Kernel,
  KernelManager,
  KernelMessage,
  KernelSpecManager,
  ServerConnection,
  SessionManager
} from '@jupyterlab/services';

import { KernelBridge } from '../../src/bridge';
import { RestCarto3Store } from '../../src/carto3Rest';
import { COMM_TARGET } from '../../src/protocol';
import { CartoCredentialsModel } from '../../src/model';
import { RestAccountStore } from '../../src/rest';
import { DEFAULT_SETTINGS, ISettingsConfig } from '../../src/settings';
import type { JupyterServerProcess } from './server';
import { waitFor } from './server';

export function serverSettings(
  server: JupyterServerProcess
): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: server.url,
    wsUrl: server.wsUrl,
    token: server.token,
    appendToken: true,
    // The Node client (mapped past jsdom's browser stub in jest.integration.config.js).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    WebSocket: require('ws') as typeof globalThis.WebSocket,
    fetch: globalThis.fetch.bind(globalThis),
    Request: globalThis.Request,
    Headers: globalThis.Headers
  });
}

/** How a "page" talks to its kernels: which kernelspec, and JupyterLab's comms-over-subshells setting. */
export interface ILabOptions {
  /** Kernelspec of every notebook this page opens (default `python3`: ipykernel 7 of `.venv`). */
  kernelName?: string;
  /**
   * *Settings → Kernels → Kernel Comms over subshells* (`@jupyterlab/apputils-extension:
   * kernels-settings`, `commsOverSubshells`). Default: services' own default, `perCommTarget`.
   */
  commsOverSubshells?: CommsOverSubshells;
  /** Give the model the server's CARTO 3 routes (as JupyterLab does when the server has them). */
  carto3?: boolean;
}

/** One "JupyterLab page": managers, the model and every open notebook. */
export class Lab {
  readonly settings: ServerConnection.ISettings;
  readonly kernelManager: KernelManager;
  readonly sessionManager: SessionManager;
  readonly specsManager: KernelSpecManager;
  readonly model: CartoCredentialsModel;
  readonly notebooks: Notebook[] = [];
  readonly kernelName: string;

  constructor(
    server: JupyterServerProcess,
    config: Partial<ISettingsConfig>,
    options: ILabOptions = {}
  ) {
    this.settings = serverSettings(server);
    this.kernelName = options.kernelName ?? 'python3';
    this.kernelManager = new KernelManager({ serverSettings: this.settings });
    if (options.commsOverSubshells !== undefined) {
      // What JupyterLab's `@jupyterlab/apputils-extension:subshell-settings` plugin does with the
      // setting: `app.serviceManager.kernels.commsOverSubshells = composite`. Every connection
      // the manager makes (KernelManager.connectTo, used by the session manager) inherits it.
      this.kernelManager.commsOverSubshells = options.commsOverSubshells;
    }
    this.sessionManager = new SessionManager({
      serverSettings: this.settings,
      kernelManager: this.kernelManager
    });
    this.specsManager = new KernelSpecManager({
      serverSettings: this.settings
    });
    this.model = new CartoCredentialsModel({
      store: new RestAccountStore(this.settings),
      carto3: options.carto3 ? new RestCarto3Store(this.settings) : undefined
    });
    this.model.configure({ ...DEFAULT_SETTINGS, ...config });
  }

  async ready(): Promise<this> {
    await Promise.all([
      this.kernelManager.ready,
      this.sessionManager.ready,
      this.specsManager.ready,
      this.model.refresh()
    ]);
    return this;
  }

  /** Open a notebook: a session with this page's kernel and, unless `bridge` is false, a bridge. */
  async open(path: string, bridge = true): Promise<Notebook> {
    const context = new SessionContext({
      sessionManager: this.sessionManager,
      specsManager: this.specsManager,
      path,
      name: path,
      type: 'notebook',
      kernelPreference: { name: this.kernelName }
    });
    const notebook = new Notebook(context, bridge ? this.model : null);
    this.notebooks.push(notebook);
    await context.initialize();
    await waitFor(
      () => context.session?.kernel?.connectionStatus === 'connected',
      30000,
      `the kernel of ${path} to connect`
    );
    return notebook;
  }

  async dispose(): Promise<void> {
    for (const notebook of this.notebooks.splice(0)) {
      await notebook.shutdown();
    }
    this.model.dispose();
    this.sessionManager.dispose();
    this.kernelManager.dispose();
    this.specsManager.dispose();
  }
}

/** A message this page sent to a kernel, in the order services queued it for the websocket. */
export interface ISentMessage {
  type: string;
  /** Our `carto.credentials` comm (its `comm_open`, `comm_msg` or `comm_close`). */
  carto: boolean;
  /** `header.subshell_id`: null means the kernel's main shell. */
  subshellId: string | null;
  silent: boolean;
}

export class Notebook {
  readonly bridge: KernelBridge | null;
  /** Every state the bridge pushed, in order. */
  readonly pushes: string[] = [];
  /** Every shell/control message sent to this notebook's kernels (all connections), in order. */
  readonly sent: ISentMessage[] = [];

  constructor(
    readonly context: SessionContext,
    model: CartoCredentialsModel | null
  ) {
    // Connected before the bridge: the bridge opens its comm in reaction to the same signal.
    context.kernelChanged.connect((_, { newValue }) =>
      newValue?.anyMessage.connect(this._onAnyMessage, this)
    );
    this.bridge = model
      ? new KernelBridge({
          sessionContext: context,
          model
        })
      : null;
    this.bridge?.pushed.connect((_, state) => this.pushes.push(state));
  }

  /**
   * From `sent[from]` on: where the first push (our `comm_open` or `comm_msg`) and the first
   * non-silent `execute_request` are; -1 when absent.
   */
  order(from = 0): { push: number; execute: number } {
    const rest = this.sent.slice(from);
    const at = (i: number) => (i < 0 ? -1 : from + i);
    return {
      push: at(
        rest.findIndex(
          m => m.carto && (m.type === 'comm_open' || m.type === 'comm_msg')
        )
      ),
      execute: at(
        rest.findIndex(m => m.type === 'execute_request' && !m.silent)
      )
    };
  }

  private _onAnyMessage(
    _: Kernel.IKernelConnection,
    { msg, direction }: Kernel.IAnyMessageArgs
  ): void {
    if (direction !== 'send') {
      return;
    }
    const content = msg.content as {
      comm_id?: string;
      target_name?: string;
      silent?: boolean;
    };
    const type = msg.header.msg_type;
    if (type === 'comm_open' && content.target_name === COMM_TARGET) {
      this._cartoComms.add(content.comm_id!);
    }
    this.sent.push({
      type,
      carto:
        content.comm_id !== undefined && this._cartoComms.has(content.comm_id),
      subshellId:
        (msg.header as { subshell_id?: string | null }).subshell_id ?? null,
      silent: content.silent === true
    });
  }

  private readonly _cartoComms = new Set<string>();

  get kernel(): Kernel.IKernelConnection {
    const kernel = this.context.session?.kernel;
    if (!kernel) {
      throw new Error(`${this.context.path} has no kernel`);
    }
    return kernel;
  }

  /** Resolve once the bridge has pushed more than `count` times. */
  waitForPush(count: number, timeoutMs = 15000): Promise<boolean> {
    return waitFor(
      () => this.pushes.length > count,
      timeoutMs,
      `push #${count + 1} to ${this.context.path}`
    );
  }

  /** Run a cell; its stdout (stderr and tracebacks are appended, so failures are visible). */
  run(code: string, kernel = this.kernel): Promise<string> {
    return execute(kernel, code);
  }

  /** What `get_default_credentials()` answers: `"<username> <source>"`. */
  whoami(kernel = this.kernel): Promise<string> {
    return evaluate(kernel, WHOAMI_IMPORTS, { who: WHOAMI_EXPRESSION }).then(
      values => values.who
    );
  }

  async shutdown(): Promise<void> {
    this.bridge?.dispose();
    if (!this.context.isDisposed) {
      try {
        await this.context.shutdown();
      } catch {
        // Already gone.
      }
      this.context.dispose();
    }
  }
}

export const WHOAMI_IMPORTS = [
  'from carto_credentials import get_default_credentials',
  'from carto_credentials.defaults import default_credentials_source'
].join('\n');

/** After `WHOAMI_IMPORTS`: `"<username> <source>"`, the precedence level that answered. */
export const WHOAMI_EXPRESSION =
  '"%s %s" % (getattr(get_default_credentials(), "username", None), default_credentials_source())';

/** First cell of the brief, printing `WHOAMI_EXPRESSION`. */
export const WHOAMI = `${WHOAMI_IMPORTS}\nprint(${WHOAMI_EXPRESSION})`;

/**
 * Run `code`, then read each of `expressions` from the execute_reply's `user_expressions`, as
 * plain text (a Python `str` without its quotes). The reply comes on the shell channel, which a
 * kernel restart does not lose; IOPub output published before jupyter_server has subscribed to
 * the restarted kernel is lost (ZeroMQ's slow joiner), so `execute()` can miss it there.
 *
 * Rejects with the error, or with the stream output, when `code` or an expression fails.
 */
export async function evaluate<K extends string>(
  kernel: Kernel.IKernelConnection,
  code: string,
  expressions: Record<K, string>,
  timeoutMs = 30000
): Promise<Record<K, string>> {
  const future = kernel.requestExecute({
    code,
    store_history: false,
    user_expressions: expressions
  });
  let out = '';
  future.onIOPub = msg => {
    if (KernelMessage.isStreamMsg(msg)) {
      out += msg.content.text;
    }
  };
  const reply = await withTimeout(future.done, timeoutMs, code);
  const content = reply.content;
  if (content.status !== 'ok') {
    const failure =
      content.status === 'error'
        ? `${content.ename}: ${content.evalue}`
        : content.status;
    throw new Error(`cell failed: ${failure}\n${out}`);
  }
  const values = {} as Record<K, string>;
  for (const name of Object.keys(expressions) as K[]) {
    const value = content.user_expressions[name] as
      | { status: 'ok'; data: { 'text/plain': string } }
      | { status: 'error'; ename: string; evalue: string };
    if (value?.status !== 'ok') {
      throw new Error(
        `expression ${name} failed: ${value ? `${value.ename}: ${value.evalue}` : 'missing'}`
      );
    }
    values[name] = value.data['text/plain'].replace(/^'(.*)'$/s, '$1');
  }
  return values;
}

function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  code: string
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`cell timed out: ${code}`)),
        timeoutMs
      );
    })
  ]).finally(() => clearTimeout(timer));
}

export async function execute(
  kernel: Kernel.IKernelConnection,
  code: string,
  timeoutMs = 30000
): Promise<string> {
  const future = kernel.requestExecute({ code, store_history: false });
  let out = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (KernelMessage.isStreamMsg(msg)) {
      out += msg.content.text;
    } else if (KernelMessage.isErrorMsg(msg)) {
      out += `${msg.content.ename}: ${msg.content.evalue}`;
    }
  };
  await withTimeout(future.done, timeoutMs, code);
  return out;
}
