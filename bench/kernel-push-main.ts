/**
 * Benchmark of the credential push (DESIGN.md "Bars to beat"), run by `bench/kernel-push.mjs`
 * after esbuild bundled this file with the real `src/` code and `@jupyterlab/services` for Node.
 *
 * One jupyter_server (venv, our extension, base URL /user/alice/, token) serves every
 * measurement, so ratios compare like with like (same server, same kernels, same Nagle delays).
 */
import {
  CommsOverSubshells,
  Kernel,
  KernelManager,
  KernelMessage,
  ServerConnection,
  Session,
  SessionManager
} from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';

import { KernelBridge } from '../src/bridge';
import { CartoCredentialsModel } from '../src/model';
import { COMM_TARGET } from '../src/protocol';
import { RestAccountStore } from '../src/rest';
import { DEFAULT_SETTINGS } from '../src/settings';
import {
  JupyterServerProcess,
  REPO_ROOT,
  VENV_PYTHON,
  waitFor
} from '../test/integration/server';

const STARTS = Number(process.env.BENCH_STARTS ?? 50);
const CONTROL_STARTS = Number(process.env.BENCH_CONTROL_STARTS ?? 10);
const KERNELS = Number(process.env.BENCH_KERNELS ?? 50);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 40);
const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 6);
/**
 * Import `carto_credentials` (server extension, kernels, import timing) from this directory
 * instead of the checkout, e.g. a commit's package while the checkout has work in progress:
 * `git archive HEAD carto_credentials | tar -x -C /tmp/pkg; BENCH_PYTHONPATH=/tmp/pkg`.
 */
const PACKAGE_PATH = process.env.BENCH_PYTHONPATH ?? '';

/**
 * Kernel lines and JupyterLab's comms-over-subshells setting (Settings → Kernels; the page applies
 * it as `serviceManager.kernels.commsOverSubshells = value`, which is what the bench does).
 * `BENCH_PHASES=k7-on,k6` runs a subset; the first selected phase also runs the 50-kernel switch.
 */
interface IPhase {
  id: string;
  name: string;
  kernelName: string;
  comms: CommsOverSubshells;
}
const ALL_PHASES: IPhase[] = [
  {
    id: 'k7-on',
    name: 'ipykernel 7.4, subshells on',
    kernelName: 'python3',
    comms: CommsOverSubshells.PerCommTarget
  },
  {
    id: 'k7-off',
    name: 'ipykernel 7.4, subshells off',
    kernelName: 'python3',
    comms: CommsOverSubshells.Disabled
  },
  {
    id: 'k6',
    name: 'ipykernel 6.29',
    kernelName: 'python3-ipykernel6',
    comms: CommsOverSubshells.PerCommTarget
  }
];
const PHASES = process.env.BENCH_PHASES
  ? ALL_PHASES.filter(p => process.env.BENCH_PHASES!.split(',').includes(p.id))
  : ALL_PHASES;

const WHOAMI = [
  'from carto_credentials import get_default_credentials',
  'from carto_credentials.defaults import default_credentials_source',
  'c = get_default_credentials()',
  'print(c.username if c else None, default_credentials_source())'
].join('\n');
// The first cell of a run also says how long `get_default_credentials()` took (the kernel's
// bounded wait for the push, when the cell reached the kernel first) and whether it waited.
const FIRST_CELL = [
  'from carto_credentials import get_default_credentials',
  'from carto_credentials.defaults import default_credentials_source',
  'import time as _t, carto_credentials.kernel as _k',
  '_t0 = _t.perf_counter()',
  'c = get_default_credentials()',
  '_lookup = (_t.perf_counter() - _t0) * 1000',
  'print(c.username if c else None, default_credentials_source())',
  'print(f"lookup_ms={_lookup:.3f}", "waited" if _k._bridge.waited else "")'
].join('\n');
// Same imports, no credential lookup: what a first cell costs without the bridge.
const CONTROL_CELL =
  'from carto_credentials import get_default_credentials\nprint("x")';

/**
 * Kernel-side instrumentation: an echo comm target for bare round trips, and a hook that acks
 * on the same comm each time a pushed `set_credentials` has been applied.
 */
