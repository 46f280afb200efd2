import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import plugins, { ICartoAccountStore, ICartoCredentials } from '../src/index';
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

  it('load the translations once, for every plugin that shows text', () => {
    const translation = plugin('translation');
    const users = plugins.filter(p =>
      (p.requires ?? []).includes(translation.provides!)
    );
    expect(users.map(p => p.id).sort()).toEqual(
      [
        'kernel-bridge',
        'notebook-toolbar',
        'panel',
        'status-bar',
        'widgets'
      ].map(id => `jupyterlab-carto-credentials:${id}`)
    );
  });
});
