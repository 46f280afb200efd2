"""A deliberately tiny SQL engine over the demo tables, answering like CARTO's SQL API.

Understood (case-insensitive, optional trailing ``;``):
``SELECT 1``, ``SELECT count(*) FROM t``, ``SELECT * FROM t [LIMIT n]`` and
``SELECT col, col2 FROM t [LIMIT n]``; ``t`` may be ``schema.t`` or double-quoted.
Anything else is answered with a CARTO-style syntax error so a test sees a real failure.
"""

import re
import struct
import time

_IDENT = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)'
_TABLE = r"(?P<table>(?:%s\.)?%s)" % (_IDENT, _IDENT)
_LIMIT = r"(?:\s+LIMIT\s+(?P<limit>\d+))?"
_END = r"\s*;?\s*$"
_SELECT_ONE = re.compile(r"^\s*SELECT\s+1" + _END, re.I)
_COUNT = re.compile(r"^\s*SELECT\s+count\(\s*\*\s*\)\s+FROM\s+" + _TABLE + _END, re.I)
_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<cols>\*|%s(?:\s*,\s*%s)*)\s+FROM\s+%s%s%s"
    % (_IDENT, _IDENT, _TABLE, _LIMIT, _END),
    re.I,
)

GEOM_FIELD = {"type": "geometry", "wkbtype": "Point", "dims": 2, "srid": 4326}


class SqlError(Exception):
    """A query CARTO would reject; ``status`` is the HTTP status CARTO answers with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Result:
    def __init__(self, rows, fields, geometry):
        self.rows = rows  # list of dicts; geometry rows keep "lon"/"lat" for the formatters
        self.fields = fields
        self.geometry = geometry


def _unquote(ident):
    return ident[1:-1] if ident.startswith('"') else ident.lower()


def run(query, user, authorized):
    """Run ``query`` against ``user``'s tables. ``authorized``: the caller holds the owner's key."""
    if not isinstance(query, str) or not query.strip():
        raise SqlError("You must indicate a sql query")
    if _SELECT_ONE.match(query):
        return Result([{"?column?": 1}], {"?column?": {"type": "number", "pgtype": "int4"}}, False)
    m = _COUNT.match(query)
    if m:
        table = _lookup(m.group("table"), user, authorized)
        return Result(
            [{"count": len(table.rows)}], {"count": {"type": "number", "pgtype": "int8"}}, False
        )
    m = _SELECT.match(query)
    if not m:
        raise SqlError(
            "syntax error: this local CARTO API only understands SELECT 1, SELECT count(*) FROM t, "
            "SELECT * FROM t [LIMIT n] and SELECT a, b FROM t [LIMIT n]"
        )
    table = _lookup(m.group("table"), user, authorized)
    rows = table.rows
    if m.group("limit") is not None:
        rows = rows[: int(m.group("limit"))]
    if m.group("cols") == "*":
        names = ["cartodb_id", "the_geom"] + [c for c in table.columns if c != "cartodb_id"]
    else:
        names = [_unquote(c.strip()) for c in m.group("cols").split(",")]
        for name in names:
            if name != "the_geom" and name not in table.columns:
                raise SqlError('column "%s" does not exist' % name)
    fields = {}
    for name in names:
        if name == "the_geom":
            fields[name] = dict(GEOM_FIELD)
        else:
            jtype, pgtype = table.columns[name]
            fields[name] = {"type": jtype, "pgtype": pgtype}
    geometry = "the_geom" in names
    out = []
    for row in rows:
        # Keys in column order, as CARTO returns them.
        out.append({n: (row["lon"], row["lat"]) if n == "the_geom" else row[n] for n in names})
    return Result(out, fields, geometry)


def _lookup(raw, user, authorized):
    # Schema prefixes (``alice.alice_stores``, ``public.t``) are accepted and ignored.
    name = _unquote(re.findall(_IDENT, raw)[-1])
    table = user["tables"].get(name) if user else None
    if table is None:
        raise SqlError('relation "%s" does not exist' % name)
    if not table.public and not authorized:
        # CARTO's SQL API maps every "permission denied" to 403.
        raise SqlError("permission denied for relation %s" % name, status=403)
    return table


def ewkb_point_hex(lon, lat):
    """The_geom as CARTO's JSON format returns it: hex EWKB, little endian, SRID 4326."""
    return struct.pack("<BIIdd", 1, 0x20000001, 4326, lon, lat).hex().upper()


def as_json(result, started):
    rows = []
    for row in result.rows:
        if result.geometry:
            row = dict(row, the_geom=ewkb_point_hex(*row["the_geom"]))
        rows.append(row)
    return {
        "rows": rows,
        "time": round(time.monotonic() - started, 6),
        "fields": result.fields,
        "total_rows": len(rows),
    }


def as_geojson(result):
    features = []
    for row in result.rows:
        props = {k: v for k, v in row.items() if k != "the_geom"}
        geom = None
        if result.geometry:
            lon, lat = row["the_geom"]
            geom = {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}
