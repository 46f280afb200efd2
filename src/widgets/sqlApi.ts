/**
 * Fetches a layer's features as GeoJSON from CARTO's SQL API. The key travels in an HTTP Basic
 * `Authorization` header (username + key), as CARTO accepts it and as the server and the kernel
 * send it: never in a URL (history, proxies, server logs) nor in the body. No cookies go along,
 * and a redirect is never followed (it would carry the header on): it is reported as one.
 */
import * as z from 'zod/mini';

import type { LayerState } from './state';

const geometrySchema = z.object({
  type: z.string(),
  coordinates: z.optional(z.unknown())
});

const featureSchema = z.object({
  type: z.literal('Feature'),
  geometry: z.nullable(geometrySchema),
  properties: z.optional(z.nullable(z.record(z.string(), z.unknown())))
});

export const featureCollectionSchema = z.object({
  type: z.literal('FeatureCollection'),
  features: z.array(featureSchema)
});

export type FeatureCollection = z.infer<typeof featureCollectionSchema>;

const cartoErrorSchema = z.object({
  error: z.array(z.string())
});

/**
 * Why a layer could not be loaded; `detail` is CARTO's own message (key removed), or for a
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

/** The SQL a layer runs: its query, or every row of its table. */
export function layerQuery(
  layer: Pick<LayerState, 'source' | 'is_query'>
): string {
  return layer.is_query ? layer.source : `SELECT * FROM ${layer.source}`;
}

/** `{base_url}api/v2/sql` (base URLs end with a slash in this extension; tolerate none). */
export function sqlEndpoint(baseUrl: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : baseUrl + '/'}api/v2/sql`;
}

/** The HTTP Basic `Authorization` value for `username:apiKey` (UTF-8, base64). */
export function basicAuthorization(
  username: string | null,
  apiKey: string
): string {
  const bytes = new TextEncoder().encode(`${username ?? ''}:${apiKey}`);
  let binary = '';
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return `Basic ${btoa(binary)}`;
}

export interface IFetchOptions {
  baseUrl: string;
  /** The account's user name; `null` when the base URL names the user (sent empty). */
  username: string | null;
  apiKey: string;
  query: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

export async function fetchGeoJSON(
  options: IFetchOptions
): Promise<FeatureCollection> {
  const body = new URLSearchParams({ q: options.query, format: 'GeoJSON' });
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.apiKey) {
    headers.Authorization = basicAuthorization(
      options.username,
      options.apiKey
    );
  }
  let response: Response;
  try {
    response = await options.fetch(sqlEndpoint(options.baseUrl), {
      method: 'POST',
      body,
      headers,
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
      Private.redirectTarget(response.headers?.get('Location'), options.apiKey)
    );
  }
  const text = await response.text().catch(() => '');
  let data: unknown = undefined;
  try {
    data = JSON.parse(text);
  } catch {
    // handled below
  }
  const mask = (message: string) =>
    options.apiKey ? message.split(options.apiKey).join('***') : message;
  if (!response.ok) {
    const carto = cartoErrorSchema.safeParse(data);
    const detail = carto.success ? mask(carto.data.error.join(' ')) : '';
    const status = response.status;
    if (status === 401 || (status === 403 && !/relation/i.test(detail))) {
      throw new LayerLoadError('auth', status, detail);
    }
    if (status === 403 || status === 400) {
      throw new LayerLoadError(
        carto.success ? 'query' : 'not_carto',
        status,
        detail
      );
    }
    if (status === 404) {
      throw new LayerLoadError('not_found', status, detail);
    }
    if (status >= 500) {
      throw new LayerLoadError('server', status, detail);
    }
    throw new LayerLoadError(
      carto.success ? 'query' : 'not_carto',
      status,
      detail
    );
  }
  const collection = featureCollectionSchema.safeParse(data);
  if (!collection.success) {
    const carto = cartoErrorSchema.safeParse(data);
    if (carto.success) {
      throw new LayerLoadError(
        'query',
        response.status,
        mask(carto.data.error.join(' '))
      );
    }
    throw new LayerLoadError('not_carto', response.status, '');
  }
  return collection.data;
}

namespace Private {
  /** Where a redirect points, without user info, query or fragment, and never the key. */
  export function redirectTarget(
    location: string | null | undefined,
    apiKey: string
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
      .slice(0, 200);
    return apiKey ? shown.split(apiKey).join('***') : shown;
  }
}
