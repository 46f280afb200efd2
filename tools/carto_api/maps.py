"""CARTO 3's Maps API on the local API: what ``@deck.gl/carto`` 9.0 (loaded by pydeck-carto 0.2.1)
calls for ``vectorQuerySource`` and ``vectorTableSource``, so pydeck-carto maps draw offline.

The client (``@deck.gl/carto`` 9.0.41, ``src/sources/base-source.ts``, ``api/
request-with-parameters.ts``, ``layers/vector-tile-layer.ts``) does, with ``Authorization: Bearer
<token>`` on every request and never a token in a URL:

1. Map instantiation: ``GET {apiBaseUrl}/v3/maps/{connection}/query?client=…&q=…
   &spatialDataColumn=geom&spatialDataType=geo&tileResolution=0.5&v=3.4&deckglVersion=…`` (``/table``
   with ``name=`` instead of ``q=``; ``columns``, ``filters``, ``queryParameters`` optional; a ``POST``
   of the same parameters as JSON when the URL would exceed 7000 characters). It reads
   ``answer[format].url[0]`` (``format`` is ``tilejson``) and errors as ``{"error": message}``.
2. ``GET`` that URL (plus ``v`` and ``deckglVersion``): a TileJSON whose ``tiles`` template the
   ``VectorTileLayer`` fetches (``{z}/{x}/{y}``).
3. The tiles: ``formatTiles=mvt`` in the template means Mapbox vector tiles; anything else is CARTO's
   own binary format (``application/vnd.carto-vector-tile``, ``layers/schema/carto-tile.ts``), which
   its ``CartoVectorTileLoader`` decodes (in a worker loaded from unpkg.com) into loaders.gl's binary
   features with lon/lat positions. This server answers that format, CARTO's default (``tiles``
   carry ``formatTiles=binary``): GeoJSON tiles would draw, but the layer's picking treats tile data
   as binary, so hovering a feature would throw.

Subset (deviations from CARTO): ``spatialDataType=geo`` only (h3 and quadbin sources answer 400);
no ``filters`` nor ``queryParameters``; each tile runs the query again and keeps what falls in it
(points by position, lines and polygons whole when their bounding box meets the tile; the client
clips them); ``tileResolution`` is echoed, never used to quantise; the ``cache`` buster is a CRC of
the query's result. The query is the SQL engine's (``sql.py``) as ``/v3/sql`` runs it, as the
token's user. Bearer auth and the ``{"error", "status"}`` shape are carto3.py's; CORS headers and the
preflight are server.py's, like every route.
"""

import json
import math
import re
import struct
import zlib
from urllib.parse import urlencode

from . import carto3, sql

_ROUTE = re.compile(
    r"^/v3/maps/(?P<connection>[^/]+)/(?P<kind>query|table)"
    r"(?:/(?P<rest>tilejson|\d+/\d+/\d+))?$"
)
_TABLE_NAME = re.compile(r"[\w$`\"-]+(?:\.[\w$`\"-]+)*")
# The instantiation parameters carried into the TileJSON and tile URLs (never a token).
_CARRIED = (
    "client",
    "q",
    "name",
    "columns",
    "spatialDataColumn",
    "spatialDataType",
    "tileResolution",
    "v",
)
LAYER_ID = "default"
MAX_ZOOM = 20
TILE_CONTENT_TYPE = "application/vnd.carto-vector-tile"


def handles(route):
    return bool(_ROUTE.match(route))


def handle(handler, state, route, params):
    match = _ROUTE.match(route)
    user = carto3._v3_user(handler, state)
    connection, kind, rest = match.group("connection", "kind", "rest")
    if connection not in carto3.CONNECTIONS:
        raise carto3._v3_error(404, "Connection not found: %s" % connection)
    source = _Source(kind, params, getattr(handler, "json_body", None))
    result = source.run(user, handler.server.catalog)
    base = "%s/v3/maps/%s/%s" % (handler._origin(), connection, kind)
    if rest is None:
        handler._send(200, _instantiation(source, result, base))
    elif rest == "tilejson":
        handler._send(200, _tilejson(source, result, base))
    else:
        z, x, y = (int(n) for n in rest.split("/"))
        if not 0 <= z <= 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise carto3._v3_error(400, "Invalid tile coordinates: %s" % rest)
        handler._send(
            200,
            encode_tile(source.features(result, tile_bounds(z, x, y))),
            TILE_CONTENT_TYPE,
        )


