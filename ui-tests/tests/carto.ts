// Shared by the galata specs: the run's directories (made by playwright.config.js), the local
// CARTO API, the demo keys, the extension's REST API, leak scans and a cell runner.
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  expect,
  IJupyterLabPageFixture,
  test as base
} from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

// Galata's helpers wait 15 s by default (Utils.waitForCondition), e.g. for JupyterLab to start
// before each test; on this 2-core machine shared with other jobs a start can take longer.
// Raise the default to 60 s; explicit timeouts stay as they are.
type WaitForCondition = (
  fn: () => boolean | Promise<boolean>,
  timeout?: number
) => Promise<void>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const galataUtils = require('@jupyterlab/galata/lib/utils') as {
  waitForCondition: WaitForCondition;
};
const galataWait = galataUtils.waitForCondition;
galataUtils.waitForCondition = (fn, timeout) =>
  galataWait(fn, timeout ?? 60000);

export const DEMO_USERS: Record<string, string> = {
  alice: 'alice-demo-key-0001',
  bob: 'bob-demo-key-0002'
};

/** The run's temp dir: config, data, runtime, home, tmp, ipython, work, settings, workspaces. */
export const ROOT = process.env.CARTO_UI_ROOT ?? '';
export const dirs = {
  root: ROOT,
  data: path.join(ROOT, 'data'),
  work: path.join(ROOT, 'work'),
  settings: path.join(ROOT, 'settings'),
  workspaces: path.join(ROOT, 'workspaces')
};
/** The account store, the only file that may hold a key (mode 0600). */
export const STORE = path.join(dirs.data, 'carto_credentials', 'accounts.json');

const API_URL = process.env.CARTO_UI_API_URL ?? '';
export const api = {
  url: API_URL,
  userUrl: (name: string): string => `${API_URL}user/${name}/`
};

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'artifacts');
export const PANEL_ID = 'jp-carto-credentials-panel';
export const PANEL = `#${PANEL_ID}`;
export const FORM = `${PANEL} .jp-CartoCredentials-form`;
export const TOOLBAR_SELECT = '.jp-CartoCredentials-notebookAccount select';

/** Every console message and page error of the worker's pages ("type: text"). */
export const consoleMessages: string[] = [];

/**
 * Galata's `test` with an automatic fixture that records the browser console from before the
 * page loads, so specs can check that no key was ever logged.
 */
export const test = base.extend<{ recordConsole: void }>({
  // Galata 5.6.4 proxies kernel requests to track them, but answers the restart POST with 201
  // where JupyterLab expects 200, so a restarted kernel hangs in "starting". Kernels stay
  // tracked through their sessions, which galata still shuts down after each test.
  // eslint-disable-next-line no-empty-pattern
  kernels: async ({}, use) => {
    await use(null);
  },
  // Galata's readiness check with more patience: this machine has 2 shared cores.
  // eslint-disable-next-line no-empty-pattern
  waitForApplication: async ({}, use) => {
    await use(async (page, helpers) => {
      await page
        .locator('#jupyterlab-splash')
        .waitFor({ state: 'detached', timeout: 90000 });
      await helpers.waitForCondition(
        () => helpers.activity.isTabActive('Launcher'),
        90000
      );
      await helpers.activity.activateTab('Launcher');
    });
  },
  recordConsole: [
    async ({ context }, use) => {
      const onConsole = (msg: { type(): string; text(): string }) =>
        consoleMessages.push(`${msg.type()}: ${msg.text()}`);
      const onError = (err: { error(): Error }) =>
        consoleMessages.push(`pageerror: ${err.error().stack}`);
      context.on('console', onConsole);
      context.on('weberror', onError);
      await use();
      context.off('console', onConsole);
      context.off('weberror', onError);
    },
    { auto: true }
  ]
});
export { expect };

/** Call the extension's REST API (galata's server has no token and no XSRF check). */
export async function callStore(
  request: APIRequestContext,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  route: string,
  body?: unknown
): Promise<{ status: number; body: any }> {
  const response = await request.fetch(`/carto-credentials/${route}`, {
    method,
    data: body === undefined ? undefined : body
  });
  const text = await response.text();
  return { status: response.status(), body: text ? JSON.parse(text) : null };
}

/** Remove every account, so a spec starts from an empty store whatever ran before. */
export async function emptyStore(request: APIRequestContext): Promise<void> {
  const list = await callStore(request, 'GET', 'accounts');
  expect(list.status).toBe(200);
  for (const account of list.body.accounts) {
    const removed = await callStore(
      request,
      'DELETE',
      `accounts/${account.id}`
    );
    expect(removed.status).toBeLessThan(300);
  }
}

/** Every file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (entry.isFile() && fs.readFileSync(full).includes(needle)) {
        found.push(full);
      }
    }
  };
  walk(dir);
  return found;
}

/** Every saved notebook under `dir`, as text. */
export function savedNotebooks(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter(
      name => name.endsWith('.ipynb') && !name.includes('.ipynb_checkpoints')
    )
    .map(name => fs.readFileSync(path.join(dir, name), 'utf8'));
}