const INSTRUMENT = `
import carto_credentials.kernel as _K
_bench = {}
def _bench_open(comm, msg):
    _bench['c'] = comm
    comm.on_msg(lambda m: comm.send({'echo': m['content']['data']}))
get_ipython().kernel.comm_manager.register_target('bench.echo', _bench_open)
if not hasattr(_K, '_bench_orig_apply'):
    _K._bench_orig_apply = _K._apply
def _bench_apply(data, kind):
    ok = _K._bench_orig_apply(data, kind)
    c = _bench.get('c')
    if c is not None:
        c.send({'applied': _K.status()['username']})
    return ok
_K._apply = _bench_apply
`;

// @jupyterlab/services narrates every (re)connection; keep stdout for the table.
const bridgeWarnings: string[] = [];
console.debug = () => undefined;
console.info = () => undefined;
console.warn = (...args: unknown[]) => {
  const text = args.map(String).join(' ');
  if (text.startsWith('CARTO')) {
    bridgeWarnings.push(text);
  }
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))];
};
const now = () => performance.now();

/** A notebook's session context without the UI: the slice KernelBridge uses. */
// Not `implements ISessionContextLike`: a real IKernelConnection does not fit IKernelLike
// structurally (ICommLike.onMsg parameter), so it is cast where the bridge is made.
class HeadlessContext {
  readonly kernelChanged = new Signal<
    this,
    { newValue: Kernel.IKernelConnection | null }
  >(this);
  constructor(readonly session: Session.ISessionConnection) {
    session.kernelChanged.connect((_, args) =>
      this.kernelChanged.emit({ newValue: args.newValue })
    );
  }
  get path(): string {
    return this.session.path;
  }
}

async function execute(
  kernel: Kernel.IKernelConnection,
  code: string
): Promise<string> {
  const future = kernel.requestExecute({ code, store_history: false });
  let out = '';
  future.onIOPub = msg => {
    if (KernelMessage.isStreamMsg(msg)) {
      out += msg.content.text;
    } else if (KernelMessage.isErrorMsg(msg)) {
      out += `${msg.content.ename}: ${msg.content.evalue}`;
    }
  };
  await future.done;
  return out;
}

/** Run `code` the moment the kernel (re)connects, after the bridge heard the same signal. */
function runOnConnected(
  kernel: Kernel.IKernelConnection,
  code: string
): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const handler = (_: unknown, status: string) => {
      if (status !== 'connected') {
        return;
      }
      kernel.connectionStatusChanged.disconnect(handler);
      const t0 = now();
      execute(kernel, code).then(
        out => resolve({ ms: now() - t0, out: out.trim() }),
        reject
      );
    };
    kernel.connectionStatusChanged.connect(handler);
  });
}

interface IFirstCells {
  phase: IPhase;
  withBridge: number[];
  control: number[];
  /** What `get_default_credentials()` took in the first cell (ms, kernel clock). */
  lookup: number[];
  seen: number;
  total: number;
  waited: number;
  /** Our comm_open/comm_msg queued for the websocket before the first cell's execute_request. */
  pushFirst: number;
  /** Messages of our comm that carried a subshell id (must stay 0). */
  subshellPushes: number;
  bare: number[];
  change: number[];
  echoSubshell?: string | null;
  seconds: number;
}

/** The order in which shell messages were queued for a kernel's websocket (anyMessage 'send'). */
class WireOrder {
  private readonly _sent: { push: boolean; execute: boolean }[] = [];
  private readonly _ours = new Set<string>();
  cartoOnSubshell = 0;
  constructor(private readonly _kernel: Kernel.IKernelConnection) {
    _kernel.anyMessage.connect(this._onMessage, this);
  }
  get length(): number {
    return this._sent.length;
  }
  /** From `from` on, a push was queued before the first (non-silent) execute_request. */
  pushFirst(from: number): boolean {
    const rest = this._sent.slice(from);
    const push = rest.findIndex(m => m.push);
    const cell = rest.findIndex(m => m.execute);
    return push >= 0 && (cell < 0 || push < cell);
  }
  dispose(): void {
    this._kernel.anyMessage.disconnect(this._onMessage, this);
  }
  private _onMessage(
    _: Kernel.IKernelConnection,
    { msg, direction }: Kernel.IAnyMessageArgs
  ): void {
    if (direction !== 'send') {
      return;
    }
    const type = msg.header.msg_type;
    const content = msg.content as {
      comm_id?: string;
      target_name?: string;
      silent?: boolean;
    };
    if (type === 'comm_open' && content.target_name === COMM_TARGET) {
      this._ours.add(content.comm_id!);
    }
    const ours =
      content.comm_id !== undefined && this._ours.has(content.comm_id);
    if (ours && (msg.header as { subshell_id?: string | null }).subshell_id) {
      this.cartoOnSubshell += 1;
    }
    this._sent.push({
      push: ours && (type === 'comm_open' || type === 'comm_msg'),
      execute: type === 'execute_request' && content.silent !== true
    });
  }
}