class _Source:
    """The parameters of one map: its query, geometry column and columns."""

    def __init__(self, kind, params, json_body):
        self.params = params
        if kind == "query":
            query = params.get("q")
            if not isinstance(query, str) or not query.strip():
                raise carto3._v3_error(400, "Missing q parameter")
        else:
            name = params.get("name")
            if not isinstance(name, str) or not name.strip():
                raise carto3._v3_error(400, "Missing name parameter")
            if not _TABLE_NAME.fullmatch(name):
                # A table, not a query: nothing the SQL engine would read as more than a name.
                raise carto3._v3_error(400, "Invalid table name: %s" % name)
            query = "SELECT * FROM %s" % name
        self.query = query
        spatial_type = params.get("spatialDataType") or "geo"
        if spatial_type != "geo":
            raise carto3._v3_error(
                400,
                "spatialDataType '%s' is not supported by the local CARTO API (only 'geo')"
                % spatial_type,
            )
        for unsupported in ("filters", "queryParameters"):
            value = (json_body or {}).get(unsupported, params.get(unsupported))
            if value not in (None, "", "{}", "[]", {}, []):
                raise carto3._v3_error(
                    400, "%s are not supported by the local CARTO API" % unsupported
                )
        self.geo_column = params.get("spatialDataColumn") or "geom"
        columns = params.get("columns")
        self.columns = [c.strip() for c in columns.split(",") if c.strip()] if columns else None

    def run(self, user, catalog):
        try:
            result = sql.run(self.query, user, True, catalog)
        except sql.SqlError as err:
            raise carto3._v3_error(err.status, str(err)) from None
        field = result.fields.get(self.geo_column)
        if field is None or field.get("type") != "geometry":
            raise carto3._v3_error(
                400,
                "Column '%s' is not a geometry column of the query; name the query's geometry"
                " column with spatialDataColumn (spatial_data_column in pydeck-carto)"
                % self.geo_column,
            )
        for name in self.columns or ():
            if name not in result.fields:
                raise carto3._v3_error(400, 'column "%s" does not exist' % name)
        return result

    def carried(self, **extra):
        """The query string of the TileJSON and tile URLs: the map's parameters, no token."""
        query = {k: self.params[k] for k in _CARRIED if self.params.get(k)}
        query.update(extra)
        return urlencode(query)

    def property_fields(self, result):
        names = [
            n
            for n, f in result.fields.items()
            if f.get("type") != "geometry" and (self.columns is None or n in self.columns)
        ]
        return {n: result.fields[n].get("type", "string") for n in names}

    def features(self, result, bounds=None):
        """``(geometry, properties)`` of the rows, those in ``bounds`` when given."""
        props = self.property_fields(result)
        out = []
        for row in result.rows:
            geom = row.get(self.geo_column)
            if geom is None or (bounds is not None and not _in_tile(geom, bounds)):
                continue
            out.append((geom, {n: (row.get(n), kind) for n, kind in props.items()}))
        return out


def _cache_of(result, source):
    """A cache buster that changes with the query's data (CARTO's is an opaque integer too)."""
    payload = json.dumps(sql.as_geojson(result), sort_keys=True, default=str)
    return zlib.crc32((source.query + "\x00" + payload).encode("utf-8"))


def _extent(result, source):
    boxes = [g.bbox() for g, _ in source.features(result)]
    boxes = [b for b in boxes if b]
    if not boxes:
        return [-180.0, -85.0511, 180.0, 85.0511]
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def _instantiation(source, result, base):
    cache = _cache_of(result, source)
    return {
        "nrows": len(result.rows),
        "size": len(json.dumps(sql.as_geojson(result), default=str)),
        "schema": [
            {
                "name": name,
                "type": "geography"
                if f.get("type") == "geometry"
                else carto3._SCHEMA_TYPES.get(f.get("type"), "string"),
            }
            for name, f in result.fields.items()
        ],
        "tilejson": {"url": ["%s/tilejson?%s" % (base, source.carried(cache=cache))]},
    }


