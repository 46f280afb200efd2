// Browser tests with galata (@jupyterlab/galata), JupyterLab's own UI-test framework, against
// the real `jupyter lab` of the dev venv and the local CARTO API, in Debian's Chromium.
//   cd ui-tests && npx playwright test [tests/panel.spec.ts]
// Every run gets fresh Jupyter config/data/runtime/settings/workspaces/root dirs under one temp
// dir (CARTO_UI_ROOT, removed at exit unless CARTO_UI_KEEP=1), so no state leaks between runs
// and the specs can scan every file the server wrote for a key.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const REPO_ROOT = path.resolve(__dirname, '..');
const PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const LAB_PORT = Number(process.env.CARTO_UI_LAB_PORT || 18888);
const API_PORT = Number(process.env.CARTO_UI_API_PORT || 18889);
const DIRS = [
  'config',
  'data',
  'runtime',
  'home',
  'tmp',
  'ipython',
  'work',
  'settings',
  'workspaces'
];

// The config is loaded by the runner and again by each worker: the runner makes the dirs and
// the workers, whose environment it passes down, find them in CARTO_UI_ROOT.
if (!process.env.CARTO_UI_ROOT) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-galata-'));
  process.env.CARTO_UI_ROOT = root;
  process.env.CARTO_UI_API_URL = `http://127.0.0.1:${API_PORT}/`;
  for (const name of DIRS) {
    fs.mkdirSync(path.join(root, name));
  }
  // User settings on disk, for the specs that run with galata's settings mock off.
  const writeSettings = (plugin, settings) => {
    const [pkg, name] = plugin.split(':');
    const dir = path.join(root, 'settings', ...pkg.split('/'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, `${name}.jupyterlab-settings`),
      JSON.stringify(settings)
    );
  };
  writeSettings('@jupyterlab/apputils-extension:notification', {
    checkForUpdates: false,
    fetchNews: 'false'
  });
  writeSettings('jupyterlab-carto-credentials:plugin', {
    allowNonHttps: true,
    baseUrlTemplate: `http://127.0.0.1:${API_PORT}/user/{username}/`
  });
  if (!process.env.CARTO_UI_KEEP) {
    // After the web servers are stopped (Playwright's teardown), before the runner exits.
    process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  }
}
const ROOT = process.env.CARTO_UI_ROOT;

// The server and its kernels see only the isolated dirs, none of the caller's Jupyter setup.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) =>
      !/^(JUPYTER|JPY_|IPYTHON|PYTHONSTARTUP|PYTHONPATH|CARTO_)/.test(key)
  )
);
const labEnv = {
  ...inherited,
  JUPYTER_CONFIG_DIR: path.join(ROOT, 'config'),
  JUPYTER_DATA_DIR: path.join(ROOT, 'data'),
  JUPYTER_RUNTIME_DIR: path.join(ROOT, 'runtime'),
  JUPYTER_PLATFORM_DIRS: '1',
  JUPYTERLAB_GALATA_ROOT_DIR: path.join(ROOT, 'work'),
  IPYTHONDIR: path.join(ROOT, 'ipython'),
  HOME: path.join(ROOT, 'home'),
  TMPDIR: path.join(ROOT, 'tmp'),
  PYTHONUNBUFFERED: '1',
  CARTO_UI_ROOT: ROOT,
  CARTO_UI_LAB_PORT: String(LAB_PORT)
};

// jupyter_server stops its kernels on SIGTERM (they run in their own sessions, so killing the
// process group would orphan them).
const gracefulShutdown = { signal: 'SIGTERM', timeout: 20000 };

module.exports = {
  ...baseConfig,
  testDir: 'tests',
  outputDir: 'test-results',
  reporter: [['list']],
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 180000,
  expect: { timeout: 20000 },
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${LAB_PORT}`,
    viewport: { width: 1366, height: 800 },
    trace: 'off',
    video: 'off',
    screenshot: 'only-on-failure',
    actionTimeout: 30000,
    launchOptions: {
      executablePath: process.env.CARTO_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: [
    {
      command: `${PYTHON} -m tools.carto_api --port ${API_PORT}`,
      cwd: REPO_ROOT,
      url: `http://127.0.0.1:${API_PORT}/api/v3/me`,
      reuseExistingServer: false,
      timeout: 30000,
      gracefulShutdown
    },
    {
      command: `${PYTHON} -m jupyterlab --config jupyter_server_test_config.py`,
      cwd: __dirname,
      env: labEnv,
      url: `http://127.0.0.1:${LAB_PORT}/lab`,
      reuseExistingServer: false,
      timeout: 120000,
      gracefulShutdown
    }
  ]
};
