/**
 * Fetches a layer's features as GeoJSON from CARTO's SQL API. The key travels in an HTTP Basic
 * `Authorization` header (username + key), as CARTO accepts it and as the server and the kernel
 * send it: never in a URL (history, proxies, server logs) nor in the body. The request and the
 * reading of its failures are `cartoFailure.ts`'s, shared with CARTO 3's SQL API: no cookies go
 * along, and a redirect is never followed (it would carry the header on): it is reported as one.
 */
import * as z from 'zod/mini';

import { requestCarto } from './cartoFailure';
import type { LayerState } from './state';

export { LayerLoadError } from './cartoFailure';
export type { LayerErrorKind } from './cartoFailure';

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

/** The layer's features; a failure is a `LayerLoadError` (see `cartoFailure.ts`). */
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
  return requestCarto({
    url: sqlEndpoint(options.baseUrl),
    init: { method: 'POST', body, headers },
    secret: options.apiKey,
    answer: featureCollectionSchema,
    fetch: options.fetch,
    signal: options.signal
  });
}
