import { CommsOverSubshells } from '@jupyterlab/services';

import { KernelBridge } from '../src/bridge';
import { CartoCredentialsModel } from '../src/model';
import { FakeKernel, FakeSessionContext, FakeStore, settle } from './fakes';

async function setup(kernel: FakeKernel | null = new FakeKernel('k1')) {
  const store = new FakeStore();
  store.add('acc-a', 'alice', 'alice-key');
  store.add('acc-b', 'bob', 'bob-key');
  store.defaultId = 'acc-a';
  store.grantMap['nb.ipynb'] = 'allow';
  const model = new CartoCredentialsModel({ store });
  await model.refresh();
  const context = new FakeSessionContext('nb.ipynb', kernel);
  const bridge = new KernelBridge({ sessionContext: context, model });
  await settle();
  return { store, model, context, bridge, kernel };
}

const username = (message: unknown) =>
  (message as { account: { username: string } | null }).account?.username ??
  null;

describe('KernelBridge', () => {
  it('opens the comm with the credentials in the open message, subshells disabled', async () => {
    const { kernel } = await setup();
    expect(kernel!.comms).toHaveLength(1);
    const comm = kernel!.comms[0];
    expect(comm.commsOverSubshells).toBe(CommsOverSubshells.Disabled);
    expect(comm.opened).toEqual([
      {
        version: 1,
        type: 'set_credentials',
        session_path: 'nb.ipynb',
        kernel_id: 'k1',
        state: 'granted',
        account: {
          id: 'acc-a',
          label: 'alice',
          username: 'alice',
          base_url: 'https://alice.carto.com/',
          api_key: 'alice-key'
        }
      }
    ]);
    expect(comm.sent).toEqual([]);
  });

  it('pushes again on the live comm when the default changes, once', async () => {
    const { kernel, model } = await setup();
    await model.setDefault('acc-b');
    await settle();
    await model.refresh(); // nothing changed for this notebook: no message
    await settle();
    expect(kernel!.comms).toHaveLength(1);
    expect(kernel!.comms[0].sent.map(username)).toEqual(['bob']);
  });

  it('reopens the comm after a restart disposed it', async () => {
    const { kernel } = await setup();
    kernel!.restart();
    await settle();
    expect(kernel!.comms).toHaveLength(2);
    expect(kernel!.comms[1].opened.map(username)).toEqual(['alice']);
  });

  it('re-sends on a websocket reconnect where the comm survived', async () => {
    const { kernel } = await setup();
    kernel!.setStatus('connecting');
    kernel!.setStatus('connected');
    await settle();
    expect(kernel!.comms).toHaveLength(1);
    expect(kernel!.comms[0].sent.map(username)).toEqual(['alice']);
  });

  it('follows a kernel change and forgets the old kernel', async () => {
    const { kernel, context, model } = await setup();
    const next = new FakeKernel('k2');
    context.changeKernel(next);
    await settle();
    expect(next.comms[0].opened.map(username)).toEqual(['alice']);
    await model.setDefault('acc-b');
    await settle();
    expect(kernel!.comms[0].sent).toEqual([]);
    expect(next.comms[0].sent.map(username)).toEqual(['bob']);
  });

  it('waits for a kernel that is still connecting', async () => {
    const kernel = new FakeKernel('k1');
    kernel.connectionStatus = 'connecting';
    await setup(kernel);
    expect(kernel.comms).toHaveLength(0);
    kernel.setStatus('connected');
    await settle();
    expect(kernel.comms).toHaveLength(1);
  });

  it('pushes the notebook account only to that notebook', async () => {
    const { kernel, model } = await setup();
    model.setNotebookAccount('other.ipynb', 'acc-b');
    await settle();
    expect(kernel!.comms[0].sent).toEqual([]);
    model.setNotebookAccount('nb.ipynb', 'acc-b');
    await settle();
    expect(kernel!.comms[0].sent.map(username)).toEqual(['bob']);
  });

  it('sends not_granted without a key when access is revoked', async () => {
    const { kernel, model } = await setup();
    await model.revokeGrant('nb.ipynb');
    await settle();
    expect(kernel!.comms[0].sent).toEqual([
      expect.objectContaining({ state: 'not_granted', account: null })
    ]);
  });

  it('bootstraps once when the kernel closes the comm straight back', async () => {
    const { kernel, store } = await setup();
    kernel!.comms[0].closeFromKernel();
    await settle();
    expect(kernel!.executed).toEqual([store.bootstrapCode]);
    expect(kernel!.comms).toHaveLength(2);
    kernel!.comms[1].closeFromKernel();
    await settle();
    expect(kernel!.executed).toHaveLength(1);
    expect(kernel!.comms).toHaveLength(2);
  });

  it('sends no Python to a kernel of another language that refuses the comm', async () => {
    const kernel = new FakeKernel('k-r', 'R');
    await setup(kernel);
    kernel.comms[0].closeFromKernel();
    await settle();
    expect(kernel.executed).toEqual([]);
    expect(kernel.comms).toHaveLength(1);
  });

  it('skips the bootstrap when the server cannot give one', async () => {
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    const store = new FakeStore();
    store.kernelBootstrap = () =>
      Promise.reject(new Error('no server extension'));
    const model = new CartoCredentialsModel({ store });
    await model.refresh();
    const kernel = new FakeKernel('k1');
    new KernelBridge({
      sessionContext: new FakeSessionContext('nb.ipynb', kernel),
      model
    });
    await settle();
    kernel.comms[0].closeFromKernel();
    await settle();
    expect(kernel.executed).toEqual([]);
    expect(kernel.comms).toHaveLength(1);
    warn.mockRestore();
  });

  it('takes credentials set by notebook code into the model', async () => {
    const { kernel, model } = await setup();
    kernel!.comms[0].receive({
      version: 1,
      type: 'credentials_changed',
      credentials: {
        username: 'carol',
        base_url: 'https://carol.carto.com/',
        api_key: 'carol-key'
      }
    });
    expect((await model.resolve({ kernelId: 'k1' }))?.apiKey).toBe('carol-key');
    kernel!.comms[0].receive({
      version: 1,
      type: 'credentials_changed',
      credentials: null
    });
    expect((await model.resolve({ kernelId: 'k1' }))?.apiKey).toBe('alice-key');
  });

  it('ignores malformed kernel messages', async () => {
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    const { kernel, model } = await setup();
    for (const bad of [
      null,
      'text',
      { version: 2, type: 'credentials_changed', credentials: null },
      { version: 1, type: 'credentials_changed', credentials: { username: 1 } },
      { version: 1, type: 'unknown' }
    ]) {
      kernel!.comms[0].receive(bad);
    }
    expect(model.accounts.some(a => a.isRuntime)).toBe(false);
    expect(warn).toHaveBeenCalledTimes(5);
    expect(JSON.stringify(warn.mock.calls)).not.toMatch(/credentials_changed/);
    warn.mockRestore();
  });

  it('stops pushing once disposed', async () => {
    const { kernel, model, bridge } = await setup();
    bridge.dispose();
    await model.setDefault('acc-b');
    await settle();
    expect(kernel!.comms[0].sent).toEqual([]);
  });
});

