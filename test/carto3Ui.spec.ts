import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { AccountList } from '../src/accountList';
import type { ICartoCredentialsManager } from '../src/manager';
import { describeStatus, notebookStatus } from '../src/statusbar';
import type { ICartoCredentials } from '../src/tokens';

const trans = nullTranslator.load('jupyterlab_carto_credentials');

function account(
  id: string,
  kind: 'api_key' | 'oauth' | 'm2m',
  loginRequired = false
): ICartoCredentials.IAccount {
  return {
    id,
    label: `${id} label`,
    username: kind === 'api_key' ? id : null,
    baseUrl: 'https://api.example.com',
    kind,
    loginRequired,
    isPublic: false,
    isRuntime: false,
    userInfo: null
  };
}

/** The slice of the model the list and the status read. */
class FakeModel {
  accounts: ICartoCredentials.IAccount[] = [];
  defaultAccountId: string | null = null;
  accountsChanged = new Signal<this, void>(this);
  defaultChanged = new Signal<this, string | null>(this);
  codeCredentialsChanged = new Signal<this, { kernelId: string }>(this);
  access: 'allow' | 'deny' | 'undecided' = 'allow';
  get defaultAccount(): ICartoCredentials.IAccount | null {
    return this.accounts.find(a => a.id === this.defaultAccountId) ?? null;
  }
  effectiveAccount(_path: string) {
    return { account: this.defaultAccount, missingId: null };
  }
  codeAccountOf(_path: string) {
    return null;
  }
  accessFor(_path: string) {
    return this.access;
  }
  async setDefault(id: string): Promise<void> {
    this.defaultAccountId = id;
  }
  async removeAccount(_id: string): Promise<void> {
    return;
  }
}

describe('CARTO 3 accounts in the account list', () => {
  it('say their kind, and an expired browser login offers "Log in again"', async () => {
    const model = new FakeModel();
    model.accounts = [
      account('key', 'api_key'),
      account('oauth-ok', 'oauth'),
      account('oauth-old', 'oauth', true),
      account('m2m-refused', 'm2m', true)
    ];
    model.defaultAccountId = 'key';
    const relogins: string[] = [];
    const list = new AccountList({
      model: model as unknown as ICartoCredentialsManager,
      trans,
      relogin: async a => {
        relogins.push(a.id);
      }
    });
    Widget.attach(list, document.body);
    const item = (id: string) =>
      list.node.querySelector<HTMLElement>(`li[data-account-id="${id}"]`)!;
    expect(item('key').dataset.kind).toBe('api_key');
    expect(item('oauth-ok').dataset.kind).toBe('oauth');
    expect(item('oauth-ok').textContent).toContain('CARTO 3 login');
    expect(
      item('oauth-ok').querySelector('.jp-CartoCredentials-relogin')
    ).toBeNull();
    expect(item('m2m-refused').textContent).toContain('CARTO 3 M2M client');

    const old = item('oauth-old');
    expect(old.classList.contains('jp-mod-loginRequired')).toBe(true);
    expect(old.textContent).toContain('Expired: log in again');
    const button = old.querySelector<HTMLButtonElement>(
      '.jp-CartoCredentials-relogin'
    )!;
    expect(button.textContent).toBe('Log in again');
    // The accessible name starts with the visible text (WCAG 2.5.3).
    expect(button.getAttribute('aria-label')).toBe(
      'Log in again: oauth-old label'
    );
    button.click();
    await Promise.resolve();
    expect(relogins).toEqual(['oauth-old']);

    // An M2M client CARTO refused cannot log in again: it says to add it again.
    const refused = item('m2m-refused');
    expect(refused.querySelector('.jp-CartoCredentials-relogin')).toBeNull();
    expect(refused.textContent).toContain('add the client again');
    list.dispose();
  });
});

describe('the status bar with a CARTO 3 login', () => {
  it('says "log in again" for the notebook whose account expired', () => {
    const model = new FakeModel();
    model.accounts = [account('oauth-old', 'oauth', true)];
    model.defaultAccountId = 'oauth-old';
    const fake = model as unknown as ICartoCredentialsManager;
    for (const path of ['work/map.ipynb', null]) {
      const status = notebookStatus(fake, path);
      expect(status.state).toBe('login_required');
      const { text, title } = describeStatus(status, trans);
      expect(text).toBe('CARTO: oauth-old label (log in again)');
      expect(title).toMatch(/log in again from the CARTO panel/);
    }
    // Also when the notebook was not granted: the login is what to fix first.
    model.access = 'undecided';
    expect(notebookStatus(fake, 'work/map.ipynb').state).toBe('login_required');
  });

  it('is signed in while the login is current', () => {
    const model = new FakeModel();
    model.accounts = [account('oauth-ok', 'oauth')];
    model.defaultAccountId = 'oauth-ok';
    expect(
      notebookStatus(model as unknown as ICartoCredentialsManager, 'a.ipynb')
        .state
    ).toBe('signed_in');
  });
});
