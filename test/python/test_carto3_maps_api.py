"""CARTO 3's Maps API on the local API (tools/carto_api/maps.py), as @deck.gl/carto 9.0 calls it
for pydeck-carto's ``vector_query_source`` / ``vector_table_source``: map instantiation → TileJSON
→ CARTO binary tiles, Bearer auth, CARTO's error shapes, CORS. The browser side (deck.gl really
decoding and drawing these tiles) is test/e2e/pydeck-carto.test.mjs."""

import math
import struct
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from _carto_helpers import FakeClock

from tools.carto_api import carto3, data, maps, start_server
from tools.carto_api.geom import Geometry

ALICE_M2M = (carto3.ALICE_M2M_CLIENT_ID, carto3.M2M_CLIENTS[carto3.ALICE_M2M_CLIENT_ID]["secret"])
STORES = data.USERS["alice"]["tables"]["alice_stores"].rows
# What @deck.gl/carto 9.0.41 sends for vectorQuerySource (base-source.ts, request-with-parameters.ts).
CLIENT_PARAMS = {
    "v": "3.4",
    "deckglVersion": "9.3.6",
    "client": "pydeck-carto",
    "spatialDataColumn": "the_geom",
    "spatialDataType": "geo",
    "tileResolution": "0.5",
}


@pytest.fixture(scope="module")
def api():
    server, base = start_server()
    server.carto3.clock = FakeClock()
    try:
        yield server, base.rstrip("/")
    finally:
        server.stop()


def token_of(base, client=ALICE_M2M):
    resp = requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "audience": carto3.AUDIENCE,
            "client_id": client[0],
            "client_secret": client[1],
        },
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def bearer(token):
    return {"Authorization": "Bearer %s" % token}


def instantiate(base, token, kind="query", connection="carto_dw", **params):
    query = dict(CLIENT_PARAMS, **params)
    return requests.get(
        "%s/v3/maps/%s/%s" % (base, connection, kind),
        params={k: v for k, v in query.items() if v is not None},
        headers=bearer(token) if token else {},
        timeout=10,
    )


def tile_template(base, token, query):
    """The ``tiles`` template of the TileJSON a map of ``query`` is instantiated with."""
    tilejson_url = instantiate(base, token, q=query).json()["tilejson"]["url"][0]
    return requests.get(tilejson_url, headers=bearer(token), timeout=10).json()["tiles"][0]


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_url(template, z, x, y):
    return template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))


