/**
 * The real KernelBridge + CartoCredentialsModel + RestAccountStore, in a real SessionContext,
 * against a real jupyter_server (base URL /user/alice/, token) and real ipykernel kernels that
 * register `carto.credentials` from the venv's IPython startup file.
 *
 * Every kernel-side assertion runs a cell that prints what `get_default_credentials()` answers and
 * which precedence level answered (`jupyterlab` = pushed by the bridge): without the bridge the
 * kernel would fall back to the account store (`account store`) or nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Kernel } from '@jupyterlab/services';

import { Lab, Notebook, WHOAMI, execute } from './lab';
import {
  CartoApiProcess,
  JupyterServerProcess,
  listFiles,
  waitFor
} from './server';

const ALICE_KEY = 'alice-demo-key-0001';
const BOB_KEY = 'bob-demo-key-0002';
const CODE_KEY = 'code-set-key-0003';

let server: JupyterServerProcess;
let carto: CartoApiProcess;
let lab: Lab;
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
  lab = await new Lab(server, {
    validateOnLogin: true,
    allowNonHttps: true,
    kernelAccess: 'ask'
  }).ready();
  // Log in through the model: the server validates each key against the local CARTO API.
  const alice = await lab.model.addAccount({
    base_url: carto.userUrl('alice'),
    api_key: ALICE_KEY,
    label: 'alice'
  });
  const bob = await lab.model.addAccount({
    base_url: carto.userUrl('bob'),
    api_key: BOB_KEY,
    label: 'bob'
  });
  aliceId = alice.id;
  bobId = bob.id;
}, 60000);

afterAll(async () => {
  try {
    await lab?.dispose();
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

async function useDefault(id: string, notebooks: Notebook[]): Promise<void> {
  const before = notebooks.map(n => n.pushes.length);
  await lab.model.setDefault(id);
  await Promise.all(notebooks.map((n, i) => n.waitForPush(before[i])));
}

describe('login through the model and the REST store', () => {
  it('validated both accounts against CARTO and made the first one the default', () => {
    expect(lab.model.defaultAccountId).toBe(aliceId);
    const alice = lab.model.accounts.find(a => a.id === aliceId)!;
    expect(alice.username).toBe('alice');
    expect(alice.baseUrl).toBe(carto.userUrl('alice'));
    const stat = fs.statSync(server.storePath);
    expect(stat.mode & 0o777).toBe(0o600);
  });
});

/**
 * Run a cell around an auto-restart. While the server restarts a kernel, @jupyterlab/services
 * sometimes clears its state twice and drops or cancels what was queued ("Canceled future for …",
 * or a cell that never comes back): that cell never ran, so it is sent again, at most three
 * times. The kernel's own wait for credentials is 2 s, far below the 15 s allowed per attempt.
 */
