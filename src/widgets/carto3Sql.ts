/**
 * Fetches a CARTO 3 layer's rows from the SQL API of its connection,
 * `{api_base_url}/v3/sql/{connection}/query`, and turns them into GeoJSON features. The access
 * token travels in an `Authorization: Bearer` header only: never in a URL (history, proxies,
 * server logs) nor in a body. The request and the reading of its failures are `cartoFailure.ts`'s,
 * shared with the API-key SQL API: no cookies go along, and a redirect is never followed (it would
 * carry the header on).
 *
 * CARTO 3 answers `{rows, schema, meta}`; a geography column's value may be GeoJSON (an object or
 * its text, as the local API and `ST_ASGEOJSON` give) or WKB (hex text, as PostGIS-backed
 * connections give). The geometry column is the one the schema types `geography`/`geometry`, else
 * one named `geom`, `the_geom` or `geometry`; every other column becomes a property.
 */
import * as z from 'zod/mini';

import { requestCarto } from './cartoFailure';
import type { FeatureCollection } from './sqlApi';

/** Longer queries go in a POST body: URLs that long are refused by servers and proxies. */
const MAX_GET_QUERY = 2000;
const GEOMETRY_NAMES = ['geom', 'the_geom', 'geometry'];

const answerSchema = z.object({
  rows: z.array(z.record(z.string(), z.unknown())),
  schema: z.optional(
    z.array(z.object({ name: z.string(), type: z.optional(z.string()) }))
  )
});

type Geometry = FeatureCollection['features'][number]['geometry'];

export interface ICarto3FetchOptions {
  /** The login's API base URL (`https://gcp-us-east1.api.carto.com`). */
  apiBaseUrl: string;
  accessToken: string;
  connection: string;
  query: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

/** `{api_base_url}/v3/sql/{connection}/query` (a trailing slash on the base URL tolerated). */
export function carto3QueryEndpoint(
  apiBaseUrl: string,
  connection: string
): string {
  const base = apiBaseUrl.replace(/\/+$/, '');
  return `${base}/v3/sql/${encodeURIComponent(connection)}/query`;
}

/** The layer's features; a failure is a `LayerLoadError` (see `cartoFailure.ts`). */
export async function fetchCarto3Features(
  options: ICarto3FetchOptions
): Promise<FeatureCollection> {
  const endpoint = carto3QueryEndpoint(options.apiBaseUrl, options.connection);
  const headers: Record<string, string> = {
    Accept: 'application/json',
    Authorization: `Bearer ${options.accessToken}`
  };
  const long = options.query.length > MAX_GET_QUERY;
  if (long) {
    headers['Content-Type'] = 'application/json';
  }
  const answer = await requestCarto({
    url: long
      ? endpoint
      : `${endpoint}?${new URLSearchParams({ q: options.query })}`,
    init: long
      ? { method: 'POST', headers, body: JSON.stringify({ q: options.query }) }
      : { method: 'GET', headers },
    secret: options.accessToken,
    answer: answerSchema,
    fetch: options.fetch,
    signal: options.signal
  });
  return rowsToFeatures(answer.rows, answer.schema);
}

/** The rows of a CARTO 3 answer as GeoJSON features (rows without a geometry are left out). */
export function rowsToFeatures(
  rows: ReadonlyArray<Record<string, unknown>>,
  schema?: ReadonlyArray<{ name: string; type?: string }>
): FeatureCollection {
  const column = geometryColumn(rows, schema);
  const features: FeatureCollection['features'] = [];
  if (column !== null) {
    for (const row of rows) {
      const geometry = parseGeometry(row[column]);
      if (!geometry) {
        continue;
      }
      const properties: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(row)) {
        if (key !== column) {
          properties[key] = value;
        }
      }
      features.push({ type: 'Feature', geometry, properties });
    }
  }
  return { type: 'FeatureCollection', features };
}

