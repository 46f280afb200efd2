// Starts the local CARTO-compatible API (tools/carto_api) for browser tests; stops it by PID.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO_ROOT, defaultPython, writeUserSettings } from './harness.mjs';

export const DEMO_USERS = {
  alice: 'alice-demo-key-0001',
  bob: 'bob-demo-key-0002'
};

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
 * Write a plugin's user settings before the page loads them; by default this extension's.
 * `plugin` is the settings id, e.g. '@jupyter-widgets/jupyterlab-manager:plugin'.
 */
export function writeSettings(
  lab,
  settings,
  plugin = 'jupyterlab-carto-credentials:plugin'
) {
  writeUserSettings(lab.dirs.settings, settings, plugin);
}

/** Call the extension's REST API from the page, the way JupyterLab does (XSRF cookie). */
export function callStore(page, method, route, body) {
  return page.evaluate(
    async ({ method, route, body }) => {
      const settings = window.jupyterapp.serviceManager.serverSettings;
      const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1];
      const response = await fetch(
        `${settings.baseUrl}carto-credentials/${route}`,
        {
          method,
          headers: {
            'Content-Type': 'application/json',
            ...(xsrf ? { 'X-XSRFToken': decodeURIComponent(xsrf) } : {})
          },
          body: body === undefined ? undefined : JSON.stringify(body)
        }
      );
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    { method, route, body }
  );
}

/** Every file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir, needle) {
  const found = [];
  const walk = current => {
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