describe('KernelBridge register_credentials', () => {
  const REF = 'rt-0123456789abcdef';
  const message = {
    version: 1,
    type: 'register_credentials',
    ref: REF,
    credentials: {
      username: 'bob',
      base_url: 'https://bob.carto.com/',
      api_key: 'bob-code-key'
    }
  };

  it('registers credentials by reference for that kernel only', async () => {
    const { kernel, model } = await setup();
    const changes: unknown[] = [];
    model.changed.connect((_, change) => changes.push(change));
    kernel!.comms[0].receive(message);
    expect((await model.resolve({ kernelId: 'k1', ref: REF }))?.apiKey).toBe(
      'bob-code-key'
    );
    expect(await model.resolve({ kernelId: 'k2', ref: REF })).toBeNull();
    // The notebook's own context is unchanged.
    expect((await model.resolve({ kernelId: 'k1' }))?.apiKey).toBe('alice-key');
    expect(changes).toEqual([
      { type: 'runtime', kernelId: 'k1', path: 'nb.ipynb' }
    ]);
    expect(JSON.stringify(changes)).not.toContain('bob-code-key');
  });

  it('ignores registrations with a malformed reference', async () => {
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    const { kernel, model } = await setup();
    kernel!.comms[0].receive({ ...message, ref: 'acc-a' });
    kernel!.comms[0].receive({ ...message, credentials: { username: 'x' } });
    expect(await model.resolve({ kernelId: 'k1', ref: 'acc-a' })).toBeNull();
    expect(warn).toHaveBeenCalledTimes(2);
    warn.mockRestore();
  });
});