_STAT_TYPES = {"number": "Number", "boolean": "Boolean", "date": "Timestamp"}


def _tilejson(source, result, base):
    cache = _cache_of(result, source)
    west, south, east, north = _extent(result, source)
    fields = {n: _STAT_TYPES.get(t, "String") for n, t in source.property_fields(result).items()}
    geometry_types = sorted({g.type for g, _ in source.features(result)})
    tiles = "%s/{z}/{x}/{y}?%s" % (base, source.carried(formatTiles="binary", cache=cache))
    return {
        "tilejson": "2.2.0",
        "name": source.params.get("name") or "query",
        "description": "",
        "version": "1.0.0",
        "attribution": "local CARTO-compatible API",
        "scheme": "xyz",
        "tiles": [tiles],
        "minresolution": 0,
        "maxresolution": MAX_ZOOM,
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, 0],
        "tileResolution": float(source.params.get("tileResolution") or 0.5),
        "vector_layers": [{"id": LAYER_ID, "minzoom": 0, "maxzoom": MAX_ZOOM, "fields": fields}],
        "tilestats": {
            "layerCount": 1,
            "layers": [
                {
                    "layer": LAYER_ID,
                    "count": len(result.rows),
                    "geometry": geometry_types[0] if len(geometry_types) == 1 else "Geometry",
                    "attributeCount": len(fields),
                    "attributes": [{"attribute": n, "type": t} for n, t in fields.items()],
                }
            ],
        },
    }


# --- tiles ----------------------------------------------------------------------------------------


def tile_bounds(z, x, y):
    """``(west, south, east, north)`` in degrees of the Web Mercator tile ``z/x/y``."""
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


def _in_tile(geom, bounds):
    west, south, east, north = bounds
    if geom.type == "Point":
        lon, lat = geom.coords[0], geom.coords[1]
        # Half-open so that a point on a tile edge is in exactly one tile.
        return west <= lon < east and south < lat <= north
    box = geom.bbox()
    return bool(box) and box[0] <= east and box[2] >= west and box[1] <= north and box[3] >= south


def _parts(geom):
    """``(kind, parts)``: kind 'points' | 'lines' | 'polygons'; each part a list of coordinates
    (points), of paths (lines) or of rings (polygons)."""
    if geom.type == "Point":
        return [("points", [[geom.coords]])]
    if geom.type == "MultiPoint":
        return [("points", [list(geom.coords)])]
    if geom.type == "LineString":
        return [("lines", [[geom.coords]])]
    if geom.type == "MultiLineString":
        return [("lines", [list(geom.coords)])]
    if geom.type == "Polygon":
        return [("polygons", [list(geom.coords)])]
    if geom.type == "MultiPolygon":
        return [("polygons", [list(p) for p in geom.coords])]
    return [part for g in geom.coords for part in _parts(g)]  # GeometryCollection


