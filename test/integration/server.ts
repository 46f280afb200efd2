/**
 * A real jupyter_server 2 (`.venv/bin/python -m jupyter_server`, as pip installs it; its kernels —
 * kernelspecs `python3` (ipykernel 7), `python3-ipykernel6` (6.29) — run the startup file that
 * registers `carto.credentials`) with the carto_credentials server extension, under a
 * JupyterHub-style base URL and a token, in isolated Jupyter/IPython/HOME directories.
 * Optionally the local CARTO API (tools/carto_api) for validation.
 *
 * Both are child processes stopped by their PID; nothing here kills by name.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The bench bundles this file elsewhere and names the repository in CARTO_REPO_ROOT.
export const REPO_ROOT =
  process.env.CARTO_REPO_ROOT ?? path.resolve(__dirname, '..', '..');
export const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

/** Resolve when `check` returns a truthy value; reject after `timeoutMs`. Polls, never sleeps blindly. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  intervalMs = 25
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value) {
        return value as NonNullable<T>;
      }
    } catch (reason) {
      lastError = reason;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError ? `: ${String(lastError)}` : '')
      );
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

async function stopProcess(proc: ChildProcess | null): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>(resolve =>
    proc.once('exit', () => resolve())
  );
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

export interface IServerOptions {
  /** Default `/user/alice/`. */
  baseUrl?: string;
  /** Extra `--Foo.bar=…` arguments. */
  args?: string[];
  /** Extra environment for the server (and so its kernels). */
  env?: Record<string, string>;
  /** Default DEBUG: successful requests are logged too, so the leak scan reads them. */
  logLevel?: string;
}

export class JupyterServerProcess {
  readonly root: string;
  readonly baseUrl: string;
  readonly token = randomBytes(16).toString('hex');
  readonly dirs: Record<
    'config' | 'data' | 'runtime' | 'home' | 'ipython' | 'xdg' | 'notebooks',
    string
  >;
  readonly logPath: string;
  port = 0;
  proc: ChildProcess | null = null;

  constructor(private readonly _options: IServerOptions = {}) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-it-'));
    this.baseUrl = _options.baseUrl ?? '/user/alice/';
    const dir = (name: string) => {
      const full = path.join(this.root, name);
      fs.mkdirSync(full, { recursive: true });
      return full;
    };
    this.dirs = {
      config: dir('config'),
      data: dir('data'),
      runtime: dir('runtime'),
      home: dir('home'),
      ipython: dir('ipython'),
      xdg: dir('xdg_config'),
      notebooks: dir('notebooks')
    };
    this.logPath = path.join(this.root, 'server.log');
  }

  /** The account store file: the only place where keys may rest. */
  get storePath(): string {
    return path.join(this.dirs.data, 'carto_credentials', 'accounts.json');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.baseUrl}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}${this.baseUrl}`;
  }

  // 90 s: on 2 cores shared with other jobs (load average > 15) jupyter_server 2 took 24 s once.
  async start(timeoutMs = 90000): Promise<this> {
    this.port = await freePort();
    // The checkout is on the venvs' paths through a .pth file (scripts/setup.sh); no inherited
    // PYTHONPATH, which would leak into every kernel, including one of an environment without the
    // package. Only `options.env` may set one (the bench, to measure another tree's package).
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>)
    };
    delete env.PYTHONPATH;
    delete env.CARTO_USERNAME;
    delete env.CARTO_API_KEY;
    delete env.CARTO_BASE_URL;
    Object.assign(
      env,
      {
        JUPYTER_CONFIG_DIR: this.dirs.config,
        JUPYTER_DATA_DIR: this.dirs.data,
        JUPYTER_RUNTIME_DIR: this.dirs.runtime,
        HOME: this.dirs.home,
        IPYTHONDIR: this.dirs.ipython,
        XDG_CONFIG_HOME: this.dirs.xdg
      },
      this._options.env ?? {}
    );
    const args = [
      '-m',
      'jupyter_server',
      "--ServerApp.jpserver_extensions={'carto_credentials': True}",
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${this.port}`,
      '--ServerApp.port_retries=0',
      `--ServerApp.token=${this.token}`,
      '--ServerApp.allow_root=True',
      '--ServerApp.open_browser=False',
      `--ServerApp.base_url=${this.baseUrl}`,
      `--ServerApp.root_dir=${this.dirs.notebooks}`,
      `--ServerApp.log_level=${this._options.logLevel ?? 'DEBUG'}`,
      ...(this._options.args ?? [])
    ];
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(VENV_PYTHON, args, {
      cwd: this.root,
      env,
      stdio: ['ignore', log, log]
    });
    fs.closeSync(log);
    const proc = this.proc;
    try {
      const state = await waitFor(
        async () => {
          if (proc.exitCode !== null) {
            return 'exited';
          }
          const response = await fetch(`${this.url}api/status`, {
            headers: { Authorization: `token ${this.token}` }
          });
          return response.status === 200 ? 'up' : '';
        },
        timeoutMs,
        'jupyter_server /api/status'
      );
      if (state === 'exited') {
        throw new Error(`jupyter_server exited with ${proc.exitCode}`);
      }
    } catch (reason) {
      await this.stop();
      throw new Error(`${String(reason)}\n${this.log().slice(-4000)}`);
    }
    return this;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf-8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc);
    this.proc = null;
  }

  /** Delete the temp tree (after `stop`); `CARTO_KEEP_TEST_DIRS=1` keeps it for a post-mortem. */
  cleanup(): void {
    if (process.env.CARTO_KEEP_TEST_DIRS) {
      return;
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The local CARTO-compatible API (`tools/carto_api`), on a free port. */
export class CartoApiProcess {
  /** `args`: extra command-line options (`--m2m-token-lifetime 6`, …). */
  constructor(private readonly _args: string[] = []) {}

  proc: ChildProcess | null = null;
  port = 0;
  private readonly _readyFile = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'carto-api-')),
    'port'
  );

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** On-premises style base URL of a demo user. */
  userUrl(name: string): string {
    return `${this.url}user/${name}/`;
  }

  async start(timeoutMs = 15000): Promise<this> {
    this.proc = spawn(
      VENV_PYTHON,
      [
        '-m',
        'tools.carto_api',
        '--port',
        '0',
        '--ready-file',
        this._readyFile,
        ...this._args
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] }
    );
    const text = await waitFor(
      () => {
        if (this.proc?.exitCode !== null) {
          throw new Error('tools.carto_api exited');
        }
        const content = fs.existsSync(this._readyFile)
          ? fs.readFileSync(this._readyFile, 'utf-8')
          : '';
        return /^\d+\n$/.test(content) ? content : '';
      },
      timeoutMs,
      'the local CARTO API ready file'
    );
    this.port = Number(text.trim());
    return this;
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc);
    this.proc = null;
    fs.rmSync(path.dirname(this._readyFile), { recursive: true, force: true });
  }
}

export async function freePort(): Promise<number> {
  const net = await import('net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every regular file under `root` (following no symlinks). */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (entry.isFile()) {
        out.push(full);
      }
    }
  };
  walk(root);
  return out;
}
