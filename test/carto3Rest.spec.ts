import { ServerConnection } from '@jupyterlab/services';

import { M2MFileError, RestCarto3Store, parseM2MFile } from '../src/carto3Rest';
import { RestAccountStore, storeErrorCode } from '../src/rest';

interface ISeen {
  url: string;
  method: string;
  body: unknown;
}

/** A Jupyter server that records each request and answers with `answer(request)`. */
function serverAnswering(answer: (seen: ISeen) => Response): {
  store: RestCarto3Store;
  seen: ISeen[];
} {
  const seen: ISeen[] = [];
  const store = new RestCarto3Store(
    ServerConnection.makeSettings({
      baseUrl: 'http://127.0.0.1:1/lab-prefix/',
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init);
        const text = await request.text();
        const entry = {
          // The path only: ServerConnection adds a cache-busting query.
          url: new URL(request.url).pathname,
          method: request.method,
          body: text ? JSON.parse(text) : undefined
        };
        seen.push(entry);
        return answer(entry);
      }
    })
  );
  return { store, seen };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

const M2M_ACCOUNT = {
  id: 'acc-m2m',
  kind: 'm2m',
  label: 'alice (M2M)',
  username: null,
  base_url: null,
  api_base_url: 'https://gcp-us-east1.api.carto.com',
  expires_at: 1795359534,
  status: 'ok',
  public: false,
  user_info: null,
  created_at: '2026-11-30T18:00:00+00:00'
};

describe('RestCarto3Store', () => {
  it('adds an M2M account from its credentials, kind m2m, and reads the CARTO 3 fields', async () => {
    const { store, seen } = serverAnswering(() => json(201, M2M_ACCOUNT));
    const credentials = {
      api_base_url: 'https://gcp-us-east1.api.carto.com',
      client_id: 'cid',
      client_secret: 'csecret'
    };
    const account = await store.addM2M({ credentials, label: 'team' });
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/lab-prefix/carto-credentials/accounts');
    expect(seen[0].body).toEqual({ kind: 'm2m', credentials, label: 'team' });
    expect(account).toMatchObject({
      id: 'acc-m2m',
      kind: 'm2m',
      api_base_url: 'https://gcp-us-east1.api.carto.com',
      expires_at: 1795359534,
      status: 'ok'
    });
  });

  it('adds an M2M account by its path on the server', async () => {
    const { store, seen } = serverAnswering(() => json(201, M2M_ACCOUNT));
    await store.addM2M({ path: '/srv/m2m.json' });
    expect(seen[0].body).toEqual({ kind: 'm2m', path: '/srv/m2m.json' });
  });

  it('starts a login and returns the state and the authorize page', async () => {
    const { store, seen } = serverAnswering(() =>
      json(200, {
        state: 's1',
        authorize_url: 'https://auth.carto.com/authorize?state=s1'
      })
    );
    const started = await store.startLogin({
      flow: 'redirect',
      org: 'acme',
      account_id: 'acc-1'
    });
    expect(seen[0].url).toMatch(/carto-credentials\/oauth\/start$/);
    expect(seen[0].body).toEqual({
      flow: 'redirect',
      org: 'acme',
      account_id: 'acc-1'
    });
    expect(started.state).toBe('s1');
  });

  it('refuses an authorize page that is not http(s)', async () => {
    const { store } = serverAnswering(() =>
      json(200, { state: 's1', authorize_url: 'javascript:alert(1)' })
    );
    const error = await store
      .startLogin({ flow: 'paste' })
      .catch((reason: unknown) => reason);
    expect(storeErrorCode(error)).toBe('bad_answer');
  });

  it("passes on oauth_not_configured with the server's message", async () => {
    const { store } = serverAnswering(() =>
      json(400, {
        error: {
          code: 'oauth_not_configured',
          message: 'No OAuth client: use the paste flow.'
        }
      })
    );
    const error = await store
      .startLogin({ flow: 'redirect' })
      .catch((reason: unknown) => reason);
    expect(storeErrorCode(error)).toBe('oauth_not_configured');
    expect((error as Error).message).toBe(
      'No OAuth client: use the paste flow.'
    );
  });

  it('exchanges a pasted code', async () => {
    const { store, seen } = serverAnswering(() =>
      json(201, { ...M2M_ACCOUNT, kind: 'oauth', id: 'acc-o' })
    );
    const account = await store.exchange('s1', 'the-code');
    expect(seen[0].url).toMatch(/oauth\/exchange$/);
    expect(seen[0].body).toEqual({ state: 's1', code: 'the-code' });
    expect(account).toMatchObject({ kind: 'oauth' });
  });

  it('follows a login by its state, encoded in the path', async () => {
    const { store, seen } = serverAnswering(() =>
      json(200, { status: 'done', account: M2M_ACCOUNT })
    );
    const status = await store.loginStatus('a/b c');
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toMatch(/oauth\/logins\/a%2Fb%20c$/);
    expect(status.status).toBe('done');
    expect(status.account?.id).toBe('acc-m2m');
  });

  it('reads a failed login with its error', async () => {
    const { store } = serverAnswering(() =>
      json(200, {
        status: 'failed',
        error: { code: 'oauth_denied', message: 'access_denied' }
      })
    );
    const status = await store.loginStatus('s');
    expect(status).toEqual({
      status: 'failed',
      error: { code: 'oauth_denied', message: 'access_denied' }
    });
  });

  it('reads a token; 409 is login_required', async () => {
    let expired = false;
    const { store } = serverAnswering(() =>
      expired
        ? json(409, {
            error: { code: 'login_required', message: 'log in again' }
          })
        : json(200, {
            access_token: 'tok-1',
            api_base_url: 'https://gcp-us-east1.api.carto.com',
            expires_at: 1795359534
          })
    );
    expect(await store.token('acc-o')).toEqual({
      access_token: 'tok-1',
      api_base_url: 'https://gcp-us-east1.api.carto.com',
      expires_at: 1795359534
    });
    expired = true;
    const error = await store.token('acc-o').catch((r: unknown) => r);
    expect(storeErrorCode(error)).toBe('login_required');
  });

  it('refuses a token answer without an expiry', async () => {
    const { store } = serverAnswering(() =>
      json(200, { access_token: 'tok', api_base_url: 'https://x' })
    );
    const error = await store.token('a').catch((r: unknown) => r);
    expect(storeErrorCode(error)).toBe('bad_answer');
  });
});