/** An open echo comm on a kernel that ran INSTRUMENT. */
class Echo {
  private _waiters: Array<(data: Record<string, unknown>) => boolean> = [];
  readonly comm: Kernel.IComm;
  constructor(kernel: Kernel.IKernelConnection) {
    this.comm = kernel.createComm('bench.echo');
    this.comm.onMsg = msg => {
      const data = msg.content.data as Record<string, unknown>;
      this._waiters = this._waiters.filter(w => !w(data));
    };
    this.comm.open({});
  }
  /** The echo answers; with comms over subshells, on its own subshell. */
  async ready(kernel: Kernel.IKernelConnection): Promise<void> {
    const handler = this.comm as unknown as {
      commsOverSubshells: CommsOverSubshells;
      subshellStarted: Promise<void>;
    };
    await kernel.info;
    if (
      kernel.supportsSubshells &&
      handler.commsOverSubshells !== CommsOverSubshells.Disabled
    ) {
      await handler.subshellStarted;
    }
    for (let i = 0; ; i++) {
      const tag = `ready-${i}`;
      const got = this.next(
        d => (d.echo as { ping?: unknown } | undefined)?.ping === tag
      );
      this.comm.send({ ping: tag });
      const answered = await Promise.race([
        got.then(() => true),
        new Promise<boolean>(res => setTimeout(() => res(false), 1000))
      ]);
      if (answered) {
        // Echoes come back in order: every earlier ready ping has been answered too.
        return;
      }
    }
  }
  /** The subshell services routes this comm to (null: the main shell). */
  get subshellId(): string | null {
    return (this.comm as unknown as { subshellId: string | null }).subshellId;
  }
  next(match: (data: Record<string, unknown>) => boolean): Promise<void> {
    return new Promise(resolve =>
      this._waiters.push(data => {
        if (match(data)) {
          resolve();
          return true;
        }
        return false;
      })
    );
  }
}

