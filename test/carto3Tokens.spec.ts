import type { Carto3Token, ICarto3Store } from '../src/carto3Rest';
import { Carto3Tokens, ITokenChange } from '../src/carto3Tokens';
import { AccountStoreError } from '../src/rest';

/** A server side that hands out numbered tokens and can turn an account to login_required. */
class FakeTokenServer implements Pick<ICarto3Store, 'token'> {
  constructor(private readonly _now: () => number) {}
  lifetimeS = 3600;
  /** OAuth: the same token until it expires, then login_required. */
  renewable = true;
  requests = 0;
  private _current: Carto3Token | null = null;
  private _serial = 0;

  async token(_id: string): Promise<Carto3Token> {
    this.requests++;
    const nowS = Math.floor(this._now() / 1000);
    const due = !this._current || this._current.expires_at - nowS < 300;
    if (due && (this.renewable || !this._current)) {
      this._current = {
        access_token: `tok-${++this._serial}`,
        api_base_url: 'https://api.example.com',
        expires_at: nowS + this.lifetimeS
      };
    } else if (this._current && this._current.expires_at <= nowS) {
      throw new AccountStoreError(
        'login_required',
        'log in again',
        new Response(null, { status: 409 })
      );
    }
    return this._current!;
  }
}

describe('Carto3Tokens', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-30T18:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  function setUp(): {
    tokens: Carto3Tokens;
    server: FakeTokenServer;
    changes: ITokenChange[];
  } {
    const server = new FakeTokenServer(() => Date.now());
    const tokens = new Carto3Tokens({ store: server });
    const changes: ITokenChange[] = [];
    tokens.changed.connect((_, change) => changes.push(change));
    return { tokens, server, changes };
  }

  it('keeps a token in memory until it is due', async () => {
    const { tokens, server, changes } = setUp();
    expect((await tokens.current('m'))?.access_token).toBe('tok-1');
    expect((await tokens.current('m'))?.access_token).toBe('tok-1');
    expect(server.requests).toBe(1);
    expect(changes).toEqual([]);
    expect(tokens.knownTokens()).toEqual(['tok-1']);
  });

  it('fetches an M2M token again before it expires and announces the new one', async () => {
    const { tokens, changes } = setUp();
    const first = await tokens.current('m');
    // Just before the renewal point nothing happens.
    await jest.advanceTimersByTimeAsync((3600 - 240) * 1000 - 1000);
    expect(changes).toEqual([]);
    await jest.advanceTimersByTimeAsync(2000);
    expect(changes).toEqual([{ accountId: 'm', loginRequired: false }]);
    const second = await tokens.current('m');
    expect(second?.access_token).toBe('tok-2');
    expect(second!.expires_at).toBeGreaterThan(first!.expires_at);
    // And again for the next one: kernels never hold an expired token.
    await jest.advanceTimersByTimeAsync(3600 * 1000);
    expect(changes).toHaveLength(2);
    expect((await tokens.current('m'))?.access_token).toBe('tok-3');
  });

  it('turns an OAuth token that cannot be renewed into login_required at its expiry', async () => {
    const { tokens, server, changes } = setUp();
    server.renewable = false;
    await tokens.current('o');
    // The renewal point brings the same token: nothing to announce.
    await jest.advanceTimersByTimeAsync((3600 - 200) * 1000);
    expect(changes).toEqual([]);
    await jest.advanceTimersByTimeAsync(300 * 1000);
    expect(changes).toEqual([{ accountId: 'o', loginRequired: true }]);
    expect(await tokens.current('o')).toBeNull();
    expect(tokens.loginRequired('o')).toBe(true);
    expect(tokens.knownTokens()).toEqual([]);
  });

  it('renews short-lived tokens at half their life', async () => {
    const { tokens, server, changes } = setUp();
    server.lifetimeS = 60;
    await tokens.current('m');
    await jest.advanceTimersByTimeAsync(29 * 1000);
    expect(changes).toEqual([]);
    await jest.advanceTimersByTimeAsync(2 * 1000);
    expect(changes).toHaveLength(1);
  });

  it('asks at most every 30 s when the page clock runs ahead of the server', async () => {
    const server = new FakeTokenServer(() => Date.now() - 2 * 3600 * 1000);
    server.renewable = false;
    const tokens = new Carto3Tokens({ store: server });
    await tokens.current('o');
    await jest.advanceTimersByTimeAsync(60 * 1000);
    // The first token, one immediate check, then one every 30 s: no loop.
    expect(server.requests).toBeLessThanOrEqual(4);
    tokens.dispose();
  });

  it('announces a reload (a new login) even to the same token', async () => {
    const { tokens, changes } = setUp();
    await tokens.current('m');
    await tokens.reload('m');
    expect(changes).toEqual([{ accountId: 'm', loginRequired: false }]);
  });

  it('shares one request between concurrent readers', async () => {
    const { tokens, server } = setUp();
    await Promise.all([tokens.current('m'), tokens.current('m')]);
    expect(server.requests).toBe(1);
  });

  it('stops its timers when an account is forgotten or on dispose', async () => {
    const { tokens, server } = setUp();
    await tokens.current('m');
    tokens.forget('m');
    await jest.advanceTimersByTimeAsync(4000 * 1000);
    expect(server.requests).toBe(1);
    await tokens.current('m');
    tokens.dispose();
    await jest.advanceTimersByTimeAsync(4000 * 1000);
    expect(server.requests).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('tries again later when the server cannot be reached in the background', async () => {
    const { tokens, server, changes } = setUp();
    await tokens.current('m');
    const real = server.token.bind(server);
    let down = true;
    server.token = async id => {
      if (down) {
        server.requests++;
        throw new TypeError('Failed to fetch');
      }
      return real(id);
    };
    await jest.advanceTimersByTimeAsync((3600 - 240) * 1000);
    expect(changes).toEqual([]);
    down = false;
    await jest.advanceTimersByTimeAsync(30 * 1000);
    expect(changes).toEqual([{ accountId: 'm', loginRequired: false }]);
  });
});
