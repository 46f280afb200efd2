// The CDN a pydeck / pydeck-carto page loads, served from this machine (it reaches no CDN):
//
//   const cdn = await serveCdnLocally(page);     // or a BrowserContext
//   ... load the page ...
//   assert.deepEqual(cdn.unexpected, []);        // a CDN URL we cannot serve locally
//
// - `https://cdn.jsdelivr.net/npm/@deck.gl/jupyter-widget@~9.3.*/dist/index.js` (pydeck's
//   html.CDN_URL) → pydeck's own bundled copy, `pydeck/nbextension/static/index.js` of the kernel
//   venv (what `to_html(offline=True)` inlines);
// - `…/npm/@deck.gl/widgets@…/dist/stylesheet.css` → an empty stylesheet (no npm package here
//   ships it; it only styles deck widgets, which these maps do not use);
// - `https://cdn.jsdelivr.net/combine/npm/a@range/file,npm/b@range/file…` (pydeck-carto's
//   CARTO_LAYER_BUNDLE_URL) → the files of the exactly pinned devDependencies (h3-js,
//   @deck.gl/extensions, @deck.gl/carto), concatenated as jsDelivr does, each checked against
//   the range asked for;
// - `https://unpkg.com/@deck.gl/carto@<version>/dist/<id>-worker.js`: the worker
//   @deck.gl/carto's tile loaders start (utils.ts getWorkerUrl) → that file of the same package.
//
// Everything else that is not loopback is aborted: the static assets pydeck's page template
// links but a deck-only map does not need (mapbox-gl.js, Bootstrap / Font Awesome / MapLibre
// CSS) land in `blocked`; any other CDN or outside URL lands in `unexpected`, which a test
// asserts empty so that it fails naming the URL.
import fs from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './harness.mjs';

export const KERNEL_VENV = path.join(REPO_ROOT, '.venv-carto3');

// Linked by pydeck's page template (pydeck/io/templates/index.j2), unused by a deck.gl-only map.
const OPTIONAL_ASSETS = [
  /^https:\/\/api\.tiles\.mapbox\.com\/mapbox-gl-js\//,
  /^https:\/\/maxcdn\.bootstrapcdn\.com\//,
  /^https:\/\/unpkg\.com\/maplibre-gl@[^/]+\/dist\/maplibre-gl\.css$/
];

const LOOPBACK =
  /^(?:https?|wss?):\/\/(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?\//;

/** The installed package.json of an npm package of this repository. */
function installed(pkg) {
  const dir = path.join(REPO_ROOT, 'node_modules', pkg);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json')));
  return { dir, version: meta.version };
}

/**
 * Whether `version` satisfies a jsDelivr range as pydeck writes them: `~9.0.*`, `~4.1.*`,
 * `9.0.41` (exact) or `*`.
 */
export function satisfies(version, range) {
  if (range === '*' || range === 'latest') {
    return true;
  }
  const wanted = range.replace(/^[~^]/, '').replace(/\.\*$/, '').split('.');
  const parts = version.split('.');
  return wanted.every((part, i) => part === '*' || part === parts[i]);
}

/** `npm/<name>@<range>/<file>` → its bytes from node_modules, or an Error saying why not. */
function npmFile(spec) {
  const m = /^npm\/((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/(.+)$/.exec(spec);
  if (!m) {
    return new Error(`not an npm file spec: ${spec}`);
  }
  const [, pkg, range, file] = m;
  let found;
  try {
    found = installed(pkg);
  } catch {
    return new Error(`${pkg} is not an npm dependency of this repository`);
  }
  if (!satisfies(found.version, decodeURIComponent(range))) {
    return new Error(`${pkg} ${found.version} does not satisfy ${range}`);
  }
  const full = path.resolve(found.dir, file);
  if (!full.startsWith(found.dir + path.sep) || !fs.existsSync(full)) {
    return new Error(`${pkg}@${found.version} has no ${file}`);
  }
  return fs.readFileSync(full);
}

/** What to answer for `url`: `{ body, contentType }`, or an Error for an unexpected URL. */
export function localCopy(url, { kernelVenv = KERNEL_VENV } = {}) {
  const { host, pathname } = new URL(url);
  if (host === 'cdn.jsdelivr.net') {
    if (
      /^\/npm\/@deck\.gl\/jupyter-widget@[^/]+\/dist\/index\.js$/.test(pathname)
    ) {
      const bundle = path.join(
        kernelVenv,
        'lib',
        'python3.11',
        'site-packages',
        'pydeck',
        'nbextension',
        'static',
        'index.js'
      );
      return {
        body: fs.readFileSync(bundle),
        contentType: 'application/javascript'
      };
    }
    if (
      /^\/npm\/@deck\.gl\/widgets@[^/]+\/dist\/stylesheet\.css$/.test(pathname)
    ) {
      return { body: Buffer.from(''), contentType: 'text/css' };
    }
    if (pathname.startsWith('/combine/')) {
      const parts = pathname.slice('/combine/'.length).split(',').map(npmFile);
      const failed = parts.find(part => part instanceof Error);
      if (failed) {
        return failed;
      }
      return {
        body: Buffer.concat(parts.flatMap(part => [part, Buffer.from('\n')])),
        contentType: 'application/javascript'
      };
    }
  }
  if (host === 'unpkg.com') {
    const m = /^\/@deck\.gl\/carto@([^/]+)\/dist\/(\w+-worker\.js)$/.exec(
      pathname
    );
    if (m) {
      const body = npmFile(`npm/@deck.gl/carto@${m[1]}/dist/${m[2]}`);
      return body instanceof Error
        ? body
        : { body, contentType: 'application/javascript' };
    }
  }
  return new Error('no local copy');
}

/**
 * Route every non-loopback request of `target` (a playwright-core Page or BrowserContext):
 * the CDN files above are answered from local files, the rest aborted. Returns live arrays:
 * `served` (URLs answered locally), `blocked` (optional template assets, aborted) and
 * `unexpected` ("URL: reason", aborted).
 */
export async function serveCdnLocally(target, options = {}) {
  const record = { served: [], blocked: [], unexpected: [] };
  await target.route(
    url => !LOOPBACK.test(url.href) && !/^(?:data|blob|about):/.test(url.href),
    async route => {
      const url = route.request().url();
      if (OPTIONAL_ASSETS.some(pattern => pattern.test(url))) {
        record.blocked.push(url);
        await route.abort('blockedbyclient');
        return;
      }
      let answer;
      try {
        answer = localCopy(url, options);
      } catch (err) {
        answer = err;
      }
      if (answer instanceof Error) {
        record.unexpected.push(`${url}: ${answer.message}`);
        await route.abort('blockedbyclient');
        return;
      }
      record.served.push(url);
      await route.fulfill({
        status: 200,
        contentType: answer.contentType,
        headers: { 'Access-Control-Allow-Origin': '*' },
        body: answer.body
      });
    }
  );
  return record;
}