function geometryColumn(
  rows: ReadonlyArray<Record<string, unknown>>,
  schema?: ReadonlyArray<{ name: string; type?: string }>
): string | null {
  const typed = schema?.find(field =>
    /^(geography|geometry)$/i.test(field.type ?? '')
  );
  if (typed) {
    return typed.name;
  }
  const names = new Set(rows.length ? Object.keys(rows[0]) : []);
  return GEOMETRY_NAMES.find(name => names.has(name)) ?? null;
}

/** A GeoJSON geometry from GeoJSON (object or text) or WKB (hex text); `null` if neither. */
export function parseGeometry(value: unknown): Geometry | null {
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{')) {
      try {
        return asGeometry(JSON.parse(text));
      } catch {
        return null;
      }
    }
    if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) {
      try {
        return Private.readWkb(Private.hexBytes(text));
      } catch {
        return null;
      }
    }
    return null;
  }
  return asGeometry(value);
}

function asGeometry(value: unknown): Geometry | null {
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string'
  ) {
    const geometry = value as { type: string; coordinates?: unknown };
    if (
      geometry.type === 'GeometryCollection' ||
      geometry.coordinates !== undefined
    ) {
      return value as Geometry;
    }
  }
  return null;
}

namespace Private {
  const TYPES = [
    '',
    'Point',
    'LineString',
    'Polygon',
    'MultiPoint',
    'MultiLineString',
    'MultiPolygon',
    'GeometryCollection'
  ];

  export function hexBytes(hex: string): DataView {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    }
    return new DataView(bytes.buffer);
  }

  /** OGC WKB, ISO (Z/M as +1000s) and PostGIS EWKB (flag bits, optional SRID). */
  export function readWkb(view: DataView): Geometry {
    const reader = { view, offset: 0 };
    const geometry = readGeometry(reader, 0);
    if (reader.offset !== view.byteLength) {
      throw new Error('trailing bytes');
    }
    return geometry;
  }

  interface IReader {
    view: DataView;
    offset: number;
  }

  function readGeometry(r: IReader, depth: number): Geometry {
    if (depth > 8) {
      throw new Error('too deep');
    }
    const little = r.view.getUint8(r.offset) === 1;
    r.offset += 1;
    const raw = r.view.getUint32(r.offset, little);
    r.offset += 4;
    let dims = 2;
    if (raw & 0x80000000) {
      dims++;
    }
    if (raw & 0x40000000) {
      dims++;
    }
    if (raw & 0x20000000) {
      r.offset += 4; // SRID: CARTO's geographies are WGS 84
    }
    let code = raw & 0x0fffffff;
    const iso = Math.floor(code / 1000);
    code %= 1000;
    dims += iso === 1 || iso === 2 ? 1 : iso === 3 ? 2 : 0;
    const type = TYPES[code];
    if (!type) {
      throw new Error('unknown geometry type');
    }
    const point = (): number[] => {
      const xy = [
        r.view.getFloat64(r.offset, little),
        r.view.getFloat64(r.offset + 8, little)
      ];
      r.offset += 8 * dims;
      return xy;
    };
    const count = (): number => {
      const n = r.view.getUint32(r.offset, little);
      r.offset += 4;
      if (n > r.view.byteLength) {
        throw new Error('bad count');
      }
      return n;
    };
    const points = (): number[][] =>
      Array.from({ length: count() }, () => point());
    const rings = (): number[][][] =>
      Array.from({ length: count() }, () => points());
    const parts = (): Geometry[] =>
      Array.from({ length: count() }, () => readGeometry(r, depth + 1));
    switch (type) {
      case 'Point': {
        const xy = point();
        return Number.isNaN(xy[0])
          ? { type, coordinates: [] }
          : { type, coordinates: xy };
      }
      case 'LineString':
        return { type, coordinates: points() };
      case 'Polygon':
        return { type, coordinates: rings() };
      case 'GeometryCollection':
        return { type, geometries: parts() } as unknown as Geometry;
      default:
        return {
          type,
          coordinates: parts().map(
            part => (part as { coordinates?: unknown }).coordinates
          )
        };
    }
  }
}
