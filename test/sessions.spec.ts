import { CartoCredentialsModel } from '../src/model';
import { SessionWatcher } from '../src/sessions';
import { DEFAULT_SETTINGS } from '../src/settings';
import { FakeStore } from './fakes';

async function setup() {
  const store = new FakeStore();
  store.add('acc-a', 'alice', 'alice-key');
  store.defaultId = 'acc-a';
  const model = new CartoCredentialsModel({ store });
  await model.refresh();
  const asked: string[] = [];
  const watcher = new SessionWatcher(model, async path => {
    asked.push(path);
    return null;
  });
  return { model, store, watcher, asked };
}

describe('SessionWatcher', () => {
  describe('#grantIfCreated()', () => {
    it('allows notebooks and consoles created here', async () => {
      const { model, store, watcher } = await setup();
      await watcher.grantIfCreated('notebook:create-new', {
        sessionContext: { path: 'Untitled.ipynb' }
      });
      await watcher.grantIfCreated('console:create', {
        sessionContext: { path: 'console-1-abc' }
      });
      expect(store.grantMap).toEqual({
        'Untitled.ipynb': 'allow',
        'console-1-abc': 'allow'
      });
      expect(model.accessFor('console-1-abc')).toBe('allow');
      watcher.dispose();
    });

    it('ignores other commands and results without a path', async () => {
      const { store, watcher } = await setup();
      await watcher.grantIfCreated('docmanager:open', {
        sessionContext: { path: 'shared.ipynb' }
      });
      await watcher.grantIfCreated('notebook:create-new', undefined);
      await watcher.grantIfCreated('console:create', { sessionContext: {} });
      expect(store.grantMap).toEqual({});
      watcher.dispose();
    });

    it('grants nothing when the policy is not "ask"', async () => {
      const { model, store, watcher } = await setup();
      model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'never' });
      await watcher.grantIfCreated('notebook:create-new', {
        sessionContext: { path: 'Untitled.ipynb' }
      });
      expect(store.grantMap).toEqual({});
      watcher.dispose();
    });
  });
});
