"""The tables each user sees: the fixed demo tables of ``data.py`` plus what clients create.

One ``Catalog`` per server, so that what a test uploads (``to_carto``) never outlives its server
and never changes ``data.py``: the demo tables are copied into the catalog the first time they are
read, and writes (``TRUNCATE``, ``ALTER TABLE``, ``COPY … FROM``) change that copy only.
"""

import re
import threading

from . import data
from .geom import Geometry

# PostgreSQL type names (as written in CREATE TABLE / ALTER TABLE) -> the name the SQL API's
# ``fields[*].pgtype`` shows.
_TYPE_ALIASES = {
    "smallint": "int2",
    "int2": "int2",
    "integer": "int4",
    "int": "int4",
    "int4": "int4",
    "serial": "int4",
    "bigint": "int8",
    "int8": "int8",
    "bigserial": "int8",
    "real": "float4",
    "float4": "float4",
    "double precision": "float8",
    "float8": "float8",
    "float": "float8",
    "numeric": "numeric",
    "decimal": "numeric",
    "text": "text",
    "varchar": "text",
    "character varying": "text",
    "char": "text",
    "character": "text",
    "name": "name",
    "boolean": "bool",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp without time zone": "timestamp",
    "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz",
    "geometry": "geometry",
}
_JSON_TYPES = {
    "int2": "number",
    "int4": "number",
    "int8": "number",
    "float4": "number",
    "float8": "number",
    "numeric": "number",
    "text": "string",
    "name": "string",
    "bool": "boolean",
    "date": "date",
    "timestamp": "date",
    "timestamptz": "date",
}
INT_TYPES = ("int2", "int4", "int8")
FLOAT_TYPES = ("float4", "float8", "numeric")


def canonical_type(text):
    """``'double precision'`` -> ``'float8'``, ``'geometry(Geometry, 4326)'`` -> ``'geometry'``.

    None for a type this API does not model.
    """
    base = re.sub(r"\(.*\)", "", text).strip().lower()
    base = re.sub(r"\s+", " ", base)
    return _TYPE_ALIASES.get(base)


def field_for(pgtype, wkbtype="Unknown", srid=4326):
    """The SQL API's ``fields`` entry for a column of this type."""
    if pgtype == "geometry":
        return {"type": "geometry", "wkbtype": wkbtype, "dims": 2, "srid": srid}
    return {"type": _JSON_TYPES.get(pgtype, "string"), "pgtype": pgtype}


class Table:
    """A user table: ordered ``columns`` ``[(name, pgtype)]`` and ``rows`` (dicts by name)."""

    def __init__(self, name, columns, rows=None, public=False, wkbtype="Unknown"):
        self.name = name
        self.columns = list(columns)
        self.rows = rows if rows is not None else []
        self.public = public
        self.wkbtype = wkbtype  # shown in the_geom's field, like PostGIS' typmod
        # A column filled from a sequence when a row arrives without it (cartodb_id once the
        # table is cartodbfied), as its DEFAULT nextval(…) does in CARTO.
        self.serial = None

    def fill_serial(self, rows):
        if self.serial is None:
            return
        used = [r.get(self.serial) for r in self.rows if isinstance(r.get(self.serial), int)]
        next_id = max(used, default=0) + 1
        for row in rows:
            if row.get(self.serial) is None:
                row[self.serial] = next_id
                next_id += 1

    def column_names(self):
        return [c for c, _ in self.columns]

    def pgtype(self, column):
        return dict(self.columns).get(column)

    def field(self, column):
        return field_for(self.pgtype(column), self.wkbtype)


def _from_demo(table):
    """A catalog copy of a ``data.Table`` (rows with lon/lat become rows with the_geom)."""
    others = [c for c in table.columns if c != "cartodb_id"]
    columns = [("cartodb_id", table.columns["cartodb_id"][1]), ("the_geom", "geometry")]
    columns += [(c, table.columns[c][1]) for c in others]
    rows = []
    for row in table.rows:
        out = {"cartodb_id": row["cartodb_id"], "the_geom": Geometry.point(row["lon"], row["lat"])}
        for c in others:
            out[c] = row[c]
        rows.append(out)
    out = Table(table.name, columns, rows, public=table.public, wkbtype="Point")
    out.serial = "cartodb_id"
    return out


class Catalog:
    def __init__(self):
        # Statements run one at a time, as if each request held the whole database.
        self.lock = threading.RLock()
        self._tables = {}  # username -> {name: Table | data.Table (not copied yet)}

    def _of(self, user):
        tables = self._tables.get(user["username"])
        if tables is None:
            tables = dict(user["tables"])
            self._tables[user["username"]] = tables
        return tables

    def get(self, user, name):
        tables = self._of(user)
        table = tables.get(name)
        if isinstance(table, data.Table):
            table = tables[name] = _from_demo(table)
        return table

    def add(self, user, table):
        self._of(user)[table.name] = table

    def rename(self, user, old, new):
        tables = self._of(user)
        table = self.get(user, old)
        del tables[old]
        table.name = new
        tables[new] = table

    def names(self, user):
        return sorted(self._of(user))
