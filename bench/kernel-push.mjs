#!/usr/bin/env node
/**
 * `npm run bench`: bundles bench/kernel-push-main.ts (the real src/ bridge, model and REST
 * client plus @jupyterlab/services, which ships ESM that plain Node cannot load) with esbuild
 * into a temporary CommonJS file, then runs it. Prints "metric | measured | bar | ratio | ok".
 *
 * Runs against jupyter_server 2 of `.venv` and three phases: ipykernel 7.4 with JupyterLab's
 * comms-over-subshells setting on (perCommTarget) and off (disabled), and ipykernel 6.29.
 *
 * Knobs (environment): BENCH_STARTS (50 per phase), BENCH_CONTROL_STARTS (10 per phase),
 * BENCH_KERNELS (50), BENCH_ROUND_TRIPS (40 per phase), BENCH_SWITCHES (6),
 * BENCH_PHASES (k7-on,k7-off,k6), BENCH_JSON=<file> for raw samples, BENCH_PYTHONPATH=<dir> to
 * measure the carto_credentials package in <dir> (e.g. a commit's, from `git archive`),
 * BENCH_LABEXTENSION=<dir> to measure a built labextension instead of building src/ for production.
 */
import { build } from 'esbuild';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..');
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-bench-'));
const outfile = path.join(outDir, 'kernel-push.cjs');

/**
 * The JS bar is about what users load: the production build (what the wheel's `build:prod`
 * makes), from this checkout's src/, built into the temporary directory so the shared
 * carto_credentials/labextension (often a development build) is left alone.
 */
function buildProductionLabextension() {
  const root = path.join(outDir, 'js');
  fs.mkdirSync(root);
  fs.copyFileSync(
    path.join(repo, 'package.json'),
    path.join(root, 'package.json')
  );
  for (const name of ['style', 'schema', 'node_modules']) {
    fs.symlinkSync(path.join(repo, name), path.join(root, name));
  }
  // src/ may import data files of the Python package (e.g. rules.json); the build's own output
  // goes to carto_credentials/labextension here, never to the checkout's.
  fs.mkdirSync(path.join(root, 'carto_credentials'));
  for (const name of fs.readdirSync(path.join(repo, 'carto_credentials'))) {
    if (name !== 'labextension') {
      fs.symlinkSync(
        path.join(repo, 'carto_credentials', name),
        path.join(root, 'carto_credentials', name)
      );
    }
  }
  const run = (args, cwd) => {
    const r = spawnSync(process.execPath, args, { cwd, stdio: 'inherit' });
    if (r.status !== 0) {
      throw new Error(`${args.join(' ')} failed (${r.status})`);
    }
  };
  console.error('[bench] production build of the labextension (tsc + builder)');
  run(
    [
      path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(repo, 'tsconfig.json'),
      '--outDir',
      path.join(root, 'lib'),
      '--composite',
      'false',
      '--declaration',
      'false',
      '--incremental',
      'false',
      '--sourceMap',
      'false'
    ],
    repo
  );
  run(
    [
      path.join(
        repo,
        'node_modules',
        '@jupyter',
        'builder',
        'lib',
        'build-labextension.js'
      ),
      '--core-package-file',
      path.join(
        repo,
        'node_modules',
        '@jupyterlab',
        'core-meta',
        'core.package.json'
      ),
      '.'
    ],
    root
  );
  return path.join(root, 'carto_credentials', 'labextension');
}

try {
  const labextension = process.env.BENCH_LABEXTENSION
    ? path.resolve(process.env.BENCH_LABEXTENSION)
    : buildProductionLabextension();
  await build({
    entryPoints: [path.join(here, 'kernel-push-main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Resolved at run time from the repository's node_modules.
    external: ['ws'],
    nodePaths: [path.join(here, '..', 'node_modules')],
    logLevel: 'warning'
  });
  const result = spawnSync(process.execPath, [outfile], {
    stdio: 'inherit',
    env: {
      ...process.env,
      CARTO_REPO_ROOT: repo,
      CARTO_BENCH_LABEXTENSION: labextension,
      NODE_PATH: path.join(here, '..', 'node_modules')
    }
  });
  process.exitCode = result.status ?? 2;
} finally {
  fs.rmSync(outDir, { recursive: true, force: true });
}
