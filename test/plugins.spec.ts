import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import plugins, { ICartoAccountStore, ICartoCredentials } from '../src/index';
import { ICartoCredentialsManager } from '../src/manager';
import { CartoCredentialsModel } from '../src/model';
import { FakeStore } from './fakes';

function plugin(id: string): JupyterFrontEndPlugin<unknown> {
  return plugins.find(p => p.id === `jupyterlab-carto-credentials:${id}`)!;
}

describe('plugins', () => {
  it('provide the account store as a plugin of its own', () => {
    const store = plugin('account-store');
    expect(store.provides).toBe(ICartoAccountStore);
    expect(plugin('plugin').requires).toContain(ICartoAccountStore);
  });

  it('build the shared login on whichever store is provided', async () => {
    const store = new FakeStore();
    store.add('acc-a', 'alice', 'secret-key');
    const app = {
      serviceManager: { contents: { fileChanged: { connect: () => true } } }
    };
    const credentials = (await plugin('plugin').activate(
      app as never,
      store,
      null
    )) as ICartoCredentials;
    await credentials.ready;
    expect(credentials).toBeInstanceOf(CartoCredentialsModel);
    expect(credentials.accounts.map(a => a.id)).toEqual(['acc-a']);
  });

  it('give other extensions the shared login through the public token', async () => {
    const store = new FakeStore();
    const app = {
      serviceManager: { contents: { fileChanged: { connect: () => true } } }
    };
    const manager = (await plugin('plugin').activate(
      app as never,
      store,
      null
    )) as ICartoCredentialsManager;
    const credentials = plugin('credentials');
    expect(plugin('plugin').provides).toBe(ICartoCredentialsManager);
    expect(credentials.provides).toBe(ICartoCredentials);
    expect(credentials.requires).toEqual([ICartoCredentialsManager]);
    expect(await credentials.activate(app as never, manager)).toBe(manager);
  });

  it("build this extension's views on the internal token, not a downcast of the public one", () => {
    const users = (token: unknown) =>
      plugins
        .filter(p => (p.requires ?? []).includes(token as never))
        .map(p => p.id.split(':')[1])
        .sort();
    expect(users(ICartoCredentialsManager)).toEqual([
      'credentials',
      'deck-output',
      'kernel-bridge',
      'notebook-toolbar',
      'panel',
      'redact',
      'status-bar'
    ]);
    // Map widgets read the login like any other extension would.
    expect(users(ICartoCredentials)).toEqual(['widgets']);
  });

  it('load the translations once, for every plugin that shows text', () => {
    const translation = plugin('translation');
    const users = plugins.filter(p =>
      (p.requires ?? []).includes(translation.provides!)
    );
    expect(users.map(p => p.id).sort()).toEqual(
      [
        'deck-output',
        'kernel-bridge',
        'notebook-toolbar',
        'panel',
        'status-bar',
        'widgets'
      ].map(id => `jupyterlab-carto-credentials:${id}`)
    );
  });
});