/**
 * Type `code` into the notebook's trailing empty code cell (or a new one), run it with galata
 * and return its text output.
 */
export async function runCode(
  page: IJupyterLabPageFixture,
  code: string
): Promise<string> {
  const last = (await page.notebook.getCellCount()) - 1;
  let index = last;
  const reusable =
    (await page.notebook.getCellType(last)) === 'code' &&
    (await page.notebook.getCellTextInput(last)).trim() === '';
  if (reusable) {
    expect(await page.notebook.setCell(last, 'code', code)).toBe(true);
  } else {
    expect(await page.notebook.addCell('code', code)).toBe(true);
    index = last + 1;
  }
  expect(await page.notebook.runCell(index)).toBe(true);
  return ((await page.notebook.getCellTextOutput(index)) ?? []).join('');
}

/**
 * Open a notebook by path with JupyterLab's `docmanager:open` command (galata's openByPath walks
 * the file browser with 15 s waits, too short on this 2-core machine under load) and wait until
 * it is the current widget.
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  notebookPath: string
): Promise<void> {
  await page.evaluate(nbPath => {
    void window.jupyterapp.commands.execute('docmanager:open', {
      path: nbPath
    });
  }, notebookPath);
  await page.waitForFunction(
    nbPath =>
      (window.jupyterapp.shell.currentWidget as any)?.context?.path === nbPath,
    notebookPath
  );
}

/** Wait until the current notebook's kernel is idle. */
export async function waitForIdleKernel(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.waitForFunction(() => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    return widget?.sessionContext?.session?.kernel?.status === 'idle';
  });
}

/** Create a notebook from File › New with `kernel`; returns its path below the server root. */
export async function newNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  kernel = 'python3'
): Promise<string> {
  const name = await page.notebook.createNew(undefined, { kernel });
  expect(name).toBeTruthy();
  await waitForIdleKernel(page);
  return `${tmpPath}/${name}`;
}

/** Restart the kernel from the notebook toolbar, confirm, and wait until it is idle again. */
export async function restartKernel(
  page: IJupyterLabPageFixture
): Promise<void> {
  // Record the restart as it happens, so an idle status seen before it does not count.
  await page.evaluate(() => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    const w = window as any;
    w.cartoRestarted = false;
    widget.sessionContext.statusChanged.connect(
      (_: unknown, status: string) => {
        if (status === 'restarting' || status === 'starting') {
          w.cartoRestarted = true;
        }
      }
    );
  });
  await page.notebook.clickToolbarItem('restart');
  await page.locator('.jp-Dialog .jp-mod-accept').click();
  await page.locator('.jp-Dialog').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).cartoRestarted === true);
  await waitForIdleKernel(page);
}

/** Save a PNG of the page (or of `locator`) as artifacts/<name>.png. */
export async function screenshot(
  target: { screenshot(options: { path: string }): Promise<unknown> },
  name: string
): Promise<string> {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(
    ARTIFACTS_DIR,
    `${name.replace(/[^\w.-]+/g, '_')}.png`
  );
  await target.screenshot({ path: file });
  return file;
}

/** Open the CARTO sidebar panel and wait for its login form. */
export async function openCartoPanel(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.sidebar.openTab(PANEL_ID);
  await page
    .locator(`${FORM} .jp-CartoCredentials-usernameInput`)
    .waitFor({ state: 'visible' });
}

/** Log in from the panel's form (or public only) and wait until the form is no longer busy. */
export async function logInFromPanel(
  page: IJupyterLabPageFixture,
  username: string,
  key: string,
  { publicOnly = false } = {}
): Promise<void> {
  await page.fill(`${FORM} .jp-CartoCredentials-usernameInput`, username);
  if (publicOnly) {
    await page.check(`${FORM} .jp-CartoCredentials-publicCheckbox`);
  } else {
    await page.fill(`${FORM} .jp-CartoCredentials-keyInput`, key);
  }
  await page.click(`${FORM} .jp-CartoCredentials-loginButton`);
  await expect(page.locator(FORM)).not.toHaveAttribute('aria-busy', 'true');
}

/** Upload an empty Python notebook to `notebookPath`: not created here, so access is asked. */
export async function uploadNotebook(
  page: IJupyterLabPageFixture,
  notebookPath: string
): Promise<void> {
  const notebook = {
    cells: [],
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      }
    },
    nbformat: 4,
    nbformat_minor: 5
  };
  expect(
    await page.contents.uploadContent(
      JSON.stringify(notebook),
      'text',
      notebookPath
    )
  ).toBe(true);
}

/**
 * Switch JupyterLab's theme with its own command (`apputils:change-theme`) and wait until the
 * page shows it (`data-jp-theme-name` on the body).
 */
export async function setTheme(
  page: IJupyterLabPageFixture,
  theme: 'JupyterLab Light' | 'JupyterLab Dark'
): Promise<void> {
  await page.evaluate(async name => {
    await window.jupyterapp.commands.execute('apputils:change-theme', {
      theme: name
    });
  }, theme);
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-name',
    theme
  );
}
