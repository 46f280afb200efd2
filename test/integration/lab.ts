/**
 * The frontend half of the integration tests: real `@jupyterlab/services` managers, real
 * `SessionContext`s, the real `KernelBridge`, `CartoCredentialsModel` and `RestAccountStore`,
 * talking to a `JupyterServerProcess`.
 */
import { SessionContext } from '@jupyterlab/apputils';
import {
  Kernel,
  KernelManager,
  KernelMessage,
  KernelSpecManager,
  ServerConnection,
  SessionManager
} from '@jupyterlab/services';

import { KernelBridge } from '../../src/bridge';
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

/** One "JupyterLab page": managers, the model and every open notebook. */
export class Lab {
  readonly settings: ServerConnection.ISettings;
  readonly kernelManager: KernelManager;
  readonly sessionManager: SessionManager;
  readonly specsManager: KernelSpecManager;
  readonly model: CartoCredentialsModel;
  readonly notebooks: Notebook[] = [];

  constructor(server: JupyterServerProcess, config: Partial<ISettingsConfig>) {
    this.settings = serverSettings(server);
    this.kernelManager = new KernelManager({ serverSettings: this.settings });
    this.sessionManager = new SessionManager({
      serverSettings: this.settings,
      kernelManager: this.kernelManager
    });
    this.specsManager = new KernelSpecManager({
      serverSettings: this.settings
    });
    this.model = new CartoCredentialsModel({
      store: new RestAccountStore(this.settings)
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

  /** Open a notebook: a session with a python3 kernel and, unless `bridge` is false, a bridge. */
  async open(path: string, bridge = true): Promise<Notebook> {
    const context = new SessionContext({
      sessionManager: this.sessionManager,
      specsManager: this.specsManager,
      path,
      name: path,
      type: 'notebook',
      kernelPreference: { name: 'python3' }
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

export class Notebook {
  readonly bridge: KernelBridge | null;
  /** Every state the bridge pushed, in order. */
  readonly pushes: string[] = [];

  constructor(
    readonly context: SessionContext,
    model: CartoCredentialsModel | null
  ) {
    this.bridge = model
      ? new KernelBridge({
          sessionContext: context,
          model
        })
      : null;
    this.bridge?.pushed.connect((_, state) => this.pushes.push(state));
  }

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
    return execute(kernel, WHOAMI).then(out => out.trim());
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

/** First cell of the brief, plus the precedence level that answered. */
export const WHOAMI = [
  'from carto_credentials import get_default_credentials',
  'from carto_credentials.defaults import default_credentials_source',
  'c = get_default_credentials()',
  'print(c.username if c else None, default_credentials_source())'
].join('\n');

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
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      future.done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cell timed out: ${code}`)),
          timeoutMs
        );
      })
    ]);
  } finally {
    clearTimeout(timer);
  }
  return out;
}