def assert_v3_error(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


# --- a reader of CARTO's binary tile (layers/schema/carto-tile.ts), independent of maps.py -------


def _fields(buf):
    """``{tag: [value, …]}`` of a protobuf message: varints as int, length-delimited as bytes."""
    out, pos = {}, 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        tag, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise AssertionError("unexpected wire type %d" % wire)
        out.setdefault(tag, []).append(value)
    return out


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _doubles(msg):
    f = _fields(msg)
    raw = f[1][0]
    return list(struct.unpack("<%dd" % (len(raw) // 8), raw)), f[2][0]


def _ints(msg):
    f = _fields(msg)
    raw, values, pos = f[1][0], [], 0
    while pos < len(raw):
        value, pos = _read_varint(raw, pos)
        values.append(value)
    return values


# Field numbers per geometry kind (PointsReader, LinesReader, PolygonsReader).
_LAYOUT = {
    "points": {"global": 2, "feature": 3, "props": 4, "numeric": 5},
    "lines": {"path": 2, "global": 3, "feature": 4, "props": 5, "numeric": 6},
    "polygons": {"polygon": 2, "global": 3, "feature": 4, "primitive": 5, "props": 7, "numeric": 8},
}


def decode_tile(payload):
    tile = _fields(payload)
    out = {}
    for tag, kind in enumerate(("points", "lines", "polygons"), start=1):
        msg = _fields(tile[tag][0])
        layout = _LAYOUT[kind]
        positions, size = _doubles(msg[1][0])
        decoded = {
            "positions": [tuple(positions[i : i + size]) for i in range(0, len(positions), size)],
            "global": _ints(msg[layout["global"]][0]),
            "feature": _ints(msg[layout["feature"]][0]),
            "properties": [],
            "numeric": {},
        }
        for name in ("path", "polygon", "primitive"):
            if name in layout:
                decoded[name] = _ints(msg[layout[name]][0])
        for props in msg.get(layout["props"], []):
            entries = {}
            for pair in _fields(props).get(1, []):
                kv = _fields(pair)
                entries[kv[1][0].decode()] = kv[2][0].decode()
            decoded["properties"].append(entries)
        for entry in msg.get(layout["numeric"], []):
            kv = _fields(entry)
            raw = _fields(kv[2][0])[1][0]
            decoded["numeric"][kv[1][0].decode()] = list(
                struct.unpack("<%dd" % (len(raw) // 8), raw)
            )
        out[kind] = decoded
    return out


# --- the flow deck.gl follows ---------------------------------------------------------------------


def test_query_source_instantiation_tilejson_and_a_tile_with_the_stores(api):
    _, base = api
    token = token_of(base)
    resp = instantiate(base, token, q="select * from alice_stores")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    body = resp.json()
    assert body["nrows"] == 5
    assert {"name": "the_geom", "type": "geography"} in body["schema"]
    tilejson_url = body["tilejson"]["url"][0]
    assert urlsplit(tilejson_url).path == "/v3/maps/carto_dw/query/tilejson"
    assert parse_qs(urlsplit(tilejson_url).query)["q"] == ["select * from alice_stores"]
    assert int(parse_qs(urlsplit(tilejson_url).query)["cache"][0]) >= 0  # the client parseInt()s it

    # deck.gl adds v and deckglVersion again and sends the same Bearer header.
    tilejson = requests.get(
        tilejson_url, params={"v": "3.4"}, headers=bearer(token), timeout=10
    ).json()
    assert tilejson["tilestats"]["layers"][0]["count"] == 5
    assert tilejson["vector_layers"][0]["fields"] == {
        "cartodb_id": "Number",
        "name": "String",
        "revenue": "Number",
    }
    west, south, east, north = tilejson["bounds"]
    assert west <= -3.7058 and east >= -3.6823 and south <= 40.4087 and north >= 40.4342
    [template] = tilejson["tiles"]
    assert "{z}/{x}/{y}" in template
    # VectorTileLayer reads formatTiles: anything but "mvt" is CARTO's binary format.
    assert parse_qs(urlsplit(template).query)["formatTiles"] == ["binary"]

    tile = requests.get(
        tile_url(template, *tile_of(-3.7038, 40.4168, 10)), headers=bearer(token), timeout=10
    )
    assert tile.status_code == 200
    assert tile.headers["Content-Type"] == maps.TILE_CONTENT_TYPE
    points = decode_tile(tile.content)["points"]
    assert sorted(points["positions"]) == sorted((r["lon"], r["lat"]) for r in STORES)
    assert points["global"] == points["feature"] == [0, 1, 2, 3, 4]
    by_name = {p["name"]: i for i, p in enumerate(points["properties"])}
    assert set(by_name) == {r["name"] for r in STORES}
    sol = by_name["Sol"]
    assert points["numeric"]["revenue"][sol] == 1200
    assert points["numeric"]["cartodb_id"][sol] == 1


def test_a_tile_away_from_the_data_is_empty_and_bad_coordinates_are_400(api):
    _, base = api
    token = token_of(base)
    template = tile_template(base, token, "select * from alice_stores")
    empty = requests.get(
        tile_url(template, *tile_of(139.7, 35.7, 10)), headers=bearer(token), timeout=10
    )
    assert empty.status_code == 200
    assert decode_tile(empty.content)["points"]["positions"] == []
    assert_v3_error(
        requests.get(tile_url(template, 2, 4, 0), headers=bearer(token), timeout=10), 400
    )


def test_each_point_is_in_exactly_one_tile(api):
    _, base = api
    token = token_of(base)
    template = tile_template(base, token, "select * from alice_grid_10k")
    z = 13
    tiles = {
        tile_of(r["lon"], r["lat"], z) for r in data.USERS["alice"]["tables"]["alice_grid_10k"].rows
    }
    total = 0
    for z, x, y in tiles:
        resp = requests.get(tile_url(template, z, x, y), headers=bearer(token), timeout=10)
        total += len(decode_tile(resp.content)["points"]["positions"])
    assert total == 10000


def test_table_source_and_columns(api):
    _, base = api
    token = token_of(base)
    resp = instantiate(base, token, kind="table", name="alice_stores", columns="name")
    assert resp.status_code == 200, resp.text
    tilejson = requests.get(
        resp.json()["tilejson"]["url"][0], headers=bearer(token), timeout=10
    ).json()
    assert urlsplit(tilejson["tiles"][0]).path.startswith("/v3/maps/carto_dw/table/")
    assert tilejson["vector_layers"][0]["fields"] == {"name": "String"}
    tile = requests.get(
        tile_url(tilejson["tiles"][0], *tile_of(-3.7038, 40.4168, 10)),
        headers=bearer(token),
        timeout=10,
    )
    points = decode_tile(tile.content)["points"]
    assert len(points["positions"]) == 5
    assert points["numeric"] == {}
    assert all(set(p) == {"name"} for p in points["properties"])


def test_long_queries_are_posted_as_json(api):
    """Above 7000 characters of URL, @deck.gl/carto POSTs the parameters as a JSON body."""
    _, base = api
    token = token_of(base)
    query = "select * from alice_stores where name <> '%s'" % ("x" * 8000)
    resp = requests.post(
        base + "/v3/maps/carto_dw/query",
        json=dict(CLIENT_PARAMS, q=query),
        headers=bearer(token),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["nrows"] == 5


def test_no_url_it_builds_holds_a_token_and_none_reaches_its_log(api, capfd):
    server, base = api
    token = token_of(base)
    server.quiet = False
    try:
        # Even a token sent in the query string (not how deck.gl sends it) is not carried on.
        resp = instantiate(base, token, q="select * from alice_stores", access_token=token)
        tilejson = requests.get(
            resp.json()["tilejson"]["url"][0], headers=bearer(token), timeout=10
        )
        tile = requests.get(
            tile_url(tilejson.json()["tiles"][0], *tile_of(-3.7038, 40.4168, 10)),
            headers=bearer(token),
            timeout=10,
        )
    finally:
        server.quiet = True
    assert tile.status_code == 200
    assert token not in resp.text + tilejson.text
    out, err = capfd.readouterr()
    assert "/v3/maps/carto_dw/query" in err
    assert token not in out + err


# --- auth and errors ------------------------------------------------------------------------------


def test_no_or_bad_token_is_a_carto_401_at_every_step(api):
    _, base = api
    token = token_of(base)
    template = tile_template(base, token, "select * from alice_stores")
    tilejson_url = template.split("/{z}")[0] + "/tilejson"
    assert "no access token" in assert_v3_error(
        instantiate(base, None, q="select * from alice_stores"), 401
    )
    assert "invalid" in assert_v3_error(
        instantiate(base, "not-a-token", q="select * from alice_stores"), 401
    )
    assert_v3_error(requests.get(tilejson_url, timeout=10), 401)
    assert_v3_error(requests.get(tile_url(template, 10, 0, 0), timeout=10), 401)


def test_expired_token_is_401_jwt_expired(api):
    server, base = api
    token = token_of(base)
    assert instantiate(base, token, q="select * from alice_stores").status_code == 200
    server.carto3.clock.now += carto3.DEFAULT_M2M_TOKEN_LIFETIME
    resp = instantiate(base, token, q="select * from alice_stores")
    assert resp.json() == {"error": "Unauthorized: jwt expired", "status": 401}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"q": "SELEC * FROM alice_stores"}, "syntax error"),
        ({"q": "select * from no_such_table"}, "no_such_table"),
        ({"q": None}, "Missing q"),
        ({"q": "select * from alice_stores", "spatialDataColumn": "geom"}, "geom"),
        ({"q": "select * from alice_stores", "spatialDataType": "h3"}, "h3"),
        ({"q": "select * from alice_stores", "columns": "nope"}, "nope"),
        (
            {"q": "select * from alice_stores", "filters": '{"name": {"in": {"values": ["Sol"]}}}'},
            "filters",
        ),
    ],
)
def test_bad_requests_are_carto_400s(api, params, expected):
    _, base = api
    token = token_of(base)
    assert expected in assert_v3_error(instantiate(base, token, **params), 400)


def test_a_table_source_takes_a_table_name_only(api):
    _, base = api
    token = token_of(base)
    for name in ("alice_stores; TRUNCATE alice_stores", "(select 1) q", ""):
        assert_v3_error(instantiate(base, token, kind="table", name=name), 400)
    assert instantiate(base, token, kind="table", name="alice_stores").json()["nrows"] == 5


def test_unknown_connection_is_404(api):
    _, base = api
    message = assert_v3_error(
        instantiate(base, token_of(base), connection="my_bigquery", q="select 1"), 404
    )
    assert "my_bigquery" in message


def test_queries_run_as_the_tokens_user(api):
    """As /v3/sql: each user sees their own tables (bob has no alice_stores)."""
    _, base = api
    bob = (carto3.BOB_M2M_CLIENT_ID, carto3.M2M_CLIENTS[carto3.BOB_M2M_CLIENT_ID]["secret"])
    token = token_of(base, bob)
    message = assert_v3_error(instantiate(base, token, q="select * from alice_stores"), 400)
    assert "alice_stores" in message
    assert instantiate(base, token, q="select * from bob_private_notes").json()["nrows"] == 1


def test_cors_preflight_for_a_page_on_another_loopback_origin(api):
    _, base = api
    resp = requests.options(
        base + "/v3/maps/carto_dw/query?q=select+1",
        headers={
            "Origin": "http://127.0.0.1:8888",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


# --- the tile encoder for lines and polygons (the demo tables hold points only) ------------------


def test_lines_and_polygons_are_encoded_with_their_indices():
    line = Geometry("LineString", [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)])
    square = Geometry(
        "MultiPolygon",
        [
            [
                [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)],
                [(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (1.0, 1.0)],
            ],
            [[(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 5.0)]],
        ],
    )
    point = Geometry.point(3.0, 3.0)
    tile = decode_tile(
        maps.encode_tile(
            [
                (line, {"kind": ("road", "string"), "n": (7, "number")}),
                (square, {"kind": ("park", "string"), "n": (None, "number")}),
                (point, {"kind": ("bench", "string"), "n": (2, "number")}),
            ]
        )
    )
    lines, polygons, points = tile["lines"], tile["polygons"], tile["points"]
    assert lines["positions"] == [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]
    assert lines["path"] == [0, 3]
    assert lines["global"] == [0, 0, 0] and lines["feature"] == [0, 0, 0]
    assert lines["properties"] == [{"kind": "road"}]
    assert lines["numeric"]["n"] == [7.0, 7.0, 7.0]
    assert len(polygons["positions"]) == 13
    assert polygons["polygon"] == [0, 9, 13]
    assert polygons["primitive"] == [0, 5, 9, 13]
    assert set(polygons["global"]) == {1} and set(polygons["feature"]) == {0}
    assert all(math.isnan(v) for v in polygons["numeric"]["n"])
    assert points["positions"] == [(3.0, 3.0)] and points["global"] == [2]
    assert points["numeric"]["n"] == [2.0]
