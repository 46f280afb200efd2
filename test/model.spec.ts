import { CartoCredentialsModel } from '../src/model';
import { DEFAULT_SETTINGS } from '../src/settings';
import type { ICartoCredentials } from '../src/tokens';
import { FakeStore, settle } from './fakes';

async function makeModel(
  setup: (store: FakeStore) => void = () => undefined
): Promise<{ model: CartoCredentialsModel; store: FakeStore }> {
  const store = new FakeStore();
  store.add('acc-a', 'alice', 'alice-secret-key');
  store.add('acc-b', 'bob', 'bob-secret-key');
  store.add('acc-p', 'public', 'default_public');
  store.defaultId = 'acc-a';
  setup(store);
  const model = new CartoCredentialsModel({ store });
  await model.refresh();
  return { model, store };
}

describe('CartoCredentialsModel', () => {
  describe('#refresh()', () => {
    it('loads accounts and the default, and resolves ready', async () => {
      const { model } = await makeModel();
      await model.ready;
      expect(model.accounts.map(a => a.id)).toEqual([
        'acc-a',
        'acc-b',
        'acc-p'
      ]);
      expect(model.defaultAccountId).toBe('acc-a');
      expect(model.accounts[2].isPublic).toBe(true);
    });
  });

  describe('#sync()', () => {
    it('follows what another window changed, and says nothing when nothing did', async () => {
      const { model, store } = await makeModel();
      // Another window of the same server, on the same store.
      const other = new CartoCredentialsModel({ store });
      await other.refresh();
      const seen: string[] = [];
      model.accountsChanged.connect(() => seen.push('accounts'));
      model.defaultChanged.connect((_, id) => seen.push(`default ${id}`));
      model.grantsChanged.connect((_, path) => seen.push(`grant ${path}`));

      await model.sync();
      expect(seen).toEqual([]);

      await other.removeAccount('acc-b');
      await other.setDefault('acc-p');
      await other.setGrant('n.ipynb', 'deny');
      await model.sync();
      expect(model.accounts.map(a => a.id)).toEqual(['acc-a', 'acc-p']);
      expect(model.defaultAccountId).toBe('acc-p');
      expect(model.accessFor('n.ipynb')).toBe('deny');
      expect(seen).toEqual(['accounts', 'default acc-p', 'grant n.ipynb']);
      // The logged-out account's key is gone from this page too: no kernel can get it.
      expect(model.knownKeys()).not.toContain('bob-secret-key');
      expect((await model.pushPayload('x.ipynb')).account?.id).toBe('acc-p');
      other.dispose();
    });
  });

  describe('#changed', () => {
    it('never carries a key', async () => {
      const { model } = await makeModel(s => (s.grantMap['n.ipynb'] = 'allow'));
      const payloads: ICartoCredentials.IChange[] = [];
      model.changed.connect((_, change) => payloads.push(change));
      await model.refresh();
      await model.setDefault('acc-b');
      model.setNotebookAccount('n.ipynb', 'acc-a');
      model.registerKernel('k1', 'n.ipynb');
      model.setRuntimeCredentials('k1', {
        username: 'carol',
        base_url: 'https://carol.carto.com/',
        api_key: 'carol-secret-key'
      });
      await model.pushPayload('n.ipynb');
      const text = JSON.stringify(payloads);
      expect(payloads.map(p => p.type)).toEqual([
        'accounts',
        'default',
        'notebook',
        'runtime'
      ]);
      expect(text).not.toMatch(/secret/);
    });
  });

  describe('signals per concern', () => {
    it('each change fires its own signal and the public `changed`, with no key', async () => {
      const { model } = await makeModel(s => (s.grantMap['n.ipynb'] = 'allow'));
      const events: unknown[] = [];
      model.accountsChanged.connect(() => events.push('accounts'));
      model.defaultChanged.connect((_, id) => events.push(['default', id]));
      model.notebookAccountChanged.connect((_, path) =>
        events.push(['notebook', path])
      );
      model.grantsChanged.connect((_, path) => events.push(['grants', path]));
      model.settingsChanged.connect((_, settings) =>
        events.push(['settings', settings.kernelAccess])
      );
      model.codeCredentialsChanged.connect((_, change) =>
        events.push(['code', change])
      );
      const changes: ICartoCredentials.IChange[] = [];
      model.changed.connect((_, change) => changes.push(change));

      await model.refresh();
      await model.setDefault('acc-b');
      model.setNotebookAccount('n.ipynb', 'acc-a');
      model.renameNotebook('n.ipynb', 'm.ipynb');
      await model.setGrant('m.ipynb', 'deny');
      model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'always' });
      model.registerKernel('k1', 'm.ipynb');
      model.setRuntimeCredentials('k1', {
        username: 'carol',
        base_url: 'https://carol.carto.com/',
        api_key: 'carol-secret-key'
      });
      model.unregisterKernel('k1');

      expect(events).toEqual([
        'accounts',
        ['default', 'acc-b'],
        ['notebook', 'n.ipynb'],
        ['notebook', 'm.ipynb'],
        ['grants', 'm.ipynb'],
        ['settings', 'always'],
        ['code', { kernelId: 'k1', path: 'm.ipynb' }],
        ['code', { kernelId: 'k1' }]
      ]);
      // The public token's `changed` (other extensions may listen) follows them one for one.
      expect(changes).toEqual([
        { type: 'accounts' },
        { type: 'default' },
        { type: 'notebook', path: 'n.ipynb' },
        { type: 'notebook', path: 'm.ipynb' },
        { type: 'grants', path: 'm.ipynb' },
        { type: 'settings' },
        { type: 'runtime', kernelId: 'k1', path: 'm.ipynb' },
        { type: 'runtime', kernelId: 'k1' }
      ]);
      expect(JSON.stringify([events, changes])).not.toMatch(/secret/);
    });

    it('says nothing when a notebook keeps its choice', async () => {
      const { model } = await makeModel();
      model.setNotebookAccount('n.ipynb', 'acc-a');
      const paths: string[] = [];
      model.notebookAccountChanged.connect((_, path) => paths.push(path));
      model.setNotebookAccount('n.ipynb', 'acc-a');
      expect(paths).toEqual([]);
    });
  });

  describe('#effectiveAccount()', () => {
    it('uses the notebook choice, else the default', async () => {
      const { model } = await makeModel();
      expect(model.effectiveAccount('x.ipynb').account?.id).toBe('acc-a');
      model.setNotebookAccount('x.ipynb', 'acc-b');
      expect(model.effectiveAccount('x.ipynb').account?.id).toBe('acc-b');
    });

    it('falls back to the default and reports an unknown notebook account', async () => {
      const { model } = await makeModel();
      model.setNotebookAccount('x.ipynb', 'acc-gone');
      expect(model.effectiveAccount('x.ipynb')).toEqual({
        account: expect.objectContaining({ id: 'acc-a' }),
        missingId: 'acc-gone'
      });
    });
  });

  describe('#pushPayload()', () => {
    it('withholds the key until the notebook is granted (policy ask)', async () => {
      const { model } = await makeModel();
      expect(await model.pushPayload('n.ipynb')).toEqual({
        state: 'not_granted',
        account: null
      });
      await model.setGrant('n.ipynb', 'allow');
      expect(await model.pushPayload('n.ipynb')).toEqual({
        state: 'granted',
        account: {
          id: 'acc-a',
          label: 'alice',
          username: 'alice',
          base_url: 'https://alice.carto.com/',
          api_key: 'alice-secret-key'
        }
      });
    });

    it('follows the policy: always grants, never denies', async () => {
      const { model } = await makeModel(s => (s.grantMap['n.ipynb'] = 'allow'));
      model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'never' });
      expect((await model.pushPayload('n.ipynb')).state).toBe('not_granted');
      model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'always' });
      expect((await model.pushPayload('other.ipynb')).state).toBe('granted');
    });

    it('sends public accounts without a grant, and no_account when nobody is logged in', async () => {
      const { model } = await makeModel(s => (s.defaultId = 'acc-p'));
      expect(await model.pushPayload('n.ipynb')).toEqual({
        state: 'public',
        account: expect.objectContaining({ api_key: 'default_public' })
      });
      await model.setDefault(null);
      expect(await model.pushPayload('n.ipynb')).toEqual({
        state: 'no_account',
        account: null
      });
    });

    it('fetches keys once, on load, and forgets a removed account', async () => {
      const { model, store } = await makeModel(
        s => (s.grantMap['n.ipynb'] = 'allow')
      );
      expect(store.keyRequests).toBe(2);
      expect(model.knownKeys().sort()).toEqual([
        'alice-secret-key',
        'bob-secret-key'
      ]);
      await model.pushPayload('n.ipynb');
      await model.pushPayload('n.ipynb');
      expect(store.keyRequests).toBe(2);
      await model.removeAccount('acc-a');
      expect(model.knownKeys()).toEqual(['bob-secret-key']);
      expect(model.defaultAccountId).toBeNull();
    });
  });

  describe('#resolve()', () => {
    it('prefers credentials set by code in the kernel, then the notebook account', async () => {
      const { model } = await makeModel(s => (s.grantMap['n.ipynb'] = 'allow'));
      model.registerKernel('k1', 'n.ipynb');
      model.setNotebookAccount('n.ipynb', 'acc-b');
      expect(await model.resolve({ kernelId: 'k1' })).toEqual(
        expect.objectContaining({ username: 'bob', source: 'notebook' })
      );
      model.setRuntimeCredentials('k1', {
        username: 'carol',
        base_url: 'https://carol.carto.com/',
        api_key: 'carol-key'
      });
      expect(await model.resolve({ path: 'n.ipynb' })).toEqual(
        expect.objectContaining({ apiKey: 'carol-key', source: 'code' })
      );
      expect(model.accounts.find(a => a.isRuntime)?.username).toBe('carol');
      model.unregisterKernel('k1');
      expect(model.accounts.some(a => a.isRuntime)).toBe(false);
    });

    it('returns null for a notebook that was not granted', async () => {
      const { model } = await makeModel();
      expect(await model.resolve({ path: 'n.ipynb' })).toBeNull();
    });
  });

  describe('#addAccount()', () => {
    it('sends the settings policy and makes the first account the default', async () => {
      const store = new FakeStore();
      const model = new CartoCredentialsModel({ store });
      await model.refresh();
      model.configure({
        ...DEFAULT_SETTINGS,
        allowNonHttps: true,
        validateOnLogin: false
      });
      const account = await model.addAccount({
        username: 'dora',
        api_key: 'k'
      });
      expect(store.created[0]).toEqual(
        expect.objectContaining({ allow_non_https: true, validate: false })
      );
      expect(model.defaultAccountId).toBe(account.id);
    });
  });

  describe('#renameNotebook()', () => {
    it('moves the choice and the kernel mapping to the new path', async () => {
      const { model } = await makeModel(
        s => (s.grantMap['new.ipynb'] = 'allow')
      );
      model.setNotebookAccount('old.ipynb', 'acc-b');
      model.registerKernel('k1', 'old.ipynb');
      model.renameNotebook('old.ipynb', 'new.ipynb');
      expect(model.notebookAccountId('new.ipynb')).toBe('acc-b');
      expect(model.notebookAccountId('old.ipynb')).toBeNull();
      expect((await model.resolve({ kernelId: 'k1' }))?.username).toBe('bob');
    });

    it('carries the access answer to the new path, on the server too', async () => {
      const { model, store } = await makeModel(
        s => (s.grantMap['old.ipynb'] = 'allow')
      );
      model.renameNotebook('old.ipynb', 'new.ipynb');
      expect(model.accessFor('new.ipynb')).toBe('allow');
      expect(model.accessFor('old.ipynb')).toBe('undecided');
      await settle();
      expect(store.grantMap).toEqual({ 'new.ipynb': 'allow' });
    });
  });
});