async function main(): Promise<void> {
  const began = now();
  const server = await new JupyterServerProcess({
    baseUrl: '/user/alice/',
    logLevel: 'INFO',
    env: PACKAGE_PATH ? { PYTHONPATH: PACKAGE_PATH } : {}
  }).start();
  if (PACKAGE_PATH) {
    console.error(
      `[bench] carto_credentials from ${PACKAGE_PATH} (BENCH_PYTHONPATH)`
    );
  }
  const settings = ServerConnection.makeSettings({
    baseUrl: server.url,
    wsUrl: server.wsUrl,
    token: server.token,
    appendToken: true,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    WebSocket: require('ws')
  });
  const kernelManager = new KernelManager({ serverSettings: settings });
  const sessionManager = new SessionManager({
    serverSettings: settings,
    kernelManager
  });
  const model = new CartoCredentialsModel({
    store: new RestAccountStore(settings)
  });
  model.configure({
    ...DEFAULT_SETTINGS,
    kernelAccess: 'always',
    validateOnLogin: false
  });
  const sessions: Session.ISessionConnection[] = [];
  const bridges: KernelBridge[] = [];
  const rows: string[][] = [];
  const log = (...a: unknown[]) => console.error('[bench]', ...a);
  try {
    await Promise.all([
      kernelManager.ready,
      sessionManager.ready,
      model.refresh()
    ]);
    const alice = await model.addAccount({
      username: 'alice',
      api_key: 'alice-bench-key-0001'
    });
    const bob = await model.addAccount({
      username: 'bob',
      api_key: 'bob-bench-key-0002'
    });

    let phase = PHASES[0];
    /** What the page does when the user changes the setting: every connection follows. */
    const usePhase = (next: IPhase) => {
      phase = next;
      kernelManager.commsOverSubshells = next.comms;
    };
    const open = async (p: string, withBridge: boolean) => {
      const session = await sessionManager.startNew({
        path: p,
        name: p,
        type: 'notebook',
        kernel: { name: phase.kernelName }
      });
      sessions.push(session);
      const bridge = withBridge
        ? new KernelBridge({
            sessionContext: new HeadlessContext(session),
            model
          })
        : null;
      if (bridge) {
        bridges.push(bridge);
      }
      return { session, bridge, kernel: session.kernel! };
    };
    const close = async (session: Session.ISessionConnection) => {
      await session.shutdown();
      session.dispose();
      sessions.splice(sessions.indexOf(session), 1);
    };

    // 1. First cell after start / restart, per phase -----------------------------------------
    const first: IFirstCells[] = [];
    const cycle = async (stats: IFirstCells, i: number, bridged: boolean) => {
      const cell = bridged ? FIRST_CELL : CONTROL_CELL;
      const expect = bridged ? 'alice jupyterlab' : 'x';
      const session = await sessionManager.startNew({
        path: `first/${phase.id}/${bridged ? 'b' : 'c'}${i}.ipynb`,
        name: `b${i}`,
        type: 'notebook',
        kernel: { name: phase.kernelName }
      });
      sessions.push(session);
      const kernel = session.kernel!;
      // startNew resolves with a connection that is still connecting; hook it at once.
      const wire = new WireOrder(kernel);
      let bridge: KernelBridge | null = null;
      if (bridged) {
        bridge = new KernelBridge({
          sessionContext: new HeadlessContext(session),
          model
        });
      }
      const results: { ms: number; out: string; pushFirst: boolean }[] = [];
      if (kernel.connectionStatus === 'connected') {
        const t0 = now();
        const out = (await execute(kernel, cell)).trim();
        results.push({ out, ms: now() - t0, pushFirst: wire.pushFirst(0) });
      } else {
        const r = await runOnConnected(kernel, cell);
        results.push({ ...r, pushFirst: wire.pushFirst(0) });
      }
      const mark = wire.length;
      const afterRestart = runOnConnected(kernel, cell);
      await kernel.restart();
      const r = await afterRestart;
      results.push({ ...r, pushFirst: wire.pushFirst(mark) });
      for (const r of results) {
        (bridged ? stats.withBridge : stats.control).push(r.ms);
        if (bridged) {
          const lines = r.out.split('\n');
          const meta = /^lookup_ms=([\d.]+) ?(waited)?$/.exec(
            lines[lines.length - 1]?.trim() ?? ''
          );
          if (meta) {
            lines.pop();
            stats.lookup.push(Number(meta[1]));
            stats.waited += meta[2] ? 1 : 0;
          }
          r.out = lines.join('\n').trim();
          stats.total += 1;
          stats.seen += r.out === expect ? 1 : 0;
          stats.pushFirst += r.pushFirst ? 1 : 0;
          if (r.out !== expect) {
            log(
              `  ${phase.id} cycle ${i}: first cell printed ${JSON.stringify(r.out)}`
            );
          }
        }
      }
      if (bridged) {
        stats.subshellPushes += wire.cartoOnSubshell;
      }
      wire.dispose();
      bridge?.dispose();
      await close(session);
    };
    for (const p of PHASES) {
      usePhase(p);
      log(
        `first cell, ${p.name}: ${STARTS} starts+restarts with the bridge, ${CONTROL_STARTS} without`
      );
      const t0 = now();
      const stats: IFirstCells = {
        phase: p,
        withBridge: [],
        control: [],
        lookup: [],
        seen: 0,
        total: 0,
        waited: 0,
        pushFirst: 0,
        subshellPushes: 0,
        bare: [],
        change: [],
        seconds: 0
      };
      const cycles = Math.ceil(STARTS / 2);
      const controlCycles = Math.ceil(CONTROL_STARTS / 2);
      for (let i = 0; i < cycles; i++) {
        await cycle(stats, i, true);
        if (i < controlCycles) {
          await cycle(stats, i, false);
        }
      }

      // 2. UI change -> kernel updated vs bare comm round trip (same phase) ---------------------
      log(`UI change vs bare comm round trip, ${p.name}: ${ROUND_TRIPS} each`);
      const path = `rtt/${p.id}.ipynb`;
      const one = await open(path, true);
      await waitFor(
        () => one.kernel.connectionStatus === 'connected',
        30000,
        'kernel'
      );
      await execute(one.kernel, INSTRUMENT);
      const echo = new Echo(one.kernel);
      await echo.ready(one.kernel);
      for (let i = 0; i < ROUND_TRIPS + 5; i++) {
        let t0 = now();
        const got = echo.next(d => 'echo' in d);
        echo.comm.send({ ping: i });
        await got;
        const tBare = now() - t0;
        const target = i % 2 === 0 ? bob : alice;
        const applied = echo.next(d => d.applied === target.username);
        t0 = now();
        model.setNotebookAccount(path, target.id);
        await applied;
        const tChange = now() - t0;
        if (i >= 5) {
          stats.bare.push(tBare);
          stats.change.push(tChange);
        }
      }
      stats.echoSubshell = echo.subshellId;
      model.setNotebookAccount(path, null);
      await close(one.session);
      stats.seconds = (now() - t0) / 1000;
      first.push(stats);
    }

    // 3. Switching the default with many open kernels (first phase: JupyterLab's default) -----
    usePhase(PHASES[0]);
    log(`default switch with ${KERNELS} kernels, ${phase.name}`);
    const many: { kernel: Kernel.IKernelConnection; echo: Echo }[] = [];
    const tOpen = now();
    for (let i = 0; i < KERNELS; i += 5) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(5, KERNELS - i) }, (_, j) =>
          open(`many/nb${i + j}.ipynb`, true)
        )
      );
      for (const nb of batch) {
        await waitFor(
          () => nb.kernel.connectionStatus === 'connected',
          30000,
          'kernel'
        );
        await execute(nb.kernel, INSTRUMENT);
        const e = new Echo(nb.kernel);
        await e.ready(nb.kernel);
        many.push({ kernel: nb.kernel, echo: e });
      }
    }
    log(
      `  ${KERNELS} kernels open in ${((now() - tOpen) / 1000).toFixed(1)} s`
    );
    const bareAll: number[] = [];
    const switchAll: number[] = [];
    const switchFromSignal: number[] = [];
    let current = model.defaultAccountId === alice.id ? alice : bob;
    let allUpdated = true;
    for (let r = 0; r < SWITCHES + 1; r++) {
      let t0 = now();
      const echoes = many.map(m => m.echo.next(d => 'echo' in d));
      many.forEach((m, i) => m.echo.comm.send({ ping: i }));
      await Promise.all(echoes);
      const tBare = now() - t0;
      const target = current.id === alice.id ? bob : alice;
      const applied = many.map(m =>
        m.echo.next(d => d.applied === target.username)
      );
      let tSignal = 0;
      const onChange = () => {
        tSignal = now();
      };
      model.changed.connect(onChange);
      t0 = now();
      const setting = model.setDefault(target.id);
      const done = await Promise.race([
        Promise.all(applied).then(() => true),
        new Promise<boolean>(res => setTimeout(() => res(false), 15000))
      ]);
      await setting;
      const tEnd = now();
      model.changed.disconnect(onChange);
      allUpdated = allUpdated && done;
      current = target;
      if (r > 0) {
        bareAll.push(tBare);
        switchAll.push(tEnd - t0);
        switchFromSignal.push(tEnd - tSignal);
      }
    }
    const finalOut = await Promise.all(
      many.map(m => execute(m.kernel, WHOAMI))
    );
    const allSee = finalOut.every(
      o => o.trim() === `${current.username} jupyterlab`
    );

    // 4. import time ------------------------------------------------------------------------
    // Fresh interpreter each time; and, as a kernel pays it, after IPython/ipykernel are loaded.
    // With a bytecode cache, as an installed package has: this environment may set
    // PYTHONDONTWRITEBYTECODE, which would time the compiler instead of the import.
    const pycache = fs.mkdtempSync(
      path.join(os.tmpdir(), 'carto-bench-pycache-')
    );
    const { PYTHONDONTWRITEBYTECODE: _noBytecode, ...baseEnv } = process.env;
    // Wall time and the process's CPU time of each sample.
    const importMs: number[] = [];
    const importCpuMs: number[] = [];
    const importInKernelMs: number[] = [];
    const timeImport = (pre: string) =>
      execFileSync(
        VENV_PYTHON,
        [
          '-c',
          `${pre}import time; t = time.perf_counter(); c = time.process_time(); ` +
            'import carto_credentials; ' +
            'print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)'
        ],
        {
          env: {
            ...baseEnv,
            HOME: server.dirs.home,
            ...(PACKAGE_PATH ? { PYTHONPATH: PACKAGE_PATH } : {}),
            PYTHONPYCACHEPREFIX: pycache,
            PYDEVD_DISABLE_FILE_VALIDATION: '1'
          },
          stdio: ['ignore', 'pipe', 'ignore']
        }
      )
        .toString()
        .trim()
        .split(' ')
        .map(Number);
    timeImport('import IPython, ipykernel.ipkernel; '); // fills the bytecode cache
    for (let i = 0; i < 15; i++) {
      const [wall, cpu] = timeImport('');
      importMs.push(wall);
      importCpuMs.push(cpu);
      importInKernelMs.push(
        timeImport('import IPython, ipykernel.ipkernel; ')[0]
      );
    }
    fs.rmSync(pycache, { recursive: true, force: true });

    // 5. JS loaded at JupyterLab start ------------------------------------------------------
    const js = startupJs();

    // ---- table ----------------------------------------------------------------------------
    const perKernel = (median(switchAll) - median(bareAll)) / KERNELS;
    const perKernelSignal =
      (median(switchFromSignal) - median(bareAll)) / KERNELS;
    const fmt = (x: number, d = 1) => x.toFixed(d);
    const row = (
      metric: string,
      measured: string,
      bar: string,
      ratio: number,
      ok: boolean
    ) => rows.push([metric, measured, bar, fmt(ratio, 2), ok ? 'yes' : 'NO']);
    for (const f of first) {
      row(
        `first cell after start/restart sees credentials, ${f.phase.name} (${f.total} runs)`,
        `${f.seen}/${f.total}`,
        '100 %, ≥ 50 runs',
        f.seen / Math.max(f.total, 1),
        f.seen === f.total && f.total >= 50
      );
    }
    for (const f of first) {
      const mLookup = median(f.lookup);
      const mBare = median(f.bare);
      row(
        `first cell: get_default_credentials() incl. wait for the push, ${f.phase.name} (median ms)`,
        `${fmt(mLookup, 2)} (p90 ${fmt(p90(f.lookup), 2)}, max ${fmt(Math.max(...f.lookup), 2)})`,
        `no added round trip (< ${fmt(mBare)} ms)`,
        mLookup / mBare,
        f.lookup.length === f.total && mLookup < mBare
      );
    }
    for (const f of first) {
      const mBare = median(f.bare);
      const mChange = median(f.change);
      row(
        `UI change → kernel updated vs bare comm RTT, ${f.phase.name} (median ms)`,
        `${fmt(mChange)} vs ${fmt(mBare)} (p90 ${fmt(p90(f.change))} vs ${fmt(p90(f.bare))})`,
        '≤ 1.2 ×',
        mChange / mBare,
        mChange / mBare <= 1.2
      );
    }
    row(
      `default switch, ${KERNELS} kernels (${PHASES[0].name}): per-kernel cost over a bare message`,
      `${fmt(perKernel, 2)} ms (all ${fmt(median(switchAll))} vs bare ${fmt(median(bareAll))} ms; from signal ${fmt(perKernelSignal, 2)} ms)`,
      '≤ 5 ms, all updated',
      perKernel / 5,
      perKernel <= 5 && allUpdated && allSee
    );
    // Judged on the fastest of 15 fresh interpreters, as `timeit` advises: slower samples measure
    // the other jobs on the machine, not the import. Median wall and CPU times are shown too.
    const importMin = Math.min(...importMs);
    row(
      '`import carto_credentials`, fresh .venv python (min of 15, ms)',
      `${fmt(importMin)} (median wall ${fmt(median(importMs))}, median CPU ${fmt(median(importCpuMs))}; after ipykernel ${fmt(median(importInKernelMs))} wall)`,
      '≤ 50 ms',
      importMin / 50,
      importMin <= 50
    );
    row(
      'labextension JS at start, production build, gzip (KB)',
      `${fmt(js.gzip / 1024)} (${js.files.join(', ')})`,
      '≤ 60 KB',
      js.gzip / 1024 / 60,
      js.gzip / 1024 <= 60
    );
    printTable(rows);
    console.log('');
    for (const f of first) {
      console.log(
        `${f.phase.name} (${fmt(f.seconds)} s): first-cell ms with bridge median ${fmt(median(f.withBridge))}, ` +
          `p90 ${fmt(p90(f.withBridge))}, max ${fmt(Math.max(...f.withBridge))}; without median ${fmt(median(f.control))}, ` +
          `p90 ${fmt(p90(f.control))}. Push ahead of the first cell on the wire ${f.pushFirst}/${f.total}; ` +
          `cells that reached the kernel first and waited for the push ${f.waited}/${f.total}; ` +
          `push messages sent to a subshell ${f.subshellPushes}; bare echo comm on subshell: ${f.echoSubshell ? 'yes' : 'no'}`
      );
    }
    console.log(
      `all ${KERNELS} kernels acked every switch: ${allUpdated}; each printed the final default: ${allSee}`
    );
    if (bridgeWarnings.length) {
      console.log(`bridge warnings: ${bridgeWarnings.join(' / ')}`);
    }
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map(x => x.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`
    );
    console.log(`total bench time ${fmt((now() - began) / 1000)} s`);
    if (process.env.BENCH_JSON) {
      fs.writeFileSync(
        process.env.BENCH_JSON,
        JSON.stringify(
          {
            first,
            bareAll,
            switchAll,
            switchFromSignal,
            importMs,
            importCpuMs,
            importInKernelMs,
            js
          },
          null,
          1
        )
      );
    }
    if (rows.some(r => r[4] !== 'yes')) {
      process.exitCode = 1;
    }
  } finally {
    bridges.forEach(b => b.dispose());
    await Promise.all(sessions.map(s => s.shutdown().catch(() => undefined)));
    model.dispose();
    sessionManager.dispose();
    kernelManager.dispose();
    await server.stop();
    server.cleanup();
  }
}

/** remoteEntry plus the chunks of the modules JupyterLab loads at start (`./extension`, `./style`). */
function startupJs(): { gzip: number; raw: number; files: string[] } {
  // kernel-push.mjs builds src/ for production into a temporary directory and names it here.
  const dir =
    process.env.CARTO_BENCH_LABEXTENSION ??
    path.join(REPO_ROOT, 'carto_credentials', 'labextension');
  const pkg = JSON.parse(
    fs.readFileSync(path.join(dir, 'package.json'), 'utf-8')
  );
  const build = pkg.jupyterlab._build as Record<string, string>;
  const entry = path.join(dir, build.load);
  const source = fs.readFileSync(entry, 'utf-8');
  const chunkIds = new Set<string>();
  for (const exposed of [build.extension, build.style, build.mimeExtension]) {
    if (!exposed) {
      continue;
    }
    const at = source.indexOf(`"${exposed}":`);
    if (at < 0) {
      throw new Error(`${exposed} not found in ${entry}`);
    }
    const body = source.slice(at, source.indexOf('=>()=>', at));
    for (const m of body.matchAll(/\.e\(["']?([\w-]+)["']?\)/g)) {
      chunkIds.add(m[1]);
    }
  }
  const staticDir = path.join(dir, 'static');
  const names = fs.readdirSync(staticDir);
  const files = [path.basename(entry)];
  for (const id of chunkIds) {
    const name = names.find(n => n.startsWith(`${id}.`) && n.endsWith('.js'));
    if (!name) {
      throw new Error(`chunk ${id} not found in ${staticDir}`);
    }
    files.push(name);
  }
  let gzip = 0;
  let raw = 0;
  for (const name of files) {
    const content = fs.readFileSync(path.join(staticDir, name));
    raw += content.length;
    // Tornado's gzip level.
    gzip += gzipSync(content, { level: 6 }).length;
  }
  return { gzip, raw, files };
}

function printTable(rows: string[][]): void {
  const header = ['metric', 'measured', 'bar', 'ratio', 'ok'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map(r => r[i].length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`);
  rows.forEach(r => console.log(line(r)));
}

main().catch(reason => {
  console.error(reason);
  process.exitCode = 2;
});
