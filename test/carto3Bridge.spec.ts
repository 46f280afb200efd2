import { KernelBridge } from '../src/bridge';
import type {
  Carto3Token,
  ICarto3Store,
  INewM2MAccount,
  IOAuthStart,
  OAuthLoginStatus,
  OAuthStarted
} from '../src/carto3Rest';
import { CartoCredentialsModel } from '../src/model';
import { AccountStoreError, StoredAccount } from '../src/rest';
import { FakeKernel, FakeSessionContext, FakeStore } from './fakes';

const API = 'https://gcp-us-east1.api.carto.com';
const NOW = Date.parse('2026-11-30T18:00:00Z');

/**
 * The server's CARTO 3 side over a FakeStore: M2M tokens renewed with under 300 s left, OAuth
 * tokens that turn the account to login_required at expiry, numbered tokens.
 */
class FakeCarto3Server implements ICarto3Store {
  constructor(private readonly _accounts: FakeStore) {}
  lifetimeS = 3600;
  tokenRequests = 0;
  private _tokens = new Map<string, Carto3Token>();
  private _serial = 0;

  addCarto3(id: string, kind: 'oauth' | 'm2m'): void {
    this._accounts.accounts.push({
      id,
      kind,
      label: `${id} (${kind})`,
      username: null,
      base_url: '',
      api_base_url: API,
      expires_at: null,
      status: 'ok',
      public: false,
      user_info: null,
      api_key: ''
    });
  }

  private _account(id: string) {
    const account = this._accounts.accounts.find(a => a.id === id);
    if (!account) {
      throw new Error(`unknown account ${id}`);
    }
    return account;
  }

  private _issue(id: string): Carto3Token {
    const token = {
      access_token: `${id}-token-${++this._serial}`,
      api_base_url: API,
      expires_at: Math.floor(Date.now() / 1000) + this.lifetimeS
    };
    this._tokens.set(id, token);
    const account = this._account(id);
    account.expires_at = token.expires_at;
    account.status = 'ok';
    return token;
  }

  async token(id: string): Promise<Carto3Token> {
    this.tokenRequests++;
    const account = this._account(id);
    const nowS = Math.floor(Date.now() / 1000);
    const current = this._tokens.get(id);
    if (!current) {
      return this._issue(id);
    }
    if (account.kind === 'm2m' && current.expires_at - nowS < 300) {
      return this._issue(id);
    }
    if (current.expires_at <= nowS) {
      account.status = 'login_required';
      throw new AccountStoreError(
        'login_required',
        'log in again',
        new Response(null, { status: 409 })
      );
    }
    return current;
  }

  /** A new browser login for an existing account (what oauth/exchange does server-side). */
  relogin(id: string): StoredAccount {
    this._issue(id);
    const { api_key: _key, ...stored } = this._account(id);
    return stored;
  }

  async startLogin(_: IOAuthStart): Promise<OAuthStarted> {
    throw new Error('not used');
  }
  async exchange(): Promise<StoredAccount> {
    throw new Error('not used');
  }
  async loginStatus(): Promise<OAuthLoginStatus> {
    throw new Error('not used');
  }
  async addM2M(_: INewM2MAccount): Promise<StoredAccount> {
    throw new Error('not used');
  }
}

async function setup(defaultId: string, kind: 'oauth' | 'm2m') {
  const store = new FakeStore();
  store.add('acc-key', 'alice', 'alice-key');
  const server = new FakeCarto3Server(store);
  server.addCarto3(defaultId, kind);
  store.defaultId = defaultId;
  store.grantMap['nb.ipynb'] = 'allow';
  const model = new CartoCredentialsModel({ store, carto3: server });
  await model.refresh();
  const kernel = new FakeKernel('k1');
  const context = new FakeSessionContext('nb.ipynb', kernel);
  const bridge = new KernelBridge({ sessionContext: context, model });
  await jest.advanceTimersByTimeAsync(0);
  return { store, server, model, kernel, context, bridge };
}

interface IMessage {
  version: number;
  state: string;
  account: { access_token?: string; api_key?: string; kind?: string } | null;
}

const token = (message: unknown) =>
  (message as IMessage).account?.access_token ?? null;

