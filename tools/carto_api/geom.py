"""Geometries of the local CARTO API: (E)WKB in and out, GeoJSON, bounding boxes.

Standard library only. A geometry is what PostGIS would hold in ``the_geom``: a type, GeoJSON-like
coordinates and an SRID. ``Geometry.from_wkb`` reads what cartoframes uploads (shapely's hex EWKB,
little or big endian, 2D or 3D, SRID flag or not); ``ewkb_hex`` writes what PostGIS prints (little
endian, SRID flag), which is what CARTO's SQL API and ``COPY … TO`` return.
"""

import struct

# WKB type codes and their names, as ST_GeometryType prints them after "ST_".
_TYPES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_CODES = {name: code for code, name in _TYPES.items()}
_Z_FLAG, _M_FLAG, _SRID_FLAG = 0x80000000, 0x40000000, 0x20000000


class GeometryError(ValueError):
    """Bytes that are not (E)WKB; PostGIS answers ``parse error - invalid geometry``."""


class Geometry:
    __slots__ = ("type", "coords", "srid", "dims")

    def __init__(self, gtype, coords, srid=4326, dims=2):
        self.type = gtype  # "Point", …, "GeometryCollection"
        # GeoJSON-like nesting; a GeometryCollection holds a list of Geometry.
        self.coords = coords
        self.srid = srid
        self.dims = dims

    @classmethod
    def point(cls, lon, lat, srid=4326):
        return cls("Point", (lon, lat), srid)

    def __eq__(self, other):
        return isinstance(other, Geometry) and (self.type, self.coords, self.srid) == (
            other.type,
            other.coords,
            other.srid,
        )

    def __hash__(self):
        return hash((self.type, repr(self.coords), self.srid))

    def __repr__(self):
        return "Geometry(%s, srid=%s)" % (self.type, self.srid)

    # --- reading ------------------------------------------------------------------------

    @classmethod
    def from_wkb(cls, data):
        """A geometry from (E)WKB bytes or their hex text."""
        if isinstance(data, str):
            try:
                data = bytes.fromhex(data.strip())
            except ValueError:
                raise GeometryError("parse error - invalid geometry") from None
        try:
            geom, end = _read(memoryview(data), 0, None)
        except (struct.error, KeyError, IndexError):
            raise GeometryError("parse error - invalid geometry") from None
        if end != len(data):
            raise GeometryError("parse error - invalid geometry")
        return geom

    # --- writing ------------------------------------------------------------------------

    def ewkb(self):
        out = bytearray()
        _write(self, out, with_srid=True)
        return bytes(out)

    def ewkb_hex(self):
        return self.ewkb().hex().upper()

    def geojson(self):
        if self.type == "Point":
            return {"type": "Point", "coordinates": list(self.coords)}
        if self.type == "GeometryCollection":
            return {"type": self.type, "geometries": [g.geojson() for g in self.coords]}
        return {"type": self.type, "coordinates": _as_lists(self.coords)}

    def bbox(self):
        """``(xmin, ymin, xmax, ymax)``, or None for an empty geometry."""
        xs, ys = [], []
        for x, y in _positions(self):
            xs.append(x)
            ys.append(y)
        if not xs:
            return None
        return (min(xs), min(ys), max(xs), max(ys))


def _read(buf, pos, srid):
    little = buf[pos] == 1
    end = "<" if little else ">"
    (code,) = struct.unpack_from(end + "I", buf, pos + 1)
    pos += 5
    if code & _SRID_FLAG:
        (srid,) = struct.unpack_from(end + "I", buf, pos)
        pos += 4
    dims = 2 + bool(code & _Z_FLAG) + bool(code & _M_FLAG)
    base = code & 0x0FFFFFFF
    if base > 1000:  # ISO WKB: 1001 = Point Z, 2001 = Point M, 3001 = Point ZM
        dims = 2 + {1: 1, 2: 1, 3: 2}[base // 1000]
        base %= 1000
    gtype = _TYPES[base]
    point = struct.Struct(end + "d" * dims)

    def read_points(pos):
        (n,) = struct.unpack_from(end + "I", buf, pos)
        pos += 4
        pts = []
        for _ in range(n):
            pts.append(point.unpack_from(buf, pos))
            pos += point.size
        return pts, pos

    if gtype == "Point":
        coords = point.unpack_from(buf, pos)
        pos += point.size
    elif gtype == "LineString":
        coords, pos = read_points(pos)
    elif gtype == "Polygon":
        (n,) = struct.unpack_from(end + "I", buf, pos)
        pos += 4
        coords = []
        for _ in range(n):
            ring, pos = read_points(pos)
            coords.append(ring)
    else:
        (n,) = struct.unpack_from(end + "I", buf, pos)
        pos += 4
        parts = []
        for _ in range(n):
            part, pos = _read(buf, pos, srid)
            parts.append(part)
        coords = parts if gtype == "GeometryCollection" else [p.coords for p in parts]
    return Geometry(gtype, coords, srid if srid is not None else 0, dims), pos


def _write(geom, out, with_srid):
    code = _CODES[geom.type]
    if geom.dims >= 3:
        code |= _Z_FLAG
    if with_srid and geom.srid:
        code |= _SRID_FLAG
    out += struct.pack("<BI", 1, code)
    if code & _SRID_FLAG:
        out += struct.pack("<I", geom.srid)
    fmt = "<" + "d" * min(geom.dims, 3)

    def points(pts):
        out.extend(struct.pack("<I", len(pts)))
        for p in pts:
            out.extend(struct.pack(fmt, *p[: min(geom.dims, 3)]))

    if geom.type == "Point":
        out += struct.pack(fmt, *geom.coords[: min(geom.dims, 3)])
    elif geom.type == "LineString":
        points(geom.coords)
    elif geom.type == "Polygon":
        out += struct.pack("<I", len(geom.coords))
        for ring in geom.coords:
            points(ring)
    elif geom.type == "GeometryCollection":
        out += struct.pack("<I", len(geom.coords))
        for part in geom.coords:
            _write(part, out, with_srid=False)
    else:
        part_type = geom.type[len("Multi") :]
        out += struct.pack("<I", len(geom.coords))
        for coords in geom.coords:
            _write(Geometry(part_type, coords, geom.srid, geom.dims), out, with_srid=False)


def _as_lists(coords):
    if coords and isinstance(coords[0], (int, float)):
        return list(coords)
    return [_as_lists(c) for c in coords]


def _positions(geom):
    if geom.type == "GeometryCollection":
        for part in geom.coords:
            yield from _positions(part)
        return

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            yield c[0], c[1]
        else:
            for sub in c:
                yield from walk(sub)

    yield from walk(geom.coords)