describe('CartoCredentialsModel grants', () => {
  it('forgets the answers of a deleted notebook and of everything in a deleted folder', async () => {
    const { model } = await makeModel(s => {
      s.grantMap['a.ipynb'] = 'allow';
      s.grantMap['dir/b.ipynb'] = 'deny';
      s.grantMap['dir2/c.ipynb'] = 'allow';
    });
    const changed: string[] = [];
    model.changed.connect((_, change) => {
      if (change.type === 'grants') {
        changed.push(change.path ?? '');
      }
    });
    model.forgetDeleted('a.ipynb');
    model.forgetDeleted('dir');
    expect(model.accessFor('a.ipynb')).toBe('undecided');
    expect(model.accessFor('dir/b.ipynb')).toBe('undecided');
    expect(model.accessFor('dir2/c.ipynb')).toBe('allow');
    expect(changed).toEqual(['a.ipynb', 'dir/b.ipynb']);
  });

  it('applies a grant at once and undoes it when the server refuses', async () => {
    const store = new FakeStore();
    store.add('acc-a', 'alice', 'alice-key');
    store.defaultId = 'acc-a';
    const model = new CartoCredentialsModel({ store });
    await model.refresh();
    let release: () => void = () => undefined;
    store.setGrant = () =>
      new Promise<void>((_, reject) => {
        release = () => reject(new Error('server down'));
      });
    const pending = model.setGrant('n.ipynb', 'allow');
    expect(model.accessFor('n.ipynb')).toBe('allow');
    release();
    await expect(pending).rejects.toThrow('server down');
    expect(model.accessFor('n.ipynb')).toBe('undecided');
  });
});

