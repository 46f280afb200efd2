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
 * BENCH_PHASES (k7-on,k7-off,k6), BENCH_JSON=<file> for raw samples.
 */
import { build } from 'esbuild';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carto-bench-'));
const outfile = path.join(outDir, 'kernel-push.cjs');

try {
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
      CARTO_REPO_ROOT: path.join(here, '..'),
      NODE_PATH: path.join(here, '..', 'node_modules')
    }
  });
  process.exitCode = result.status ?? 2;
} finally {
  fs.rmSync(outDir, { recursive: true, force: true });
}
