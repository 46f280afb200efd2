/**
 * One request to a CARTO SQL API and one reading of its failures, for both of them: the API-key
 * SQL API (`/api/v2/sql`, `sqlApi.ts`) and CARTO 3's (`/v3/sql/{connection}/query`,
 * `carto3Sql.ts`). The secret travels in the caller's `Authorization` header only; no cookies go
 * along, nothing is cached, and a redirect is never followed (it would carry the header on): it is
 * reported, with where it points. A failure becomes a `LayerLoadError` whose kind comes from one
 * table (`classifyFailure`) and whose detail is CARTO's own message, masked by the one masking
 * rule (`src/rules.ts`) and capped in length.
 */
import * as z from 'zod/mini';

import { maskKey } from '../rules';

/**
 * Why a layer could not be loaded; `detail` is CARTO's own message (secret masked), or for a
 * redirect where it points (without query or fragment; empty when the browser hides it).
 */
export type LayerErrorKind =
  | 'auth'
  | 'query'
  | 'not_found'
  | 'server'
  | 'network'
  | 'redirect'
  | 'not_carto';

export class LayerLoadError extends Error {
  constructor(
    readonly kind: LayerErrorKind,
    readonly status: number | null,
    readonly detail: string
  ) {
    super(detail || kind);
  }
}

/** The longest CARTO message a failure shows (a server may echo a whole query back). */
export const MAX_DETAIL_LENGTH = 500;

/** The longest redirect target a failure shows. */
const MAX_TARGET_LENGTH = 200;

/**
 * CARTO's error bodies: `{"error": ["…"]}` from the API-key SQL API, `{"error": "…", "status": n}`
 * from CARTO 3 (a list on some of its routes too).
 */
const cartoErrorSchema = z.object({
  error: z.union([z.string(), z.array(z.string())])
});

/** CARTO's error messages in a parsed body, or `null` when the body is not a CARTO error. */
export function cartoErrorTexts(data: unknown): string[] | null {
  const parsed = cartoErrorSchema.safeParse(data);
  if (!parsed.success) {
    return null;
  }
  const error = parsed.data.error;
  return Array.isArray(error) ? error : [error];
}

/**
 * The kind of a failed answer, the same for both SQL APIs. `texts` are CARTO's error messages
 * (`cartoErrorTexts`), `null` when the body was not a CARTO error.
 *
 * | status | kind |
 * |---|---|
 * | 3xx | `redirect` |
 * | 401 | `auth` |
 * | 403 | `auth`, but `query` when CARTO says a relation is denied (the key works, the table is not its) |
 * | 404 | `not_found` |
 * | ≥ 500 | `server` |
 * | any other (400, 418, a 200 carrying an error…) | `query` with a CARTO error body, else `not_carto` |
 */
export function classifyFailure(
  status: number,
  texts: readonly string[] | null
): LayerErrorKind {
  const carto = texts !== null;
  if (status >= 300 && status < 400) {
    return 'redirect';
  }
  if (status === 401) {
    return 'auth';
  }
  if (status === 403) {
    return carto && /relation/i.test(texts.join(' ')) ? 'query' : 'auth';
  }
  if (status === 404) {
    return 'not_found';
  }
  if (status >= 500) {
    return 'server';
  }
  return carto ? 'query' : 'not_carto';
}

/**
 * `text` with every occurrence of `secret` replaced by `maskKey(secret)` (`src/rules.ts`: `***`
 * plus the last 4 characters of a long key), the text a known key shows everywhere.
 *
 * Unlike the masking of notebook outputs (`src/redact.ts`), a secret shorter than
 * `MIN_KEY_LENGTH` is masked too: here the text is CARTO's answer to a request that carried this
 * very secret, so an echo of it is the secret, not an ordinary word (both SQL API paths always
 * masked any non-empty secret). An empty secret (no key sent) masks nothing.
 */
export function maskSecret(text: string, secret: string): string {
  return secret ? text.split(secret).join(maskKey(secret)) : text;
}

/**
 * Where a redirect points: without user info, query or fragment, without control characters,
 * at most 200 characters, and with the secret masked; `''` when unknown or unreadable.
 */
export function redirectTarget(
  location: string | null | undefined,
  secret: string
): string {
  if (!location) {
    return '';
  }
  let shown: string;
  try {
    const url = new URL(location, 'http://invalid.invalid');
    shown =
      url.host === 'invalid.invalid'
        ? url.pathname
        : `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '';
  }
  shown = Array.from(shown)
    .filter(c => c >= ' ' && c !== '\x7f')
    .join('')
    .slice(0, MAX_TARGET_LENGTH);
  return maskSecret(shown, secret);
}

export interface ICartoRequest<T> {
  url: string;
  /** Method, headers (the secret's `Authorization` among them) and body. */
  init: Pick<RequestInit, 'method' | 'headers' | 'body'>;
  /** The secret the request carries (`''` for none): masked in whatever the failure shows. */
  secret: string;
  /** What a successful answer looks like. */
  answer: z.ZodMiniType<T>;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

/**
 * Sends one request to a CARTO SQL API and returns its answer, checked against `answer`; throws a
 * `LayerLoadError` for anything else (an `AbortError` is rethrown as it is, so callers can tell
 * a cancelled load apart).
 */
export async function requestCarto<T>(options: ICartoRequest<T>): Promise<T> {
  let response: Response;
  try {
    response = await options.fetch(options.url, {
      ...options.init,
      credentials: 'omit',
      redirect: 'manual',
      cache: 'no-store',
      signal: options.signal
    });
  } catch (reason) {
    if ((reason as { name?: string } | null)?.name === 'AbortError') {
      throw reason;
    }
    throw new LayerLoadError('network', null, '');
  }
  if (
    response.type === 'opaqueredirect' ||
    (response.status >= 300 && response.status < 400)
  ) {
    // Browsers hide a cross-origin redirect's status and target ('opaqueredirect', status 0).
    throw new LayerLoadError(
      'redirect',
      response.status || null,
      redirectTarget(response.headers?.get('Location'), options.secret)
    );
  }
  const text = await response.text().catch(() => '');
  let data: unknown = undefined;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: not CARTO's answer, nor its error
  }
  if (response.ok) {
    const answer = options.answer.safeParse(data);
    if (answer.success) {
      return answer.data;
    }
  }
  const texts = cartoErrorTexts(data);
  throw new LayerLoadError(
    classifyFailure(response.status, texts),
    response.status,
    texts === null
      ? ''
      : maskSecret(texts.join(' '), options.secret).slice(0, MAX_DETAIL_LENGTH)
  );
}
