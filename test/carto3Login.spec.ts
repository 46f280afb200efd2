import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { Carto3LoginSection, ILoginWindow } from '../src/carto3Login';
import type {
  Carto3Token,
  ICarto3Store,
  INewM2MAccount,
  IOAuthStart,
  OAuthLoginStatus,
  OAuthStarted
} from '../src/carto3Rest';
import { AccountStoreError, StoredAccount } from '../src/rest';

const trans = nullTranslator.load('jupyterlab_carto_credentials');

function failure(
  status: number,
  code: string,
  message: string,
  field: string | null = null
): Error {
  return new AccountStoreError(
    code,
    message,
    new Response(null, { status }),
    field
  );
}

function carto3Account(id: string, kind: 'oauth' | 'm2m'): StoredAccount {
  return {
    id,
    kind,
    label: kind === 'm2m' ? 'team (M2M)' : 'alice@example.com',
    username: null,
    base_url: null,
    api_base_url: 'https://api.example.com',
    expires_at: 1795359534,
    status: 'ok',
    public: false,
    user_info: null
  } as unknown as StoredAccount;
}

/** The server's CARTO 3 routes, in memory: logins by state, and what the panel sent. */
class FakeCarto3Store implements ICarto3Store {
  oauthClient = true;
  starts: IOAuthStart[] = [];
  exchanges: { state: string; code: string }[] = [];
  m2m: INewM2MAccount[] = [];
  logins = new Map<string, OAuthLoginStatus>();
  exchangeError: Error | null = null;
  m2mError: Error | null = null;
  startError: Error | null = null;
  polls = 0;

  async startLogin(request: IOAuthStart): Promise<OAuthStarted> {
    this.starts.push({ ...request });
    if (this.startError) {
      throw this.startError;
    }
    if (request.flow === 'redirect' && !this.oauthClient) {
      throw failure(
        400,
        'oauth_not_configured',
        'This server has no OAuth client.'
      );
    }
    const state = `state-${this.starts.length}`;
    this.logins.set(state, { status: 'pending' });
    return {
      state,
      authorize_url: `https://auth.example.com/authorize?state=${state}&flow=${request.flow}`
    };
  }
  async exchange(state: string, code: string): Promise<StoredAccount> {
    this.exchanges.push({ state, code });
    if (this.exchangeError) {
      throw this.exchangeError;
    }
    return carto3Account('acc-oauth', 'oauth');
  }
  async loginStatus(state: string): Promise<OAuthLoginStatus> {
    this.polls++;
    return this.logins.get(state) ?? { status: 'pending' };
  }
  async addM2M(account: INewM2MAccount): Promise<StoredAccount> {
    this.m2m.push(account);
    if (this.m2mError) {
      throw this.m2mError;
    }
    return carto3Account('acc-m2m', 'm2m');
  }
  async token(_id: string): Promise<Carto3Token> {
    throw new Error('not used here');
  }
}

class FakeWindow implements ILoginWindow {
  closed = false;
  location = { href: 'about:blank' };
  close(): void {
    this.closed = true;
  }
}

interface IHarness {
  store: FakeCarto3Store;
  section: Carto3LoginSection;
  windows: FakeWindow[];
  added: { id: string; oauth: boolean }[];
  $: <T extends HTMLElement = HTMLElement>(selector: string) => T;
}

function setup(options: { blockPopups?: boolean } = {}): IHarness {
  const store = new FakeCarto3Store();
  const windows: FakeWindow[] = [];
  const added: { id: string; oauth: boolean }[] = [];
  const section = new Carto3LoginSection({
    store,
    trans,
    pollMs: 1000,
    accountAdded: async (account, oauth) => {
      added.push({ id: account.id, oauth });
    },
    openWindow: () => {
      if (options.blockPopups) {
        return null;
      }
      const win = new FakeWindow();
      windows.push(win);
      return win;
    }
  });
  Widget.attach(section, document.body);
  const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
    const node = section.node.querySelector<T>(selector);
    if (!node) {
      throw new Error(`no ${selector}`);
    }
    return node;
  };
  return { store, section, windows, added, $ };
}