describe('KernelBridge with CARTO 3 accounts', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('pushes a CARTO 3 login as set_credentials version 2 with its current token', async () => {
    const { kernel, model } = await setup('acc-m2m', 'm2m');
    expect(kernel.messages).toEqual([
      {
        version: 2,
        type: 'set_credentials',
        session_path: 'nb.ipynb',
        kernel_id: 'k1',
        state: 'granted',
        account: {
          id: 'acc-m2m',
          label: 'acc-m2m (m2m)',
          kind: 'm2m',
          api_base_url: API,
          access_token: 'acc-m2m-token-1',
          expires_at: NOW / 1000 + 3600
        }
      }
    ]);
    // The token is known for masking outputs, and is in no account.
    expect(model.knownKeys()).toContain('acc-m2m-token-1');
    expect(JSON.stringify(model.accounts)).not.toContain('token-1');
    expect(model.accounts.find(a => a.id === 'acc-m2m')).toMatchObject({
      kind: 'm2m',
      baseUrl: API,
      loginRequired: false
    });
  });

  it('pushes the renewed M2M token before the old one expires, without any cell', async () => {
    const { kernel } = await setup('acc-m2m', 'm2m');
    await jest.advanceTimersByTimeAsync((3600 - 300) * 1000);
    expect(kernel.messages.map(token)).toEqual(['acc-m2m-token-1']);
    await jest.advanceTimersByTimeAsync(120 * 1000);
    expect(kernel.messages.map(token)).toEqual([
      'acc-m2m-token-1',
      'acc-m2m-token-2'
    ]);
    const last = kernel.messages[1] as IMessage;
    expect(last.version).toBe(2);
    // Before the first token's expiry.
    expect(Date.now()).toBeLessThan((NOW / 1000 + 3600) * 1000);
    // And so on for every token.
    await jest.advanceTimersByTimeAsync(3600 * 1000);
    expect(kernel.messages.map(token)).toEqual([
      'acc-m2m-token-1',
      'acc-m2m-token-2',
      'acc-m2m-token-3'
    ]);
  });

  it('tells the kernel login_required when an OAuth login expires, and the account says so', async () => {
    const { kernel, model } = await setup('acc-o', 'oauth');
    await jest.advanceTimersByTimeAsync(3600 * 1000 + 2000);
    const last = kernel.messages[kernel.messages.length - 1] as IMessage;
    expect(last).toMatchObject({
      version: 2,
      state: 'login_required',
      account: null
    });
    expect(model.accounts.find(a => a.id === 'acc-o')?.loginRequired).toBe(
      true
    );
    expect(model.knownKeys()).not.toContain('acc-o-token-1');
  });

  it('pushes the new token at once after a new login', async () => {
    const { kernel, model, server } = await setup('acc-o', 'oauth');
    await jest.advanceTimersByTimeAsync(3600 * 1000 + 2000);
    await model.carto3AccountAdded(server.relogin('acc-o'), true);
    await jest.advanceTimersByTimeAsync(0);
    const last = kernel.messages[kernel.messages.length - 1] as IMessage;
    expect(last.state).toBe('granted');
    expect(token(last)).toBe('acc-o-token-2');
    expect(model.accounts.find(a => a.id === 'acc-o')?.loginRequired).toBe(
      false
    );
  });

  it('a notebook not granted gets version 1 not_granted, no token', async () => {
    const { kernel, store, model } = await setup('acc-m2m', 'm2m');
    await model.revokeGrant('nb.ipynb');
    await jest.advanceTimersByTimeAsync(0);
    expect(store.grantMap).toEqual({});
    const last = kernel.messages[kernel.messages.length - 1] as IMessage;
    expect(last).toMatchObject({
      version: 1,
      state: 'not_granted',
      account: null
    });
  });

  it('switching to an API-key account pushes version 1 again', async () => {
    const { kernel, model } = await setup('acc-m2m', 'm2m');
    await model.setDefault('acc-key');
    await jest.advanceTimersByTimeAsync(0);
    const last = kernel.messages[kernel.messages.length - 1] as IMessage;
    expect(last).toMatchObject({ version: 1, state: 'granted' });
    expect(last.account?.api_key).toBe('alice-key');
  });

  it('resolve() gives no API key for a CARTO 3 login', async () => {
    const { model } = await setup('acc-m2m', 'm2m');
    expect(await model.resolve({ path: 'nb.ipynb' })).toBeNull();
  });
});

describe('a CARTO 3 login renewed in another tab', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('is fetched again when the account list says it is current', async () => {
    const { kernel, model, server } = await setup('acc-o', 'oauth');
    await jest.advanceTimersByTimeAsync(3600 * 1000 + 2000);
    expect(
      (kernel.messages[kernel.messages.length - 1] as IMessage).state
    ).toBe('login_required');
    server.relogin('acc-o');
    await model.refresh();
    await jest.advanceTimersByTimeAsync(0);
    const last = kernel.messages[kernel.messages.length - 1] as IMessage;
    expect(last.state).toBe('granted');
    expect(token(last)).toBe('acc-o-token-2');
  });
});
