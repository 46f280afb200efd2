/**
 * Fetches a layer's features as GeoJSON from CARTO's SQL API. The key travels in a POST form
 * body, so it is never in a URL (history, server logs, the DOM).
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

/** Why a layer could not be loaded; `detail` is CARTO's own message (key removed). */
export type LayerErrorKind =
  'auth' | 'query' | 'not_found' | 'server' | 'network' | 'not_carto';

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
export function layerQuery(layer: LayerState): string {
  return layer.is_query ? layer.source : `SELECT * FROM ${layer.source}`;
}

/** `{base_url}api/v2/sql` (base URLs end with a slash in this extension; tolerate none). */
export function sqlEndpoint(baseUrl: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : baseUrl + '/'}api/v2/sql`;
}

export interface IFetchOptions {
  baseUrl: string;
  apiKey: string;
  query: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

export async function fetchGeoJSON(
  options: IFetchOptions
): Promise<FeatureCollection> {
  const body = new URLSearchParams({
    q: options.query,
    format: 'GeoJSON',
    api_key: options.apiKey
  });
  let response: Response;
  try {
    response = await options.fetch(sqlEndpoint(options.baseUrl), {
      method: 'POST',
      body,
      credentials: 'omit',
      signal: options.signal
    });
  } catch (reason) {
    if ((reason as { name?: string } | null)?.name === 'AbortError') {
      throw reason;
    }
    throw new LayerLoadError('network', null, '');
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
