/**
 * The real KernelBridge + CartoCredentialsModel + RestAccountStore, in a real SessionContext,
 * against a real jupyter_server 2 (base URL /user/alice/, token) and real ipykernel kernels that
 * register `carto.credentials` from the venv's IPython startup file.
 *
 * The kernel cases run as a matrix (`KERNEL_MATRIX`): ipykernel 7 with JupyterLab's
 * comms-over-subshells setting on (services' default, `perCommTarget`) and off (`disabled`), and
 * ipykernel 6.29. `CARTO_IT_MATRIX=k7-on,k6` runs a subset. The 20-kernel case runs on the
 * default configuration only.
 *
 * Every kernel-side assertion runs a cell that prints what `get_default_credentials()` answers and
 * which precedence level answered (`jupyterlab` = pushed by the bridge): without the bridge the
 * kernel would fall back to the account store (`account store`) or nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CommsOverSubshells, Kernel } from '@jupyterlab/services';

import {
  Lab,
  Notebook,
  WHOAMI,
  WHOAMI_EXPRESSION,
  WHOAMI_IMPORTS,
  evaluate
} from './lab';
import {
  CartoApiProcess,
  JupyterServerProcess,
  listFiles,
  waitFor
} from './server';

const ALICE_KEY = 'alice-demo-key-0001';
const BOB_KEY = 'bob-demo-key-0002';
const CODE_KEY = 'code-set-key-0003';

interface IKernelConfig {
  /** For `CARTO_IT_MATRIX`. */
  id: string;
  title: string;
  kernelName: string;
  /** JupyterLab's `commsOverSubshells` setting, as the page would have it. */
  comms: CommsOverSubshells;
  /** `ipykernel.__version__` starts with this. */
  ipykernel: string;
  /** The kernel advertises JEP 91 subshells (`supported_features`). */
  kernelSubshells: boolean;
  /** Also run the 20-kernel case. */
  heavy: boolean;
}

const KERNEL_MATRIX: IKernelConfig[] = [
  {
    id: 'k7-on',
    title: 'ipykernel 7.4, comms over subshells ON (perCommTarget)',
    kernelName: 'python3',
    comms: CommsOverSubshells.PerCommTarget,
    ipykernel: '7.4.',
    kernelSubshells: true,
    heavy: true
  },
  {
    id: 'k7-off',
    title: 'ipykernel 7.4, comms over subshells OFF (disabled)',
    kernelName: 'python3',
    comms: CommsOverSubshells.Disabled,
    ipykernel: '7.4.',
    kernelSubshells: true,
    heavy: false
  },
  {
    id: 'k6',
    title: 'ipykernel 6.29',
    kernelName: 'python3-ipykernel6',
    comms: CommsOverSubshells.PerCommTarget,
    ipykernel: '6.29.',
    kernelSubshells: false,
    heavy: false
  }
];

const SELECTED = process.env.CARTO_IT_MATRIX
  ? KERNEL_MATRIX.filter(c =>
      process.env.CARTO_IT_MATRIX!.split(',').includes(c.id)
    )
  : KERNEL_MATRIX;

let server: JupyterServerProcess;
let carto: CartoApiProcess;
let admin: Lab;
let aliceId: string;
let bobId: string;

beforeAll(async () => {
  carto = new CartoApiProcess();
  server = new JupyterServerProcess({
    baseUrl: '/user/alice/',
    // Notice a dead kernel quickly (default 3 s) so the auto-restart test stays short.
    args: ['--KernelRestarter.time_to_dead=0.5']
  });
  await Promise.all([carto.start(), server.start()]);
  admin = await new Lab(server, {
    validateOnLogin: true,
    allowNonHttps: true,
    kernelAccess: 'ask'
  }).ready();
  // Log in through the model: the server validates each key against the local CARTO API.
  const alice = await admin.model.addAccount({
    base_url: carto.userUrl('alice'),
    api_key: ALICE_KEY,
    label: 'alice'
  });
  const bob = await admin.model.addAccount({
    base_url: carto.userUrl('bob'),
    api_key: BOB_KEY,
    label: 'bob'
  });
  aliceId = alice.id;
  bobId = bob.id;
}, 60000);

