// Browser test harness: the real `jupyter lab` (JupyterLab 4.6) or `jupyter notebook`
// (Notebook 7) of the dev venv, real kernels, and headless Debian Chromium through
// playwright-core.
//
//   const lab = await startLab({ env: { CARTO_API_URL: ... } });
//   const browser = await launchBrowser();
//   await openLab(browser.page, lab);
//   await newNotebook(browser.page);
//   const out = await runCell(browser.page, 'print(1 + 1)');
//   await browser.close(); await lab.stop();
//
// Or all of it with the local CARTO API (tools/carto_api), as the CARTO tests start it:
//
//   const session = await startSession({ lab: api => ({ env: ... }) });
//   await newNotebook(session.page);
//   ...
//   await session.stop();

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..'
);
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'artifacts');
export const EXTENSION_NAME = 'jupyterlab-carto-credentials';
const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

/** The Python that runs the server (and its `python3` kernel): the dev venv. */
export function defaultPython() {
  if (process.env.CARTO_LAB_PYTHON) {
    return process.env.CARTO_LAB_PYTHON;
  }
  return VENV_PYTHON;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function normalizeBaseUrl(baseUrl) {
  let url = baseUrl || '/';
  if (!url.startsWith('/')) {
    url = '/' + url;
  }
  if (!url.endsWith('/')) {
    url += '/';
  }
  return url;
}

// Servers still running when this process exits (a failing test that never
// reached stop(), Ctrl-C): stop them and their kernels by PID.
const liveServers = new Map();
function killLiveServers() {
  for (const [pid, kernels] of liveServers) {
    for (const p of [pid, ...kernels()]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  liveServers.clear();
}
process.on('exit', killLiveServers);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killLiveServers();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of a process (kernels of the server), read from /proc. */
function childPids(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the ")" that closes the command name: state, ppid, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) {
        out.push(Number(entry));
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

async function waitForExit(pids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) {
    await sleep(50);
  }
  return !pids.some(isAlive);
}

/**
 * Start the real `jupyter lab` (or `jupyter notebook`, Notebook 7) of the
 * dev venv on a free loopback port with token auth and isolated
 * Jupyter/IPython/HOME/TMP directories, user settings and workspaces under a
 * per-run temp dir (so leak scans see every file the session writes).
 *
 * @param {object} [options]
 * @param {'lab' | 'notebook'} [options.app] which application to serve
 * @param {Record<string, string>} [options.env] extra environment for the
 *   server and its kernels
 * @param {string} [options.baseUrl] jupyter_server base_url, e.g. '/user/me/'
 * @param {string[]} [options.extraArgs] more jupyter_server flags
 * @param {Record<string, boolean>} [options.serverExtensions] server
 *   extensions to switch on or off (default: as configured in the venv)
 * @param {string[]} [options.labextensionsPaths] extra labextensions folders
 * @param {boolean} [options.linkExtension] make our built labextension
 *   available when the Python environment does not provide it (default true)
 * @param {string} [options.python] interpreter (default: .venv)
 * @param {number} [options.timeoutMs] how long to wait for /api/status
 */
export async function startLab(options = {}) {
  const {
    app = 'lab',
    env = {},
    extraArgs = [],
    serverExtensions = {},
    labextensionsPaths = [],
    linkExtension = true,
    python = defaultPython(),
    timeoutMs = 90000
  } = options;
  const baseUrl = normalizeBaseUrl(options.baseUrl);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-lab-'));
  const dirs = { root };
  for (const name of [
    'config',
    'data',
    'runtime',
    'home',
    'tmp',
    'ipython',
    'work',
    'settings',
    'workspaces'
  ]) {
    dirs[name] = path.join(root, name);
    fs.mkdirSync(dirs[name], { recursive: true });
  }
  dirs.log = path.join(root, 'server.log');

  if (linkExtension) {
    linkOurExtension(python, dirs.data);
  }
  // No news or update-check toast (and no request to the internet).
  writeUserSettings(
    dirs.settings,
    { fetchNews: 'false', checkForUpdates: false },
    '@jupyterlab/apputils-extension:notification'
  );

  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^(JUPYTER|JPY_|IPYTHON|PYTHONSTARTUP|PYTHONPATH|CARTO_)/.test(key)
    )
  );
  const childEnv = {
    ...inherited,
    ...env,
    JUPYTER_CONFIG_DIR: dirs.config,
    JUPYTER_DATA_DIR: dirs.data,
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    JUPYTER_PLATFORM_DIRS: '1',
    IPYTHONDIR: dirs.ipython,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    PYTHONUNBUFFERED: '1'
  };
  const token = crypto.randomBytes(24).toString('hex');

  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await spawnServer({
        app,
        python,
        port,
        token,
        baseUrl,
        dirs,
        childEnv,
        serverExtensions,
        labextensionsPaths,
        extraArgs,
        timeoutMs
      });
    } catch (err) {
      lastError = err;
      if (!err.portInUse) {
        break;
      }
    }
  }
  throw lastError;
}

