/**
 * One request and one failure table for both SQL APIs (issue 12 item 3): the API-key SQL API
 * (`fetchGeoJSON`) and CARTO 3's (`fetchCarto3Features`) answer the same failure with the same
 * kind and detail, mask an echoed secret the one way (`maskKey`), and show a redirect's target.
 */
import { fetchCarto3Features } from '../src/widgets/carto3Sql';
import {
  classifyFailure,
  cartoErrorTexts,
  MAX_DETAIL_LENGTH,
  maskSecret,
  redirectTarget
} from '../src/widgets/cartoFailure';
import { fetchGeoJSON, LayerLoadError } from '../src/widgets/sqlApi';
import { maskKey, MIN_KEY_LENGTH } from '../src/rules';

const API_KEY = 'alice-demo-key-0001';
const TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlLTAwMDE';

interface IRequest {
  url: string;
  init: RequestInit;
}

/** A `fetch` that records its requests and gives `answer`'s response. */
class FakeFetch {
  requests: IRequest[] = [];
  answer: () => Response | Promise<Response> = () => new Response('{}');
  fetch = (async (url: string, init: RequestInit) => {
    this.requests.push({ url, init });
    return this.answer();
  }) as unknown as typeof fetch;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

interface IApi {
  name: string;
  secret: string;
  /** CARTO's error body of this API for `message`. */
  error: (status: number, message: string) => unknown;
  /** A successful answer of this API (two points). */
  ok: unknown;
  load: (
    fake: FakeFetch,
    secret: string,
    signal?: AbortSignal
  ) => Promise<unknown>;
}

const APIS: IApi[] = [
  {
    name: 'the API-key SQL API',
    secret: API_KEY,
    error: (_, message) => ({ error: [message] }),
    ok: {
      type: 'FeatureCollection',
      features: [0, 1].map(i => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [i, i] },
        properties: {}
      }))
    },
    load: (fake, secret, signal) =>
      fetchGeoJSON({
        baseUrl: 'https://alice.carto.com/',
        username: 'alice',
        apiKey: secret,
        query: 'SELECT * FROM t',
        fetch: fake.fetch,
        signal
      })
  },
  {
    name: 'the CARTO 3 SQL API',
    secret: TOKEN,
    error: (status, message) => ({ error: message, status }),
    ok: {
      rows: [0, 1].map(i => ({
        geom: { type: 'Point', coordinates: [i, i] }
      })),
      schema: [{ name: 'geom', type: 'geography' }]
    },
    load: (fake, secret, signal) =>
      fetchCarto3Features({
        apiBaseUrl: 'https://gcp-us-east1.api.carto.com',
        accessToken: secret,
        connection: 'carto_dw',
        query: 'SELECT * FROM t',
        fetch: fake.fetch,
        signal
      })
  }
];

/** The failure `load` ends with (fails the test if it succeeds). */
async function failure(promise: Promise<unknown>): Promise<LayerLoadError> {
  const error = await promise.then(
    () => new Error('loaded, but a failure was expected'),
    (reason: unknown) => reason
  );
  expect(error).toBeInstanceOf(LayerLoadError);
  return error as LayerLoadError;
}

/** [status, CARTO's message or a non-CARTO body (`{html}`), kind]. */
const TABLE: Array<[number, string | { html: string }, string]> = [
  [401, 'Unauthorized', 'auth'],
  [403, 'Forbidden', 'auth'],
  [403, { html: '<html>forbidden</html>' }, 'auth'],
  [403, 'permission denied for relation stores', 'query'],
  [400, 'syntax error at or near "FORM"', 'query'],
  [400, { html: '<html>bad request</html>' }, 'not_carto'],
  [404, 'Connection not found: carto_dw', 'not_found'],
  [404, { html: '<html>not found</html>' }, 'not_found'],
  [429, 'You are over platform limits', 'query'],
  [418, { html: '<html>teapot</html>' }, 'not_carto'],
  [500, 'boom', 'server'],
  [502, { html: '<html>bad gateway</html>' }, 'server'],
  // A 200 that carries CARTO's error instead of an answer, and one that is not CARTO at all.
  [200, 'column "nope" does not exist', 'query'],
  [200, { html: '<html>portal</html>' }, 'not_carto']
];

