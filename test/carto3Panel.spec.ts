import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type {
  Carto3Token,
  ICarto3Store,
  INewM2MAccount,
  IOAuthStart,
  OAuthLoginStatus,
  OAuthStarted
} from '../src/carto3Rest';
import { CartoCredentialsModel } from '../src/model';
import { CartoCredentialsPanel } from '../src/panel';
import type { StoredAccount } from '../src/rest';
import { FakeStore, settle } from './fakes';

const trans = nullTranslator.load('jupyterlab_carto_credentials');

/** Records what the panel asks of the CARTO 3 routes. */
class RecordingCarto3Store implements ICarto3Store {
  starts: IOAuthStart[] = [];
  async startLogin(request: IOAuthStart): Promise<OAuthStarted> {
    this.starts.push(request);
    return { state: 's', authorize_url: 'https://auth.example.com/authorize' };
  }
  async exchange(): Promise<StoredAccount> {
    throw new Error('not used');
  }
  async loginStatus(): Promise<OAuthLoginStatus> {
    return { status: 'pending' };
  }
  async addM2M(_account: INewM2MAccount): Promise<StoredAccount> {
    throw new Error('not used');
  }
  async token(): Promise<Carto3Token> {
    throw new Error('not used');
  }
}

describe('the panel with CARTO 3', () => {
  it('loads the CARTO 3 section lazily, between the API-key form and the account list', async () => {
    const model = new CartoCredentialsModel({ store: new FakeStore() });
    await model.refresh();
    const panel = new CartoCredentialsPanel({
      model,
      trans,
      carto3: {
        store: new RecordingCarto3Store(),
        accountAdded: async () => undefined
      }
    });
    Widget.attach(panel, document.body);
    const section = await panel.carto3Section;
    expect(section).not.toBeNull();
    const index = panel.widgets.indexOf(section!);
    expect(panel.widgets[index - 1]).toBe(panel.form);
    expect(panel.widgets[index + 1]).toBe(panel.list);
    expect(
      panel.node.querySelector('.jp-CartoCredentials-carto3Login')
    ).not.toBeNull();
    panel.dispose();
  });

  it('has no CARTO 3 section without a CARTO 3 store', async () => {
    const model = new CartoCredentialsModel({ store: new FakeStore() });
    await model.refresh();
    const panel = new CartoCredentialsPanel({ model, trans });
    expect(await panel.carto3Section).toBeNull();
    await settle();
    expect(panel.node.querySelector('.jp-CartoCredentials-carto3')).toBeNull();
    panel.dispose();
  });

  it('"Log in again" on an expired CARTO 3 login starts a browser login for that account', async () => {
    const store = new FakeStore();
    store.accounts.push({
      id: 'acc-o',
      kind: 'oauth',
      label: 'alice@example.com',
      username: null,
      base_url: '',
      api_base_url: 'https://api.example.com',
      expires_at: 1,
      status: 'login_required',
      public: false,
      user_info: null,
      api_key: ''
    });
    store.defaultId = 'acc-o';
    const carto3 = new RecordingCarto3Store();
    const model = new CartoCredentialsModel({ store, carto3 });
    await model.refresh();
    const panel = new CartoCredentialsPanel({
      model,
      trans,
      carto3: {
        store: carto3,
        accountAdded: (account, oauth) =>
          model.carto3AccountAdded(account, oauth)
      }
    });
    Widget.attach(panel, document.body);
    const section = await panel.carto3Section;
    // No real window in tests.
    jest.spyOn(window, 'open').mockReturnValue(null);
    const item = panel.node.querySelector<HTMLElement>(
      'li[data-account-id="acc-o"]'
    )!;
    expect(item.dataset.kind).toBe('oauth');
    expect(
      item.querySelector('.jp-CartoCredentials-accountServer')?.textContent
    ).toBe('https://api.example.com');
    item
      .querySelector<HTMLButtonElement>('.jp-CartoCredentials-relogin')!
      .click();
    await settle();
    expect(carto3.starts).toEqual([{ flow: 'redirect', account_id: 'acc-o' }]);
    expect(section!.busy).toBe(true);
    section!.cancel();
    panel.dispose();
  });
});
