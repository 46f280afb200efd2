"""The fixed demo users and their tables.

Everything here is deterministic so that tests, the demo and the map benchmark see the same data
on every run and every machine.
"""

import uuid

PUBLIC_KEY = "default_public"

# Test hooks: these users exist, but every request for them misbehaves on purpose
# (see README.md). They have keys so that the cloud-style root paths reach them too.
SLOW_USER = "slowpoke"
HTML_USER = "teapot"
BROKEN_USER = "broken"
HOOK_USERS = (SLOW_USER, HTML_USER, BROKEN_USER)


def _user_id(username):
    # A stable UUID per username, like CARTO's user ids.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "carto-api-demo:" + username))


def _points(rows):
    """Rows given as (name, lon, lat, extra-dict) become table rows with cartodb_id."""
    out = []
    for i, (name, lon, lat, extra) in enumerate(rows, start=1):
        row = {"cartodb_id": i, "name": name, "lon": lon, "lat": lat}
        row.update(extra)
        out.append(row)
    return out


def _grid(n_side=100):
    # 10,000 points on a regular grid over Madrid: enough for the map render benchmark,
    # computed in a few milliseconds and identical on every run.
    rows = []
    west, south, step = -3.80, 40.35, 0.002
    for i in range(n_side):
        for j in range(n_side):
            cid = i * n_side + j + 1
            rows.append(
                {
                    "cartodb_id": cid,
                    "name": "cell-%d-%d" % (i, j),
                    "lon": round(west + j * step, 6),
                    "lat": round(south + i * step, 6),
                    "value": (i * 37 + j * 11) % 100,
                }
            )
    return rows


class Table:
    def __init__(self, name, public, columns, rows_factory):
        self.name = name
        self.public = public
        # Column name -> (json type, postgres type), in SELECT * order, the_geom excluded.
        self.columns = columns
        self._rows_factory = rows_factory
        self._rows = None

    @property
    def rows(self):
        if self._rows is None:
            self._rows = self._rows_factory()
        return self._rows


_POINT_COLUMNS = {
    "cartodb_id": ("number", "int4"),
    "name": ("string", "text"),
}


def _cols(**extra):
    cols = dict(_POINT_COLUMNS)
    cols.update(extra)
    return cols


def _build_users():
    users = {}

    def add(username, api_key, email, tables, do_enabled=False):
        users[username] = {
            "username": username,
            "api_key": api_key,
            "id": _user_id(username),
            "email": email,
            "do_enabled": do_enabled,
            "tables": {t.name: t for t in tables},
        }

    add(
        "alice",
        "alice-demo-key-0001",
        "alice@example.com",
        [
            Table(
                "alice_stores",
                True,
                _cols(revenue=("number", "int4")),
                lambda: _points(
                    [
                        ("Sol", -3.7038, 40.4168, {"revenue": 1200}),
                        ("Gran Via", -3.7058, 40.4203, {"revenue": 950}),
                        ("Retiro", -3.6823, 40.4153, {"revenue": 1430}),
                        ("Chamberi", -3.7032, 40.4342, {"revenue": 780}),
                        ("Lavapies", -3.7009, 40.4087, {"revenue": 640}),
                    ]
                ),
            ),
            Table(
                "alice_customers",
                False,
                _cols(tier=("string", "text")),
                lambda: _points(
                    [
                        ("Customer A", -3.7100, 40.4200, {"tier": "gold"}),
                        ("Customer B", -3.6900, 40.4300, {"tier": "silver"}),
                        ("Customer C", -3.7000, 40.4000, {"tier": "bronze"}),
                    ]
                ),
            ),
            Table("alice_grid_10k", False, _cols(value=("number", "int4")), _grid),
        ],
        do_enabled=True,
    )
    add(
        "bob",
        "bob-demo-key-0002",
        "bob@example.com",
        [
            Table(
                "bob_parks",
                True,
                _cols(area_ha=("number", "float8")),
                lambda: _points(
                    [
                        ("Central Park", -73.9654, 40.7829, {"area_ha": 341.0}),
                        ("Prospect Park", -73.9690, 40.6602, {"area_ha": 213.0}),
                        ("Flushing Meadows", -73.8448, 40.7400, {"area_ha": 364.0}),
                    ]
                ),
            ),
            Table(
                "bob_private_notes",
                False,
                _cols(note=("string", "text")),
                lambda: _points([("Note", -73.99, 40.73, {"note": "for bob only"})]),
            ),
        ],
    )
    for hook in HOOK_USERS:
        add(hook, "%s-demo-key" % hook, "%s@example.com" % hook, [])
    return users


USERS = _build_users()
USERS_BY_KEY = {u["api_key"]: u for u in USERS.values()}
