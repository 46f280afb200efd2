// The CARTO side of the browser tests: the local API's demo users, this extension's settings,
// its REST store called from the page, and scans of a run's files for secrets. The local API
// itself is started by harness.mjs (startCartoApi, startSession).
import fs from 'node:fs';
import path from 'node:path';

import { writeUserSettings } from './harness.mjs';

// Kept here too for the callers that import it from this module (notebook7.test.mjs,
// bench/map-render.mjs).
export { startCartoApi } from './harness.mjs';

export const DEMO_USERS = {
  alice: 'alice-demo-key-0001',
  bob: 'bob-demo-key-0002'
};

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

/** The account store of a `startLab` run: the one file that may hold a key. */
export function accountStoreFile(lab) {
  return `${lab.dirs.data}/carto_credentials/accounts.json`;
}