/**
 * Write a plugin's user settings (`plugin` is the settings id, e.g.
 * '@jupyter-widgets/jupyterlab-manager:plugin') into a user settings dir.
 */
export function writeUserSettings(settingsDir, settings, plugin) {
  const [pkg, name] = plugin.split(':');
  const dir = path.join(settingsDir, ...pkg.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${name}.jupyterlab-settings`),
    JSON.stringify(settings)
  );
}

function linkOurExtension(python, dataDir) {
  const built = path.join(REPO_ROOT, 'carto_credentials', 'labextension');
  if (!fs.existsSync(path.join(built, 'package.json'))) {
    return;
  }
  // A venv made by scripts/setup.sh already has it (like a pip install).
  const prefix = path.resolve(path.dirname(python), '..');
  if (
    fs.existsSync(
      path.join(
        prefix,
        'share',
        'jupyter',
        'labextensions',
        EXTENSION_NAME,
        'package.json'
      )
    )
  ) {
    return;
  }
  const target = path.join(dataDir, 'labextensions', EXTENSION_NAME);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.symlinkSync(built, target);
}

async function spawnServer({
  app,
  python,
  port,
  token,
  baseUrl,
  dirs,
  childEnv,
  serverExtensions,
  labextensionsPaths,
  extraArgs,
  timeoutMs
}) {
  // The same LabServerApp settings for both front ends: each app reads its own class.
  const appSettings = ['LabApp', 'JupyterNotebookApp'].flatMap(cls => [
    `--${cls}.expose_app_in_browser=True`,
    `--${cls}.user_settings_dir=${dirs.settings}`,
    `--${cls}.workspaces_dir=${dirs.workspaces}`,
    ...labextensionsPaths.map(p => `--${cls}.extra_labextensions_path=${p}`)
  ]);
  const args = [
    '-m',
    app === 'notebook' ? 'notebook' : 'jupyterlab',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    '--ServerApp.open_browser=False',
    '--ServerApp.allow_root=True',
    `--IdentityProvider.token=${token}`,
    '--ServerApp.password=',
    `--ServerApp.base_url=${baseUrl}`,
    `--ServerApp.root_dir=${dirs.work}`,
    // Nothing reaches the internet: no PyPI extension manager, no news, no update check.
    '--LabApp.extension_manager=readonly',
    '--LabApp.news_url=None',
    '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
    ...appSettings,
    ...Object.entries(serverExtensions).map(
      ([name, enabled]) =>
        `--ServerApp.jpserver_extensions=${name}=${enabled ? 'True' : 'False'}`
    ),
    ...extraArgs
  ];
  const logStream = fs.createWriteStream(dirs.log, { flags: 'a' });
  const lines = [];
  const child = spawn(python, args, {
    cwd: dirs.work,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const collect = chunk => {
    logStream.write(chunk);
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 5000) {
      lines.splice(0, lines.length - 5000);
    }
  };
  liveServers.set(child.pid, () => childPids(child.pid));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise(resolve =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      liveServers.delete(child.pid);
      resolve(exited);
    })
  );

  const url = `http://127.0.0.1:${port}${baseUrl}`;
  const log = () => lines.join('\n');
  const started = Date.now();
  const authorization = { Authorization: `token ${token}` };

  /** fetch() a URL or a path below the base URL, with the token. */
  function authFetch(target, init = {}) {
    const href = /^https?:/.test(target) ? target : url + target;
    return fetch(href, {
      ...init,
      headers: { ...authorization, ...(init.headers ?? {}) }
    });
  }

  async function stop() {
    if (exited) {
      logStream.end();
      return exited;
    }
    const kernels = childPids(child.pid);
    child.kill('SIGTERM');
    // jupyter_server asks for confirmation on the first SIGINT; SIGTERM shuts
    // kernels down and exits. Escalate if it does not.
    if (!(await waitForExit([child.pid], 10000))) {
      child.kill('SIGKILL');
    }
    await exitPromise;
    for (const pid of kernels) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await waitForExit(kernels, 5000);
    logStream.end();
    return exited;
  }

  while (true) {
    if (exited) {
      const text = log();
      const err = new Error(
        `Jupyter server exited (${JSON.stringify(exited)}) before answering /api/status.\n` +
          `Command: ${python} ${args.join(' ')}\nLog (${dirs.log}):\n${text.split('\n').slice(-40).join('\n')}`
      );
      err.portInUse = /already in use|Address already in use/i.test(text);
      throw err;
    }
    if (Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(
        `Jupyter server did not answer ${url}api/status within ${timeoutMs} ms.\nLog:\n${log()}`
      );
    }
    try {
      const res = await authFetch('api/status', {
        signal: AbortSignal.timeout(2000)
      });
      if (res.ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }

  return {
    app,
    url,
    baseUrl,
    port,
    token,
    pid: child.pid,
    dirs,
    python,
    startupMs: Date.now() - started,
    fetch: authFetch,
    log,
    stop
  };
}

/** Headless Debian Chromium, no network beyond loopback, no first-run noise. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

/**
 * Launch headless Debian Chromium with a fresh profile. Every console message
 * and page error of every page lands in `messages` (strings "type: text"), so
 * tests can scan them for secrets; HTTP responses >= 400 land in `httpErrors`
 * ("status METHOD url").
 */
export async function launchBrowser({
  headless = true,
  viewport = { width: 1366, height: 800 }
} = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-chromium-'));
  const profile = path.join(root, 'profile');
  const tmp = path.join(root, 'tmp');
  fs.mkdirSync(tmp);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CARTO_CHROMIUM || '/usr/bin/chromium',
    headless,
    args: CHROMIUM_ARGS,
    viewport,
    env: { ...process.env, TMPDIR: tmp }
  });
  const messages = [];
  const httpErrors = [];
  const watch = page => {
    page.on('console', msg => messages.push(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', err =>
      messages.push(`pageerror: ${err.stack || err.message}`)
    );
    page.on('response', res => {
      if (res.status() >= 400) {
        httpErrors.push(
          `${res.status()} ${res.request().method()} ${res.url()}`
        );
      }
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    messages,
    httpErrors,
    async close() {
      await context.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}

/**
 * Open JupyterLab served by `lab` (from startLab) and wait until the
 * application has started and restored its layout. The token in the URL logs
 * the browser in (cookie). `?reset` by default so no earlier layout or dialog
 * comes back. `page` is a path below the base URL ('lab', 'tree',
 * 'notebooks/x.ipynb').
 */
export async function openLab(
  page,
  lab,
  { reset = true, timeout = 60000, path: at = 'lab' } = {}
) {
  // JupyterLab's router matches a bare `reset` parameter (no `=`).
  const query = `?token=${lab.token}${reset ? '&reset' : ''}`;
  await page.goto(new URL(at, lab.url).href + query);
  await page.waitForFunction(() => !!window.jupyterapp, null, { timeout });
  await page.evaluate(() => window.jupyterapp.started);
  await page.evaluate(() => window.jupyterapp.restored);
}

/** The page config JupyterLab was served with (parsed). */
export async function pageConfig(page) {
  return page.evaluate(() =>
    JSON.parse(document.getElementById('jupyter-config-data').textContent)
  );
}

/**
 * Create a notebook with `kernelName` and wait until its kernel is idle.
 * Returns the notebook's path.
 */
export async function newNotebook(
  page,
  { kernelName = 'python3', timeout = 60000 } = {}
) {
  const before = await page.evaluate(
    () => window.jupyterapp.shell.currentWidget?.id ?? null
  );
  // Not awaited in the page: the command resolves to a widget, which
  // page.evaluate would try to serialize.
  await page.evaluate(name => {
    void window.jupyterapp.commands.execute('notebook:create-new', {
      kernelName: name
    });
  }, kernelName);
  await page.waitForFunction(
    previous => {
      const widget = window.jupyterapp.shell.currentWidget;
      return (
        !!widget &&
        widget.id !== previous &&
        !!widget.content?.model &&
        widget.context?.isReady &&
        widget.sessionContext?.session?.kernel?.status === 'idle'
      );
    },
    before,
    { timeout }
  );
  return page.evaluate(
    () => window.jupyterapp.shell.currentWidget.context.path
  );
}

/**
 * Run `code` in a code cell of the current notebook (the trailing empty cell,
 * or a new one at the end) and return its output as text: stream text,
 * text/plain results, and errors as "Name: value".
 */
export async function runCell(page, code, { timeout = 60000 } = {}) {
  const index = await page.evaluate(source => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel?.content?.model) {
      throw new Error('runCell: the current widget is not a notebook');
    }
    const notebook = panel.content;
    const cells = notebook.model.sharedModel;
    const last = cells.cells.length - 1;
    const reusable =
      last >= 0 &&
      cells.cells[last].cell_type === 'code' &&
      cells.cells[last].getSource() === '' &&
      cells.cells[last].execution_count == null;
    const at = reusable ? last : last + 1;
    if (reusable) {
      cells.cells[last].setSource(source);
    } else {
      cells.insertCell(at, { cell_type: 'code', source });
    }
    notebook.activeCellIndex = at;
    return at;
  }, code);
  await page.evaluate(
    ({ timeoutMs }) =>
      Promise.race([
        window.jupyterapp.commands.execute('notebook:run-cell'),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('runCell: timed out')), timeoutMs)
        )
      ]).then(() => undefined),
    { timeoutMs: timeout }
  );
  return page.evaluate(at => {
    const cell =
      window.jupyterapp.shell.currentWidget.content.model.cells.get(at);
    const parts = [];
    for (let i = 0; i < cell.outputs.length; i++) {
      const out = cell.outputs.get(i).toJSON();
      if (out.output_type === 'stream') {
        parts.push(Array.isArray(out.text) ? out.text.join('') : out.text);
      } else if (out.output_type === 'error') {
        parts.push(`${out.ename}: ${out.evalue}\n`);
      } else if (out.data && out.data['text/plain'] !== undefined) {
        const text = out.data['text/plain'];
        parts.push((Array.isArray(text) ? text.join('') : text) + '\n');
      }
    }
    return parts.join('');
  }, index);
}

/** Save a PNG of the page as artifacts/<name>.png; returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(
    ARTIFACTS_DIR,
    `${name.replace(/[^\w.-]+/g, '_')}.png`
  );
  await page.screenshot({ path: file });
  return file;
}

/**
 * Start the local CARTO-compatible API (tools/carto_api) on a free loopback
 * port; `stop()` stops it by PID. `url` is its origin with a trailing slash,
 * `userUrl(name)` an on-premises style `/user/{name}/` base URL.
 */
export async function startCartoApi({ timeoutMs = 15000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-api-'));
  const readyFile = path.join(dir, 'port');
  const child = spawn(
    defaultPython(),
    ['-m', 'tools.carto_api', '--port', '0', '--ready-file', readyFile],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] }
  );
  let stderr = '';
  child.stderr.on('data', chunk => (stderr += chunk));
  const deadline = Date.now() + timeoutMs;
  while (
    !fs.existsSync(readyFile) ||
    !fs.readFileSync(readyFile, 'utf8').trim()
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`local CARTO API did not start: ${stderr}`);
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  const port = Number(fs.readFileSync(readyFile, 'utf8').trim());
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    userUrl: name => `${url}user/${name}/`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise(resolve => child.once('exit', resolve));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

/**
 * The setup the CARTO browser tests share: the local CARTO API, `jupyter lab`
 * (startLab options), this extension's user settings with non-https base URLs
 * allowed (the local API is plain http on loopback) plus `settings`, widget
 * state saved with notebooks if `saveWidgetState`, headless Chromium, and
 * JupyterLab open in its page. `lab` and `settings` may be functions of the
 * started API (to name its URL). `stop()` closes the browser, then the
 * server, then the API; a start that fails stops what it had started.
 *
 * @returns {Promise<{ api, lab, browser, page, stop: () => Promise<void> }>}
 */
export async function startSession({
  lab: labOptions = {},
  settings = {},
  saveWidgetState = false
} = {}) {
  const started = [];
  const stop = async () => {
    for (const part of started.splice(0).reverse()) {
      await part.stop();
    }
  };
  try {
    const api = await startCartoApi();
    started.push(api);
    const withApi = value => (typeof value === 'function' ? value(api) : value);
    const lab = await startLab(withApi(labOptions));
    started.push(lab);
    writeUserSettings(
      lab.dirs.settings,
      { allowNonHttps: true, ...withApi(settings) },
      `${EXTENSION_NAME}:plugin`
    );
    if (saveWidgetState) {
      writeUserSettings(
        lab.dirs.settings,
        { saveState: true },
        '@jupyter-widgets/jupyterlab-manager:plugin'
      );
    }
    const browser = await launchBrowser();
    started.push({ stop: () => browser.close() });
    const page = browser.page;
    await openLab(page, lab);
    return { api, lab, browser, page, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every request `page` sends from now on whose URL contains `urlPart` (a live array). */
export function recordRequests(page, urlPart) {
  const requests = [];
  page.on('request', request => {
    if (request.url().includes(urlPart)) {
      requests.push(request);
    }
  });
  return requests;
}

/**
 * Wait until a map widget (`.jp-CartoMap`) of the page has finished loading
 * and drawn its canvas; return the text of the page's first map status line
 * ('' when it has nothing to report).
 */
export async function drawnMapStatus(page, { timeout = 30000 } = {}) {
  await page.waitForSelector(
    '.jp-CartoMap:not(.jp-mod-loading) .leaflet-container canvas',
    { timeout }
  );
  return page.textContent('.jp-CartoMap-status');
}

/**
 * Save the current notebook through JupyterLab and return the saved file's
 * text (`notebookPath` as newNotebook returned it).
 */
export async function saveNotebook(page, lab, notebookPath) {
  await page.evaluate(() =>
    window.jupyterapp.shell.currentWidget.context.save()
  );
  return fs.readFileSync(path.join(lab.dirs.work, notebookPath), 'utf8');
}
