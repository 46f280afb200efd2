import { ServerConnection } from '@jupyterlab/services';

import {
  AccountStoreError,
  RestAccountStore,
  storeErrorCode
} from '../src/rest';

/** A Jupyter server that answers every request with one response, or cannot be reached. */
function storeAnswering(answer: () => Response): RestAccountStore {
  return new RestAccountStore(
    ServerConnection.makeSettings({
      baseUrl: 'http://127.0.0.1:1/',
      fetch: async () => answer()
    })
  );
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('RestAccountStore errors', () => {
  it("are ServerConnection.ResponseError carrying the server's code", async () => {
    const store = storeAnswering(() =>
      json(400, { error: { code: 'bad_key', message: 'CARTO said no.' } })
    );
    const error = await store.list().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error).toBeInstanceOf(AccountStoreError);
    expect((error as AccountStoreError).code).toBe('bad_key');
    expect((error as AccountStoreError).message).toBe('CARTO said no.');
    expect((error as AccountStoreError).status).toBe(400);
    expect((error as AccountStoreError).response.status).toBe(400);
    expect(storeErrorCode(error)).toBe('bad_key');
  });

  it('say "server" when the answer is not ours (extension missing)', async () => {
    const store = storeAnswering(() => new Response('<html>', { status: 404 }));
    const error = await store.list().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(storeErrorCode(error)).toBe('server');
    expect((error as Error).message).toMatch(/answered 404/);
  });

  it('say "bad_answer" for a success this page does not understand', async () => {
    const store = storeAnswering(() => json(200, { nothing: true }));
    const error = await store.list().catch((reason: unknown) => reason);
    expect(storeErrorCode(error)).toBe('bad_answer');
  });

  it('are ServerConnection.NetworkError when the server cannot be reached', async () => {
    const store = storeAnswering(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await store.list().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ServerConnection.NetworkError);
    expect(storeErrorCode(error)).toBe('network');
  });

  it('leave other failures without a code', () => {
    expect(storeErrorCode(new Error('boom'))).toBeNull();
  });
});