class _Kind:
    """The binary arrays of one geometry kind of a tile (loaders.gl's binary feature layout)."""

    def __init__(self):
        self.positions = []
        self.global_ids = []
        self.feature_ids = []
        self.path_indices = [0]
        self.polygon_indices = [0]
        self.primitive_indices = [0]
        self.properties = []
        self.numeric = {}
        self.count = 0

    def add(self, kind, parts, global_id, props):
        feature_id = self.count
        self.count += 1
        start = len(self.positions)
        for part in parts:
            if kind == "points":
                for c in part:
                    self.positions.append((c[0], c[1]))
            elif kind == "lines":
                for path in part:
                    self.positions.extend((c[0], c[1]) for c in path)
                    self.path_indices.append(len(self.positions))
            else:
                for ring in part:
                    self.positions.extend((c[0], c[1]) for c in ring)
                    self.primitive_indices.append(len(self.positions))
                self.polygon_indices.append(len(self.positions))
        added = len(self.positions) - start
        self.global_ids.extend([global_id] * added)
        self.feature_ids.extend([feature_id] * added)
        strings = {}
        for name, (value, vtype) in props.items():
            if vtype == "number":
                number = float("nan") if value is None else float(value)
                self.numeric.setdefault(name, [])
                self.numeric[name].extend([number] * added)
            elif value is not None:
                strings[name] = _text(value)
        self.properties.append(strings)

    def fill_numeric(self, names):
        # Every kind carries every numeric column, one value per position.
        for name in names:
            self.numeric.setdefault(name, [])

    def encode(self, kind):
        """The Points / Lines / Polygons message (field numbers of carto-tile.ts)."""
        out = bytearray()
        _message(out, 1, _doubles(self.positions, 2))
        if kind == "points":
            tags = {"global": 2, "feature": 3, "props": 4, "numeric": 5}
        elif kind == "lines":
            _message(out, 2, _ints(self.path_indices))
            tags = {"global": 3, "feature": 4, "props": 5, "numeric": 6}
        else:
            _message(out, 2, _ints(self.polygon_indices))
            _message(out, 5, _ints(self.primitive_indices))
            # Triangles left out: the loader triangulates polygons without them.
            tags = {"global": 3, "feature": 4, "props": 7, "numeric": 8}
        _message(out, tags["global"], _ints(self.global_ids))
        _message(out, tags["feature"], _ints(self.feature_ids))
        for props in self.properties:
            entries = bytearray()
            for key, value in props.items():
                pair = bytearray()
                _string(pair, 1, key)
                _string(pair, 2, value)
                _message(entries, 1, pair)
            _message(out, tags["props"], entries)
        for key, values in self.numeric.items():
            entry = bytearray()
            _string(entry, 1, key)
            prop = bytearray()
            _packed(prop, 1, struct.pack("<%dd" % len(values), *values))
            _message(entry, 2, prop)
            _message(out, tags["numeric"], entry)
        return out


def encode_tile(features):
    """CARTO's binary vector tile (``Tile`` of ``@deck.gl/carto``'s carto-tile.ts) of
    ``features``, a list of ``(geometry, {name: (value, type)})``; positions are lon/lat."""
    kinds = {"points": _Kind(), "lines": _Kind(), "polygons": _Kind()}
    numeric_names = []
    for global_id, (geom, props) in enumerate(features):
        for name, (_, vtype) in props.items():
            if vtype == "number" and name not in numeric_names:
                numeric_names.append(name)
        for kind, parts in _parts(geom):
            kinds[kind].add(kind, parts, global_id, props)
    out = bytearray()
    for tag, kind in enumerate(("points", "lines", "polygons"), start=1):
        kinds[kind].fill_numeric(numeric_names)
        _message(out, tag, kinds[kind].encode(kind))
    return bytes(out)


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- protobuf wire format (the few pieces the tile needs) ----------------------------------------


def _varint(out, value):
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _key(out, tag, wire_type):
    _varint(out, (tag << 3) | wire_type)


def _message(out, tag, payload):
    _key(out, tag, 2)
    _varint(out, len(payload))
    out.extend(payload)


_packed = _message  # a packed repeated field is length-delimited too


def _string(out, tag, text):
    _message(out, tag, text.encode("utf-8"))


def _doubles(positions, size):
    """Doubles {packed double value = 1; uint32 size = 2}."""
    out = bytearray()
    flat = [v for p in positions for v in p]
    _packed(out, 1, struct.pack("<%dd" % len(flat), *flat))
    _key(out, 2, 0)
    _varint(out, size)
    return out


def _ints(values):
    """Ints {packed uint32 value = 1; uint32 size = 2}."""
    out = bytearray()
    packed = bytearray()
    for v in values:
        _varint(packed, v)
    _packed(out, 1, packed)
    _key(out, 2, 0)
    _varint(out, 1)
    return out