async function executeThroughRestart(
  kernel: Kernel.IKernelConnection,
  code: string
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await execute(kernel, code, 15000);
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

describe('credentials reach the kernel', () => {
  let nb: Notebook;

  beforeAll(async () => {
    await lab.model.setGrant('work/granted.ipynb', 'allow');
    nb = await lab.open('work/granted.ipynb');
  });

  it('first cell after start sees the default account, pushed by the bridge', async () => {
    expect(await nb.whoami()).toBe('alice jupyterlab');
    const status = await nb.run(
      'import carto_credentials.kernel as k; s = k.status(); ' +
        "print(s['state'], s['session_path'], s['kernel_id'], s['base_url'])"
    );
    expect(status.trim()).toBe(
      `granted work/granted.ipynb ${nb.kernel.id} ${carto.userUrl('alice').replace(/\/$/, '')}`
    );
  });

  it('first cell after a user restart sees the credentials', async () => {
    const kernelId = nb.kernel.id;
    await nb.run('import carto_credentials.kernel as k; k._bridge.reset()');
    await nb.context.restartKernel();
    // Sent right after restartKernel() resolves, like Restart & Run All.
    expect(await nb.whoami()).toBe('alice jupyterlab');
    expect(nb.kernel.id).toBe(kernelId);
  });

  it('first cell after an auto-restart (kernel process killed) sees the credentials', async () => {
    const kernel = nb.kernel;
    const statuses: string[] = [];
    kernel.statusChanged.connect((_, s) => statuses.push(s));
    const pid = (await nb.run('import os; print(os.getpid())')).trim();
    kernel.requestExecute({ code: 'import os; os.kill(os.getpid(), 9)' });
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
    const out = await executeThroughRestart(
      kernel,
      'import os; print(os.getpid())\n' + WHOAMI
    );
    const [newPid, who] = out.trim().split('\n');
    expect(newPid).not.toBe(pid);
    expect(who).toBe('alice jupyterlab');
  });

  it('a cell queued while the kernel auto-restarts still sees the credentials', async () => {
    // A kernel of its own: not one @jupyterlab/services is still settling from the previous test's
    // restart, where a second restart cancels services' own pending kernel_info request.
    await lab.model.setGrant('work/queued.ipynb', 'allow');
    const queued = await lab.open('work/queued.ipynb');
    expect(await queued.whoami()).toBe('alice jupyterlab');
    const kernel = queued.kernel;
    const statuses: string[] = [];
    kernel.statusChanged.connect((_, s) => statuses.push(s));
    kernel.requestExecute({ code: 'import os; os.kill(os.getpid(), 9)' });
    await waitFor(
      () => statuses.includes('autorestarting'),
      60000,
      'the server to auto-restart the kernel'
    );
    // Queued before the new kernel is connected: services sends it ahead of the bridge's push,
    // and the kernel's bounded wait picks the push up.
    expect((await executeThroughRestart(kernel, WHOAMI)).trim()).toBe(
      'alice jupyterlab'
    );
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
    await nb.context.changeKernel({ name: 'python3' });
    await waitFor(
      () => nb.kernel.connectionStatus === 'connected',
      30000,
      'the new kernel'
    );
    expect(nb.kernel.id).not.toBe(oldId);
    expect(await nb.whoami()).toBe('alice jupyterlab');
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
      async () => (await lab.model.resolve({ kernelId }))?.source === 'default',
      10000,
      'the unset to reach the model'
    );
  });
});

describe('per-notebook choices and grants', () => {
  it("a notebook's own account reaches that kernel only", async () => {
    await lab.model.setGrant('work/a.ipynb', 'allow');
    await lab.model.setGrant('work/b.ipynb', 'allow');
    const [a, b] = await Promise.all([
      lab.open('work/a.ipynb'),
      lab.open('work/b.ipynb')
    ]);
    expect(await a.whoami()).toBe('alice jupyterlab');
    expect(await b.whoami()).toBe('alice jupyterlab');
    const before = [a.pushes.length, b.pushes.length];
    lab.model.setNotebookAccount('work/b.ipynb', bobId);
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
    const nb = await lab.open('work/not-granted.ipynb');
    expect(lab.model.accessFor('work/not-granted.ipynb')).toBe('undecided');
    expect(await nb.whoami()).toBe('None None');
    const out = await nb.run(
      'import carto_credentials.kernel as k; print(k.status()["state"])\n' +
        'from carto_credentials import sql\n' +
        'try:\n    sql("select 1")\nexcept Exception as e:\n    print(type(e).__name__, e)'
    );
    expect(out).toContain('not_granted');
    expect(out).toContain('allow it in the CARTO panel');
    expect(out).not.toContain(ALICE_KEY);
    // Granting it pushes the account without a restart.
    const before = nb.pushes.length;
    await lab.model.setGrant('work/not-granted.ipynb', 'allow');
    await nb.waitForPush(before);
    expect(await nb.whoami()).toBe('alice jupyterlab');
    await nb.shutdown();
  });
});

describe('many kernels', () => {
  it('20 kernels are all updated on a default change', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `many/nb${i}.ipynb`);
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

describe('no key at rest outside the store', () => {
  it('finds the test keys only in the 0600 store file', async () => {
    await lab.dispose();
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