afterAll(async () => {
  try {
    await admin?.dispose();
  } finally {
    await server?.stop();
    await carto?.stop();
  }
  // Leak scan happens in the last test; the tree is removed only when everything passed.
  if (leakScanPassed) {
    server.cleanup();
  }
}, 60000);

let leakScanPassed = false;

describe('login through the model and the REST store', () => {
  it('validated both accounts against CARTO and made the first one the default', () => {
    expect(admin.model.defaultAccountId).toBe(aliceId);
    const alice = admin.model.accounts.find(a => a.id === aliceId)!;
    expect(alice.username).toBe('alice');
    expect(alice.baseUrl).toBe(carto.userUrl('alice'));
    const stat = fs.statSync(server.storePath);
    expect(stat.mode & 0o777).toBe(0o600);
  });
});

/** What a cell run around an auto-restart reports: the kernel's process id and `whoami()`. */
interface IWhoamiAfterRestart {
  pid: string;
  who: string;
}

/**
 * Ask a kernel around an auto-restart who it is. While the server restarts a kernel,
 * @jupyterlab/services sometimes clears its state twice and drops or cancels what was queued
 * ("Canceled future for …", or a cell that never comes back): that cell never ran, so it is sent
 * again, at most three times. The kernel's own wait for credentials is 2 s, far below the 15 s
 * allowed per attempt.
 */
async function whoamiThroughRestart(
  kernel: Kernel.IKernelConnection
): Promise<IWhoamiAfterRestart> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await evaluate(
        kernel,
        `import os\n${WHOAMI_IMPORTS}`,
        { pid: 'os.getpid()', who: WHOAMI_EXPRESSION },
        15000
      );
    } catch (reason) {
      if (
        attempt === 3 ||
        !/Canceled future|cell timed out/.test(String(reason))
      ) {
        throw reason;
      }
    }
  }
}

/** The bridge's push went out before the first cell sent from `sent[from]` on. */
function expectPushedBeforeFirstCell(nb: Notebook, from: number): void {
  const { push, execute: cell } = nb.order(from);
  expect(push).toBeGreaterThanOrEqual(0);
  expect(cell).toBeGreaterThan(push);
}