describe.each(APIS)('$name', api => {
  let fake: FakeFetch;
  beforeEach(() => {
    fake = new FakeFetch();
  });

  it.each(TABLE)(
    'reports HTTP %d (%j) as %s, with CARTO’s message as the detail',
    async (status, body, kind) => {
      fake.answer = () =>
        typeof body === 'string'
          ? json(status, api.error(status, body))
          : new Response(body.html, { status });
      const error = await failure(api.load(fake, api.secret));
      expect(error).toMatchObject({
        kind,
        status,
        detail: typeof body === 'string' ? body : ''
      });
    }
  );

  it('sends no cookies, follows no redirect, caches nothing and passes the signal on', async () => {
    fake.answer = () => json(200, api.ok);
    const controller = new AbortController();
    await api.load(fake, api.secret, controller.signal);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].init).toMatchObject({
      credentials: 'omit',
      redirect: 'manual',
      cache: 'no-store'
    });
    expect(fake.requests[0].init.signal).toBe(controller.signal);
  });

  it('masks a secret CARTO echoes as the one masking rule does, and caps the detail', async () => {
    fake.answer = () => json(400, api.error(400, `bad key ${api.secret} here`));
    const echoed = await failure(api.load(fake, api.secret));
    expect(echoed.detail).toBe(`bad key ${maskKey(api.secret)} here`);
    expect(echoed.detail).toBe(`bad key ***${api.secret.slice(-4)} here`);

    const short = 'k3y';
    expect(short.length).toBeLessThan(MIN_KEY_LENGTH);
    fake.answer = () => json(401, api.error(401, `key ${short} refused`));
    expect((await failure(api.load(fake, short))).detail).toBe(
      'key *** refused'
    );

    fake.answer = () =>
      json(400, api.error(400, `${'x'.repeat(600)} ${api.secret}`));
    const long = await failure(api.load(fake, api.secret));
    expect(long.detail).toBe('x'.repeat(MAX_DETAIL_LENGTH));
  });

  it.each([
    [
      301,
      `https://elsewhere.example/sql/${'{secret}'}/q?api_key=${'{secret}'}#${'{secret}'}`,
      'https://elsewhere.example/sql/{masked}/q'
    ],
    [
      302,
      'https://user:{secret}@elsewhere.example/v3/sql/c/query?q=1',
      'https://elsewhere.example/v3/sql/c/query'
    ],
    [307, '/v3/sql/c/query?access_token={secret}', '/v3/sql/c/query'],
    [308, null, '']
  ])(
    'reports a %d redirect with its target (no query, never the secret), not following it',
    async (status, location, shown) => {
      const fill = (text: string) =>
        text
          .split('{secret}')
          .join(api.secret)
          .split('{masked}')
          .join(maskKey(api.secret));
      fake.answer = () =>
        new Response(null, {
          status,
          headers: location ? { Location: fill(location) } : {}
        });
      const error = await failure(api.load(fake, api.secret));
      expect(error).toMatchObject({
        kind: 'redirect',
        status,
        detail: fill(shown)
      });
      expect(error.detail).not.toContain(api.secret);
      expect(fake.requests).toHaveLength(1);
    }
  );

  it("reports a browser's opaque redirect", async () => {
    fake.answer = () =>
      ({
        type: 'opaqueredirect',
        status: 0,
        ok: false,
        headers: new Headers(),
        text: async () => ''
      }) as unknown as Response;
    const error = await failure(api.load(fake, api.secret));
    expect(error).toMatchObject({ kind: 'redirect', status: null, detail: '' });
  });

  it('reports a network failure, and passes a cancelled load through as it is', async () => {
    fake.answer = () => Promise.reject(new TypeError('Failed to fetch'));
    expect(await failure(api.load(fake, api.secret))).toMatchObject({
      kind: 'network',
      status: null,
      detail: ''
    });
    const abort = new DOMException('The operation was aborted.', 'AbortError');
    fake.answer = () => Promise.reject(abort);
    await expect(api.load(fake, api.secret)).rejects.toBe(abort);
  });
});

describe('both SQL APIs', () => {
  it.each(TABLE)(
    'answer HTTP %d (%j) with the same kind and detail',
    async (status, body) => {
      const outcomes = [];
      for (const api of APIS) {
        const fake = new FakeFetch();
        fake.answer = () =>
          typeof body === 'string'
            ? json(status, api.error(status, body))
            : new Response(body.html, { status });
        const error = await failure(api.load(fake, api.secret));
        outcomes.push([error.kind, error.status, error.detail]);
      }
      expect(outcomes[1]).toEqual(outcomes[0]);
    }
  );
});

describe('classifyFailure', () => {
  it('is one table of status and CARTO error texts', () => {
    expect(classifyFailure(301, null)).toBe('redirect');
    expect(classifyFailure(401, null)).toBe('auth');
    expect(classifyFailure(403, ['Forbidden'])).toBe('auth');
    expect(classifyFailure(403, ['permission denied for relation t'])).toBe(
      'query'
    );
    expect(classifyFailure(404, null)).toBe('not_found');
    expect(classifyFailure(503, ['x'])).toBe('server');
    expect(classifyFailure(400, ['x'])).toBe('query');
    expect(classifyFailure(400, null)).toBe('not_carto');
    expect(classifyFailure(200, ['x'])).toBe('query');
    expect(classifyFailure(200, null)).toBe('not_carto');
  });

  it("reads both APIs' error bodies", () => {
    expect(cartoErrorTexts({ error: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(cartoErrorTexts({ error: 'a', status: 400 })).toEqual(['a']);
    expect(cartoErrorTexts({ error: 3 })).toBeNull();
    expect(cartoErrorTexts('<html>')).toBeNull();
    expect(cartoErrorTexts(undefined)).toBeNull();
  });
});

describe('maskSecret', () => {
  it('masks every occurrence by the one rule, short secrets too, nothing for none', () => {
    expect(maskSecret(`${API_KEY}/${API_KEY}`, API_KEY)).toBe(
      '***0001/***0001'
    );
    expect(maskSecret('a k3y b', 'k3y')).toBe('a *** b');
    expect(maskSecret('text', '')).toBe('text');
  });

  it('keeps a redirect target free of control characters and the secret', () => {
    expect(redirectTarget('https://h.example/a\u0007b?x=1', 's3cret')).toBe(
      'https://h.example/a%07b'
    );
    expect(redirectTarget('/p/s3cret', 's3cret')).toBe('/p/***');
    expect(redirectTarget('http://[bad', 's3cret')).toBe('');
  });
});