describe('parseM2MFile', () => {
  it('reads the three fields', () => {
    expect(
      parseM2MFile(
        JSON.stringify({
          api_base_url: 'https://x',
          client_id: 'i',
          client_secret: 's',
          other: 1
        })
      )
    ).toEqual({
      api_base_url: 'https://x',
      client_id: 'i',
      client_secret: 's'
    });
  });

  it('names the missing field, never a value', () => {
    let error: unknown;
    try {
      parseM2MFile(
        JSON.stringify({ api_base_url: 'https://x', client_id: 'i' })
      );
    } catch (reason) {
      error = reason;
    }
    expect(error).toBeInstanceOf(M2MFileError);
    expect((error as M2MFileError).field).toBe('client_secret');
  });

  it('says when the file is not JSON', () => {
    expect(() => parseM2MFile('client_secret=abc')).toThrow(M2MFileError);
  });
});

describe('the account list with CARTO 3 accounts', () => {
  it('reads kind, api_base_url, expires_at and status; an API-key account of an older server is api_key', async () => {
    const store = new RestAccountStore(
      ServerConnection.makeSettings({
        baseUrl: 'http://127.0.0.1:1/',
        fetch: async () =>
          json(200, {
            accounts: [
              { ...M2M_ACCOUNT, status: 'login_required' },
              {
                id: 'acc-k',
                label: 'alice',
                username: 'alice',
                base_url: 'https://alice.carto.com/',
                public: false,
                user_info: null
              }
            ],
            default_account: 'acc-m2m'
          })
      })
    );
    const list = await store.list();
    expect(list.accounts[0]).toMatchObject({
      kind: 'm2m',
      base_url: '',
      api_base_url: 'https://gcp-us-east1.api.carto.com',
      expires_at: 1795359534,
      status: 'login_required'
    });
    expect(list.accounts[1].kind).toBeUndefined();
    expect(list.accounts[1].base_url).toBe('https://alice.carto.com/');
  });
});