describe.each(SELECTED)('$title', config => {
  let lab: Lab;
  // Notebook paths of this configuration: grants are per path, on the shared server.
  const at = (p: string) => `${config.id}/${p}`;

  beforeAll(async () => {
    lab = await new Lab(
      server,
      { validateOnLogin: true, allowNonHttps: true, kernelAccess: 'ask' },
      { kernelName: config.kernelName, commsOverSubshells: config.comms }
    ).ready();
  }, 60000);

  afterAll(async () => {
    await lab?.dispose();
  }, 60000);

  async function useDefault(id: string, notebooks: Notebook[]): Promise<void> {
    const before = notebooks.map(n => n.pushes.length);
    await lab.model.setDefault(id);
    await Promise.all(notebooks.map((n, i) => n.waitForPush(before[i])));
  }

  describe('credentials reach the kernel', () => {
    let nb: Notebook;

    beforeAll(async () => {
      await lab.model.setGrant(at('work/granted.ipynb'), 'allow');
      nb = await lab.open(at('work/granted.ipynb'));
    }, 60000);

    it('first cell after start sees the default account, pushed by the bridge before it', async () => {
      expect(await nb.whoami()).toBe('alice jupyterlab');
      expectPushedBeforeFirstCell(nb, 0);
      const status = await nb.run(
        'import carto_credentials.kernel as k; s = k.status(); ' +
          "print(s['state'], s['session_path'], s['kernel_id'], s['base_url'])"
      );
      expect(status.trim()).toBe(
        `granted ${at('work/granted.ipynb')} ${nb.kernel.id} ${carto.userUrl('alice').replace(/\/$/, '')}`
      );
    });

    it('the push stays on the main shell; the setting holds for other comms', async () => {
      const kernel = nb.kernel;
      const version = await nb.run(
        'import ipykernel; print(ipykernel.__version__)'
      );
      expect(version.trim().startsWith(config.ipykernel)).toBe(true);
      expect(kernel.supportsSubshells).toBe(config.kernelSubshells);
      expect(kernel.commsOverSubshells).toBe(config.comms);
      // Every message of our comm went to the main shell, and no subshell was made for it.
      const ours = nb.sent.filter(m => m.carto);
      expect(ours.length).toBeGreaterThan(0);
      expect(ours.filter(m => m.subshellId !== null)).toEqual([]);
      expect(nb.sent.filter(m => m.type === 'create_subshell_request')).toEqual(
        []
      );
      if (config.kernelSubshells) {
        const listed = await kernel.requestListSubshell({}).done;
        expect(listed.content.subshell_id).toEqual([]);
      }
      // Control: a comm of another target on the same connection follows the page's setting.
      const control = kernel.createComm('carto.test.control');
      // The real object is services' CommHandler, whose subshell getters IComm does not declare.
      const handler = control as unknown as {
        readonly subshellId: string | null;
        readonly subshellStarted: Promise<void>;
      };
      const followsSetting =
        config.kernelSubshells && config.comms !== CommsOverSubshells.Disabled;
      let listed: string[] | null = null;
      if (followsSetting) {
        await handler.subshellStarted;
        listed = (await kernel.requestListSubshell({}).done).content
          .subshell_id;
      } else {
        // Any subshell request would have gone out before this cell's reply.
        await nb.run('pass');
      }
      const controlSubshell = handler.subshellId;
      control.dispose();
      if (followsSetting) {
        expect(controlSubshell).toEqual(expect.any(String));
        expect(listed).toEqual([controlSubshell]);
      } else {
        expect(controlSubshell).toBeNull();
        expect(
          nb.sent.filter(m => m.type === 'create_subshell_request')
        ).toEqual([]);
      }
    });

    it('first cell after a user restart sees the credentials', async () => {
      const kernelId = nb.kernel.id;
      await nb.run('import carto_credentials.kernel as k; k._bridge.reset()');
      const mark = nb.sent.length;
      await nb.context.restartKernel();
      // Sent right after restartKernel() resolves, like Restart & Run All.
      expect(await nb.whoami()).toBe('alice jupyterlab');
      expectPushedBeforeFirstCell(nb, mark);
      expect(nb.kernel.id).toBe(kernelId);
      expect(
        nb.sent.slice(mark).filter(m => m.carto && m.subshellId !== null)
      ).toEqual([]);
    });

    it('first cell after an auto-restart (kernel process killed) sees the credentials', async () => {
      const kernel = nb.kernel;
      const statuses: string[] = [];
      kernel.statusChanged.connect((_, s) => statuses.push(s));
      const pid = (await nb.run('import os; print(os.getpid())')).trim();
      kernel.requestExecute({ code: 'import os; os.kill(os.getpid(), 9)' });
      const mark = nb.sent.length;
      await waitFor(
        () => statuses.includes('autorestarting'),
        60000,
        'the server to auto-restart the kernel'
      );
      await waitFor(
        () => kernel.connectionStatus === 'connected',
        60000,
        'the restarted kernel'
      );
      const after = await whoamiThroughRestart(kernel);
      expect(after.pid).not.toBe(pid);
      expect(after.who).toBe('alice jupyterlab');
      expectPushedBeforeFirstCell(nb, mark);
    });

    it('a cell queued while the kernel auto-restarts still sees the credentials (kernel-side bounded wait)', async () => {
      // A kernel of its own: not one @jupyterlab/services is still settling from the previous test's
      // restart, where a second restart cancels services' own pending kernel_info request.
      await lab.model.setGrant(at('work/queued.ipynb'), 'allow');
      const queued = await lab.open(at('work/queued.ipynb'));
      expect(await queued.whoami()).toBe('alice jupyterlab');
      const kernel = queued.kernel;
      // Queued from the moment services starts reconnecting to the restarted kernel: polling for
      // the status instead would race the reconnect (the bridge may have pushed already). Services
      // holds the cell until the new kernel answers kernel_info and queues the push behind it, so
      // the kernel's bounded wait is what picks the push up.
      const queuedCell: {
        mark: number;
        output?: Promise<IWhoamiAfterRestart>;
      } = {
        mark: -1
      };
      const queueCell = (_: unknown, status: Kernel.ConnectionStatus) => {
        if (status === 'connecting' && !queuedCell.output) {
          queuedCell.mark = queued.sent.length;
          queuedCell.output = whoamiThroughRestart(kernel);
        }
      };
      kernel.connectionStatusChanged.connect(queueCell);
      kernel.requestExecute({ code: 'import os; os.kill(os.getpid(), 9)' });
      await waitFor(
        () => queuedCell.output !== undefined,
        60000,
        'the server to auto-restart the kernel'
      );
      kernel.connectionStatusChanged.disconnect(queueCell);
      const { who } = await queuedCell.output!;
      const { push, execute: cell } = queued.order(queuedCell.mark);
      expect(cell).toBeGreaterThanOrEqual(0);
      expect(push).toBeGreaterThan(cell);
      expect(who).toBe('alice jupyterlab');
      await queued.shutdown();
    });

    it('after a websocket reconnect, a change made while disconnected reaches the kernel', async () => {
      const kernel = nb.kernel;
      const reconnected = kernel.reconnect();
      expect(kernel.connectionStatus).toBe('connecting');
      // The bridge cannot push now; it must push again once connected.
      lab.model.setNotebookAccount(nb.context.path, bobId);
      await reconnected;
      await waitFor(
        async () => (await nb.whoami()) === 'bob jupyterlab',
        10000,
        'bob in the kernel after reconnect'
      );
      lab.model.setNotebookAccount(nb.context.path, null);
      await waitFor(
        async () => (await nb.whoami()) === 'alice jupyterlab',
        10000,
        'alice back in the kernel'
      );
    });

    it('after a kernel change, the new kernel gets the credentials before its first cell', async () => {
      const oldId = nb.kernel.id;
      const mark = nb.sent.length;
      await nb.context.changeKernel({ name: config.kernelName });
      await waitFor(
        () => nb.kernel.connectionStatus === 'connected',
        30000,
        'the new kernel'
      );
      expect(nb.kernel.id).not.toBe(oldId);
      expect(await nb.whoami()).toBe('alice jupyterlab');
      expectPushedBeforeFirstCell(nb, mark);
    });

    it('credentials set by notebook code reach the model (source "code")', async () => {
      const kernelId = nb.kernel.id;
      const out = await nb.run(
        'from carto_credentials import set_default_credentials\n' +
          `set_default_credentials('bob', '${CODE_KEY}')\n` +
          WHOAMI
      );
      expect(out.trim()).toBe('bob code');
      const resolved = await waitFor(
        async () => {
          const r = await lab.model.resolve({ kernelId });
          return r?.source === 'code' ? r : null;
        },
        10000,
        'credentials_changed in the model'
      );
      expect(resolved.username).toBe('bob');
      expect(resolved.apiKey).toBe(CODE_KEY);
      expect(resolved.baseUrl).toBe('https://bob.carto.com/');
      // The notebook path still resolves to its pushed account for other kernels.
      await nb.run(
        'from carto_credentials import unset_default_credentials; unset_default_credentials()'
      );
      await waitFor(
        async () =>
          (await lab.model.resolve({ kernelId }))?.source === 'default',
        10000,
        'the unset to reach the model'
      );
      await nb.shutdown();
    });
  });

  describe('per-notebook choices and grants', () => {
    it("a notebook's own account reaches that kernel only", async () => {
      await lab.model.setGrant(at('work/a.ipynb'), 'allow');
      await lab.model.setGrant(at('work/b.ipynb'), 'allow');
      const [a, b] = await Promise.all([
        lab.open(at('work/a.ipynb')),
        lab.open(at('work/b.ipynb'))
      ]);
      expect(await a.whoami()).toBe('alice jupyterlab');
      expect(await b.whoami()).toBe('alice jupyterlab');
      const before = [a.pushes.length, b.pushes.length];
      lab.model.setNotebookAccount(at('work/b.ipynb'), bobId);
      await b.waitForPush(before[1]);
      expect(await b.whoami()).toBe('bob jupyterlab');
      expect(await a.whoami()).toBe('alice jupyterlab');
      expect(a.pushes.length).toBe(before[0]);
      expect(await lab.model.resolve({ kernelId: b.kernel.id })).toMatchObject({
        username: 'bob',
        source: 'notebook'
      });
      await Promise.all([a.shutdown(), b.shutdown()]);
    });

    it('a notebook that is not granted gets no key, not even the store default', async () => {
      const path = at('work/not-granted.ipynb');
      const nb = await lab.open(path);
      expect(lab.model.accessFor(path)).toBe('undecided');
      expect(await nb.whoami()).toBe('None None');
      const out = await nb.run(
        'import carto_credentials.kernel as k; print(k.status()["state"])\n' +
          'from carto_credentials import sql\n' +
          'try:\n    sql("select 1")\nexcept Exception as e:\n    print(type(e).__name__, e)'
      );
      expect(out).toContain('not_granted');
      expect(out).toContain(
        "allow it with the command 'Allow CARTO Access for This Notebook'"
      );
      expect(out).not.toContain(ALICE_KEY);
      // Granting it pushes the account without a restart.
      const before = nb.pushes.length;
      await lab.model.setGrant(path, 'allow');
      await nb.waitForPush(before);
      expect(await nb.whoami()).toBe('alice jupyterlab');
      await nb.shutdown();
    });
  });

  (config.heavy ? describe : describe.skip)('many kernels', () => {
    it('20 kernels are all updated on a default change', async () => {
      const paths = Array.from({ length: 20 }, (_, i) =>
        at(`many/nb${i}.ipynb`)
      );
      for (const p of paths) {
        await lab.model.setGrant(p, 'allow');
      }
      const notebooks: Notebook[] = [];
      // Five at a time: 2 cores.
      for (let i = 0; i < paths.length; i += 5) {
        notebooks.push(
          ...(await Promise.all(paths.slice(i, i + 5).map(p => lab.open(p))))
        );
      }
      const first = await Promise.all(notebooks.map(n => n.whoami()));
      expect(first).toEqual(paths.map(() => 'alice jupyterlab'));
      await useDefault(bobId, notebooks);
      const after = await Promise.all(notebooks.map(n => n.whoami()));
      expect(after).toEqual(paths.map(() => 'bob jupyterlab'));
      await useDefault(aliceId, notebooks);
      const back = await Promise.all(notebooks.map(n => n.whoami()));
      expect(back).toEqual(paths.map(() => 'alice jupyterlab'));
      await Promise.all(notebooks.map(n => n.shutdown()));
    });
  });
});

describe('no key at rest outside the store', () => {
  it('finds the test keys only in the 0600 store file', async () => {
    await admin.dispose();
    await server.stop();
    const roots = [
      server.dirs.config,
      server.dirs.data,
      server.dirs.runtime,
      server.dirs.home,
      server.dirs.ipython,
      server.dirs.xdg,
      server.dirs.notebooks
    ];
    const files = [...roots.flatMap(listFiles), server.logPath];
    expect(files).toContain(server.storePath);
    const hits: string[] = [];
    for (const file of files) {
      const content = fs.readFileSync(file);
      for (const key of [ALICE_KEY, BOB_KEY]) {
        if (content.includes(key)) {
          hits.push(`${path.relative(server.root, file)}: ${key}`);
        }
      }
    }
    expect(hits.sort()).toEqual(
      [ALICE_KEY, BOB_KEY]
        .map(key => `${path.relative(server.root, server.storePath)}: ${key}`)
        .sort()
    );
    expect(fs.statSync(server.storePath).mode & 0o777).toBe(0o600);
    // The server did log requests (so the scan looked at a real log).
    expect(server.log()).toContain('carto-credentials/accounts');
    leakScanPassed = true;
  });
});