/** Let pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

describe('Carto3LoginSection', () => {
  let harness: IHarness | null = null;
  afterEach(() => {
    harness?.section.dispose();
    harness = null;
    jest.useRealTimers();
  });

  it('is a labelled region whose fields all have labels', () => {
    harness = setup();
    const { section } = harness;
    const headingId = section.node.getAttribute('aria-labelledby')!;
    expect(document.getElementById(headingId)?.textContent).toBe('CARTO 3');
    for (const input of Array.from(section.node.querySelectorAll('input'))) {
      const label = section.node.querySelector(`label[for="${input.id}"]`);
      expect(label?.textContent).toBeTruthy();
    }
    // Nothing to paste into before a login started.
    expect(harness.$('.jp-CartoCredentials-pasteForm').hidden).toBe(true);
    expect(harness.$('.jp-CartoCredentials-carto3Cancel').hidden).toBe(true);
  });

  it('redirect flow: opens CARTO in the window, follows the login, then reports the account', async () => {
    jest.useFakeTimers();
    harness = setup();
    const { store, section, windows, added, $ } = harness;
    const loggedIn: string[] = [];
    section.loggedIn.connect((_, account) => loggedIn.push(account.id));
    ($('.jp-CartoCredentials-orgInput') as HTMLInputElement).value = 'acme';
    $('.jp-CartoCredentials-carto3Login').click();
    // The window opens within the click, before the server answered.
    expect(windows).toHaveLength(1);
    await flush();
    expect(store.starts).toEqual([{ flow: 'redirect', org: 'acme' }]);
    expect(windows[0].location.href).toBe(
      'https://auth.example.com/authorize?state=state-1&flow=redirect'
    );
    expect(section.busy).toBe(true);
    expect(section.node.getAttribute('aria-busy')).toBe('true');
    expect($('.jp-CartoCredentials-progress').textContent).toMatch(
      /Waiting for the CARTO login/
    );
    expect($('.jp-CartoCredentials-carto3Cancel').hidden).toBe(false);
    expect($('.jp-CartoCredentials-pasteForm').hidden).toBe(true);
    expect(
      $<HTMLButtonElement>('.jp-CartoCredentials-carto3Login').disabled
    ).toBe(true);

    await jest.advanceTimersByTimeAsync(3000);
    expect(store.polls).toBe(3);
    expect(added).toEqual([]);
    store.logins.set('state-1', {
      status: 'done',
      account: carto3Account('acc-oauth', 'oauth')
    });
    await jest.advanceTimersByTimeAsync(1000);
    expect(added).toEqual([{ id: 'acc-oauth', oauth: true }]);
    expect(loggedIn).toEqual(['acc-oauth']);
    expect(section.busy).toBe(false);
    expect($('.jp-CartoCredentials-progress').textContent).toBe(
      'Logged in to CARTO as alice@example.com.'
    );
    // Done: no more questions.
    await jest.advanceTimersByTimeAsync(5000);
    expect(store.polls).toBe(4);
  });

  it('redirect flow: a failed login says why, and stops', async () => {
    jest.useFakeTimers();
    harness = setup();
    const { store, $ } = harness;
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    store.logins.set('state-1', {
      status: 'failed',
      error: { code: 'oauth_denied', message: 'access_denied' }
    });
    await jest.advanceTimersByTimeAsync(1000);
    const error = $('.jp-CartoCredentials-error');
    expect(error.hidden).toBe(false);
    expect(error.getAttribute('role')).toBe('alert');
    // One sentence saying what to do, not the server's sentence nested in ours.
    expect(error.textContent).toBe(
      'CARTO did not grant the login. Start it again, and accept on the CARTO page.'
    );
    expect(harness.section.busy).toBe(false);
  });

  it('redirect flow: cancel stops following the login', async () => {
    jest.useFakeTimers();
    harness = setup();
    const { store, section, $ } = harness;
    const result = section.logIn();
    await flush();
    $('.jp-CartoCredentials-carto3Cancel').click();
    expect(await result).toBeNull();
    expect($('.jp-CartoCredentials-progress').textContent).toBe(
      'Login cancelled.'
    );
    const polls = store.polls;
    await jest.advanceTimersByTimeAsync(5000);
    expect(store.polls).toBe(polls);
    expect(section.busy).toBe(false);
    expect(
      $<HTMLButtonElement>('.jp-CartoCredentials-carto3Login').disabled
    ).toBe(false);
  });

  it('redirect flow: a window closed before the end stops the login', async () => {
    jest.useFakeTimers();
    harness = setup();
    const { windows, $ } = harness;
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    windows[0].closed = true;
    await jest.advanceTimersByTimeAsync(2000);
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /window was closed before the login finished/
    );
  });

  it('paste flow when the server has no OAuth client: the same click opens the code page, then the code is exchanged', async () => {
    harness = setup();
    const { store, section, windows, added, $ } = harness;
    store.oauthClient = false;
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    expect(store.starts.map(s => s.flow)).toEqual(['redirect', 'paste']);
    expect(windows).toHaveLength(1);
    expect(windows[0].location.href).toMatch(/flow=paste/);
    const form = $('.jp-CartoCredentials-pasteForm');
    expect(form.hidden).toBe(false);
    expect(document.activeElement).toBe(section.codeInput);

    // Nothing pasted: say so, on the field.
    $('.jp-CartoCredentials-codeSubmit').click();
    await flush();
    expect(section.codeInput.getAttribute('aria-invalid')).toBe('true');
    expect(store.exchanges).toEqual([]);

    section.codeInput.value = ' https://app.example.com/auth/token?code=abc ';
    $('.jp-CartoCredentials-codeSubmit').click();
    await flush();
    expect(store.exchanges).toEqual([
      { state: 'state-2', code: 'https://app.example.com/auth/token?code=abc' }
    ]);
    expect(added).toEqual([{ id: 'acc-oauth', oauth: true }]);
    expect(form.hidden).toBe(true);
    expect(section.codeInput.value).toBe('');

    // The server has no client: the next login goes straight to the paste flow.
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    expect(store.starts.map(s => s.flow)).toEqual([
      'redirect',
      'paste',
      'paste'
    ]);
  });

  it('paste flow: a refused code keeps the login so another can be pasted', async () => {
    harness = setup();
    const { store, section, $ } = harness;
    store.oauthClient = false;
    store.exchangeError = failure(400, 'bad_code', 'invalid_grant');
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    section.codeInput.value = 'wrong';
    await section.submitCode();
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /CARTO refused this code/
    );
    expect(section.codeInput.getAttribute('aria-invalid')).toBe('true');
    expect($('.jp-CartoCredentials-pasteForm').hidden).toBe(false);
    store.exchangeError = null;
    section.codeInput.value = 'right';
    expect((await section.submitCode())?.id).toBe('acc-oauth');
  });

  it('paste flow: what is far too long for a code is refused here, not by the server', async () => {
    harness = setup();
    const { store, section, $ } = harness;
    store.oauthClient = false;
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    section.codeInput.value = 'x'.repeat(100000);
    expect(await section.submitCode()).toBeNull();
    expect(store.exchanges).toEqual([]);
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /too long to be a CARTO code: paste only the code/
    );
    expect(section.codeInput.getAttribute('aria-invalid')).toBe('true');
    // The login goes on: the right code still works.
    section.codeInput.value = 'right';
    expect((await section.submitCode())?.id).toBe('acc-oauth');
  });

  it("a refused API base URL option says what a CARTO 3 one looks like, in the server's words", async () => {
    harness = setup();
    const { store, $ } = harness;
    const said =
      'The API base URL must be an https address such as https://gcp-us-east1.api.carto.com (CARTO Workspace → Developers shows it).';
    for (const code of ['bad_url', 'not_https']) {
      store.startError = failure(400, code, said);
      ($('.jp-CartoCredentials-apiBaseUrlInput') as HTMLInputElement).value =
        'ftp://x';
      $('.jp-CartoCredentials-carto3Login').click();
      await flush();
      expect($('.jp-CartoCredentials-error').textContent).toBe(said);
    }
  });

  it('a refused field is named by its control, which is marked', async () => {
    harness = setup();
    const { store, section, $ } = harness;
    store.startError = failure(
      400,
      'bad_request',
      "The field 'org' must be 1 to 200 visible ASCII characters.",
      'org'
    );
    const org = $('.jp-CartoCredentials-orgInput') as HTMLInputElement;
    org.value = 'acme corp';
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    expect($('.jp-CartoCredentials-error').textContent).toBe(
      "Organisation (single sign-on), optional: The field 'org' must be 1 to 200 visible ASCII characters."
    );
    expect(org.getAttribute('aria-invalid')).toBe('true');

    store.m2mError = failure(
      400,
      'bad_request',
      "The field 'path' must be the path of a .json file.",
      'path'
    );
    section.m2mPathInput.value = '/etc/shadow';
    await section.addM2M();
    expect($('.jp-CartoCredentials-error').textContent).toBe(
      "Or its path on the Jupyter server: The field 'path' must be the path of a .json file."
    );
    expect(section.m2mPathInput.getAttribute('aria-invalid')).toBe('true');
    expect(org.hasAttribute('aria-invalid')).toBe(false);
  });

  it('"Log in with a code instead" goes straight to the paste flow', async () => {
    harness = setup();
    const { store, $ } = harness;
    $('.jp-CartoCredentials-carto3PasteLogin').click();
    await flush();
    expect(store.starts.map(s => s.flow)).toEqual(['paste']);
    expect($('.jp-CartoCredentials-pasteForm').hidden).toBe(false);
    expect(
      $<HTMLButtonElement>('.jp-CartoCredentials-carto3PasteLogin').disabled
    ).toBe(true);
  });

  it('shows a link to CARTO when the browser blocked the window', async () => {
    harness = setup({ blockPopups: true });
    const { $ } = harness;
    $('.jp-CartoCredentials-carto3Login').click();
    await flush();
    const link = $<HTMLAnchorElement>('.jp-CartoCredentials-authorizeLink');
    expect(link.href).toMatch(/^https:\/\/auth\.example\.com\/authorize/);
    expect(link.rel).toBe('noopener noreferrer');
    expect(link.parentElement!.textContent).toMatch(/did not open a window/);
  });

  it('logs an account in again with its id', async () => {
    harness = setup();
    const { store, section } = harness;
    void section.logIn('acc-old');
    await flush();
    expect(store.starts[0]).toEqual({
      flow: 'redirect',
      account_id: 'acc-old'
    });
  });

  it("a start that fails closes the window and shows the server's reason", async () => {
    harness = setup();
    const { store, section, windows, $ } = harness;
    store.startLogin = async () => {
      throw failure(400, 'no_api_base_url', 'Give the API base URL.');
    };
    expect(await section.logIn()).toBeNull();
    expect(windows[0].closed).toBe(true);
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /give it under "Options"/
    );
  });

  it('M2M by upload: the file is read here and sent as credentials, then the fields are emptied', async () => {
    harness = setup();
    const { store, section, added, $ } = harness;
    const credentials = {
      api_base_url: 'https://api.example.com',
      client_id: 'cid',
      client_secret: 'csecret'
    };
    const file = new File([JSON.stringify(credentials)], 'm2m.json', {
      type: 'application/json'
    });
    Object.defineProperty(section.m2mFileInput, 'files', {
      configurable: true,
      value: [file]
    });
    $<HTMLInputElement>('.jp-CartoCredentials-m2mLabel').value = 'team';
    const account = await section.addM2M();
    expect(account?.id).toBe('acc-m2m');
    expect(store.m2m).toEqual([{ credentials, label: 'team' }]);
    expect(added).toEqual([{ id: 'acc-m2m', oauth: false }]);
    expect($<HTMLInputElement>('.jp-CartoCredentials-m2mLabel').value).toBe('');
    expect(section.node.textContent).not.toContain('csecret');
  });

  it('M2M by upload: a wrong file names the field and sends nothing', async () => {
    harness = setup();
    const { store, section, $ } = harness;
    const file = new File(
      [JSON.stringify({ api_base_url: 'https://x', client_id: 'cid' })],
      'm2m.json'
    );
    Object.defineProperty(section.m2mFileInput, 'files', {
      configurable: true,
      value: [file]
    });
    expect(await section.addM2M()).toBeNull();
    expect(store.m2m).toEqual([]);
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /no valid "client_secret"/
    );
    expect(section.m2mFileInput.getAttribute('aria-invalid')).toBe('true');
  });

  it("a new file or path clears the last attempt's error", async () => {
    harness = setup();
    const { store, section, $ } = harness;
    store.m2mError = failure(400, 'm2m_file_invalid', 'The M2M file is bad.');
    section.m2mPathInput.value = '/srv/a.json';
    await section.addM2M();
    const error = $('.jp-CartoCredentials-error');
    expect(error.hidden).toBe(false);
    section.m2mPathInput.value = '/srv/b.json';
    section.m2mPathInput.dispatchEvent(new Event('input'));
    expect(error.hidden).toBe(true);
    expect(section.m2mPathInput.hasAttribute('aria-invalid')).toBe(false);

    await section.addM2M();
    expect(error.hidden).toBe(false);
    section.m2mFileInput.dispatchEvent(new Event('change'));
    expect(error.hidden).toBe(true);
  });

  it("M2M by path on the server, and its refusal in the server's words", async () => {
    harness = setup();
    const { store, section, $ } = harness;
    store.m2mError = failure(
      400,
      'm2m_file_invalid',
      'The M2M credentials file /srv/m.json has no client_secret.'
    );
    section.m2mPathInput.value = '/srv/m.json';
    $('.jp-CartoCredentials-m2mSubmit').click();
    await flush();
    expect(store.m2m).toEqual([{ path: '/srv/m.json' }]);
    expect($('.jp-CartoCredentials-error').textContent).toBe(
      'The M2M credentials file /srv/m.json has no client_secret.'
    );
    expect(section.m2mPathInput.getAttribute('aria-invalid')).toBe('true');
  });

  it('M2M with nothing given asks for the file or the path', async () => {
    harness = setup();
    const { store, section, $ } = harness;
    expect(await section.addM2M()).toBeNull();
    expect(store.m2m).toEqual([]);
    expect($('.jp-CartoCredentials-error').textContent).toMatch(
      /Choose the M2M credentials JSON file/
    );
  });
});