describe('CartoCredentialsModel#importInfo()', () => {
  it('passes on what the server found, without any key', async () => {
    const store = new FakeStore();
    store.importAnswer = {
      available: true,
      path: '/home/u/.config/cartoframes/creds.json',
      username: 'carol',
      base_url: null
    };
    const model = new CartoCredentialsModel({ store });
    const info = await model.importInfo();
    expect(info).toEqual(store.importAnswer);
    expect(JSON.stringify(info)).not.toContain('imported-key');
  });
});

describe('CartoCredentialsModel runtime references', () => {
  const REF = 'rt-00112233aabbccdd';
  const bob = {
    username: 'bob',
    base_url: 'https://bob.carto.com/',
    api_key: 'bob-code-key'
  };

  it('resolves a registered reference, and nothing else when a ref is asked', async () => {
    const { model } = await makeModel(s => (s.grantMap['n.ipynb'] = 'allow'));
    model.registerKernel('k1', 'n.ipynb');
    expect(await model.resolve({ kernelId: 'k1', ref: REF })).toBeNull();
    model.registerRuntimeReference('k1', REF, bob);
    expect(await model.resolve({ kernelId: 'k1', ref: REF })).toEqual({
      accountId: REF,
      label: 'bob',
      username: 'bob',
      baseUrl: 'https://bob.carto.com/',
      apiKey: 'bob-code-key',
      source: 'code'
    });
    expect(await model.resolve({ ref: REF })).toBeNull();
    expect((await model.resolve({ kernelId: 'k1' }))?.apiKey).toBe(
      'alice-secret-key'
    );
    expect(model.knownKeys()).toContain('bob-code-key');
    expect(model.accounts.some(a => a.isRuntime)).toBe(false);
  });

  it('forgets references when the kernel goes away', async () => {
    const { model } = await makeModel();
    model.registerKernel('k1', 'n.ipynb');
    model.registerRuntimeReference('k1', REF, bob);
    model.unregisterKernel('k1');
    expect(await model.resolve({ kernelId: 'k1', ref: REF })).toBeNull();
    expect(model.knownKeys()).not.toContain('bob-code-key');
  });
});
