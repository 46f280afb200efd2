"""The local CARTO-compatible API (tools/carto_api) answers like CARTO does."""

import json
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import REPO_ROOT

ALICE_KEY = "alice-demo-key-0001"
BOB_KEY = "bob-demo-key-0002"


def call(base_url, path, method="GET", params=None, data=None, headers=None):
    """(status, headers, body-as-JSON-or-text) without raising on 4xx/5xx."""
    url = base_url.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, err.headers, err.read()
    text = raw.decode("utf-8")
    try:
        return status, hdrs, json.loads(text)
    except ValueError:
        return status, hdrs, text


def sql(base_url, q, prefix="", **params):
    return call(base_url, prefix + "/api/v2/sql", params=dict(q=q, **params))


# --- /api/v3/me --------------------------------------------------------------------------


def test_me_at_root_resolves_the_user_from_the_key(carto_api):
    _, base = carto_api
    status, _, body = call(base, "/api/v3/me", params={"api_key": ALICE_KEY})
    assert status == 200
    user = body["user_data"]
    assert user["username"] == "alice"
    assert user["id"] and user["email"] == "alice@example.com"
    # cartoframes reads these two fields.
    assert isinstance(user["remaining_byte_quota"], int)
    assert user["base_url"] == base + "user/alice"
    assert "config" in body


def test_me_on_prem_with_public_key_shows_public_fields_only(carto_api):
    _, base = carto_api
    status, _, body = call(base, "/user/bob/api/v3/me", params={"api_key": "default_public"})
    assert status == 200
    assert body["user_data"]["username"] == "bob"
    assert "email" not in body["user_data"]
    assert "remaining_byte_quota" not in body["user_data"]


@pytest.mark.parametrize(
    "path, key, status, message",
    [
        ("/user/nobody/api/v3/me", ALICE_KEY, 404, "Sorry, we can't find CARTO user 'nobody'"),
        ("/user/alice/api/v3/me", "wrong-key", 401, "Unauthorized"),
        ("/user/alice/api/v3/me", BOB_KEY, 403, "permission denied"),
        ("/api/v3/me", "wrong-key", 401, "Unauthorized"),
        ("/api/v3/me", "default_public", 401, "Unauthorized"),
    ],
)
def test_me_errors_have_carto_shapes(carto_api, path, key, status, message):
    _, base = carto_api
    got, headers, body = call(base, path, params={"api_key": key})
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    assert body["errors"][0].startswith(message)


# --- /api/v2/sql -------------------------------------------------------------------------


def test_sql_select_star_limit_json(carto_api):
    _, base = carto_api
    status, _, body = sql(base, "SELECT * FROM alice_stores LIMIT 2", prefix="/user/alice")
    assert status == 200
    assert body["total_rows"] == 2 and len(body["rows"]) == 2
    assert list(body["rows"][0]) == ["cartodb_id", "the_geom", "name", "revenue"]
    assert body["fields"]["the_geom"]["type"] == "geometry"
    assert body["fields"]["name"] == {"type": "string", "pgtype": "text"}
    assert isinstance(body["time"], float)
    # the_geom is hex EWKB (little endian, point, SRID 4326) as CARTO returns it.
    order, gtype, srid, lon, lat = struct.unpack(
        "<BIIdd", bytes.fromhex(body["rows"][0]["the_geom"])
    )
    assert (order, gtype, srid) == (1, 0x20000001, 4326)
    assert (lon, lat) == (-3.7038, 40.4168)


def test_sql_count_select_one_and_column_list(carto_api):
    _, base = carto_api
    assert sql(base, "select count(*) from bob_parks;", prefix="/user/bob")[2]["rows"] == [
        {"count": 3}
    ]
    assert sql(base, "SELECT 1", prefix="/user/bob")[2]["rows"] == [{"?column?": 1}]
    rows = sql(base, 'SELECT name, area_ha FROM public."bob_parks" LIMIT 1', prefix="/user/bob")[2][
        "rows"
    ]
    assert rows == [{"name": "Central Park", "area_ha": 341.0}]


def test_sql_geojson_grid_is_10k_deterministic_points(carto_api):
    _, base = carto_api
    status, _, body = sql(base, "SELECT * FROM alice_grid_10k", format="GeoJSON", api_key=ALICE_KEY)
    assert status == 200
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 10000
    first, last = body["features"][0], body["features"][-1]
    assert first["geometry"] == {"type": "Point", "coordinates": [-3.8, 40.35]}
    assert first["properties"] == {"cartodb_id": 1, "name": "cell-0-0", "value": 0}
    assert last["properties"]["cartodb_id"] == 10000
    assert "the_geom" not in first["properties"]


def test_sql_post_form_and_json(carto_api):
    _, base = carto_api
    form = urllib.parse.urlencode(
        {"q": "SELECT count(*) FROM alice_customers", "api_key": ALICE_KEY}
    ).encode()
    status, _, body = call(
        base,
        "/api/v2/sql",
        method="POST",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body["rows"]) == (200, [{"count": 3}])
    payload = json.dumps(
        {"q": "SELECT * FROM alice_customers LIMIT 1", "api_key": ALICE_KEY}
    ).encode()
    status, _, body = call(
        base,
        "/api/v2/sql",
        method="POST",
        data=payload,
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["rows"][0]["name"]) == (200, "Customer A")


@pytest.mark.parametrize(
    "prefix, q, params, status, message",
    [
        (
            "/user/alice",
            "SELECT * FROM alice_customers",
            {},
            403,
            "permission denied for relation alice_customers",
        ),
        (
            "/user/alice",
            "SELECT * FROM alice_customers",
            {"api_key": "default_public"},
            403,
            "permission denied",
        ),
        ("/user/alice", "SELECT * FROM nope", {}, 400, 'relation "nope" does not exist'),
        (
            "/user/bob",
            "SELECT * FROM alice_stores",
            {},
            400,
            'relation "alice_stores" does not exist',
        ),
        ("/user/alice", "SELECT nope FROM alice_stores", {}, 400, 'column "nope" does not exist'),
        ("/user/alice", "DROP TABLE alice_stores", {}, 400, "syntax error"),
        ("/user/alice", "SELECT 1", {"api_key": "bad"}, 401, "Unauthorized"),
        ("/user/ghost", "SELECT 1", {}, 404, "Sorry, we can't find CARTO user 'ghost'"),
        ("", "SELECT 1", {}, 401, "Unauthorized"),
    ],
)
def test_sql_errors_have_carto_shapes(carto_api, prefix, q, params, status, message):
    _, base = carto_api
    got, _, body = sql(base, q, prefix=prefix, **params)
    assert got == status
    assert body["error"][0].startswith(message)


def test_public_table_readable_without_key_private_with_owner_key(carto_api):
    _, base = carto_api
    assert sql(base, "SELECT count(*) FROM alice_stores", prefix="/user/alice")[0] == 200
    status, _, body = sql(
        base, "SELECT count(*) FROM alice_customers", prefix="/user/alice", api_key=ALICE_KEY
    )
    assert (status, body["rows"]) == (200, [{"count": 3}])


# --- /api/v4/do/token/token/ -------------------------------------------------------------


def test_do_token(carto_api):
    _, base = carto_api
    status, _, body = call(
        base, "/user/alice/api/v4/do/token/token/", params={"api_key": ALICE_KEY}
    )
    assert status == 200
    assert set(body) == {
        "access_token",
        "bq_public_project",
        "gcp_execution_project",
        "bq_project",
        "bq_dataset",
        "gcs_bucket",
        "instant_licensing",
    }
    assert body["instant_licensing"] is False
    status, _, body = call(base, "/api/v4/do/token/token/", params={"api_key": BOB_KEY})
    assert (status, body) == (500, {"errors": ["The user does not have Data Observatory enabled"]})
    assert (
        call(base, "/user/alice/api/v4/do/token/token", params={"api_key": "default_public"})[0]
        == 401
    )


# --- CORS and test hooks -----------------------------------------------------------------


def test_cors_headers_on_answers_errors_and_preflight(carto_api):
    _, base = carto_api
    for _status, headers, _ in (
        call(base, "/api/v3/me", params={"api_key": ALICE_KEY}),
        call(base, "/api/v3/me", params={"api_key": "bad"}),
    ):
        assert headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = call(
        base,
        "/user/alice/api/v2/sql",
        method="OPTIONS",
        headers={"Origin": "http://localhost:8888", "Access-Control-Request-Method": "POST"},
    )
    assert status == 204
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]


def test_teapot_answers_html_and_broken_answers_500(carto_api):
    _, base = carto_api
    status, headers, body = call(
        base, "/user/teapot/api/v3/me", params={"api_key": "teapot-demo-key"}
    )
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<html>" in body
    status, headers, body = call(base, "/api/v3/me", params={"api_key": "broken-demo-key"})
    assert status == 500 and headers["Content-Type"].startswith("text/html")


def test_slowpoke_sleeps_and_stop_does_not_wait_for_it():
    from tools.carto_api import start_server

    server, base = start_server(slow_seconds=0.4)
    try:
        started = time.monotonic()
        status, _, body = call(base, "/user/slowpoke/api/v3/me")
        assert status == 200 and body["user_data"]["username"] == "slowpoke"
        assert time.monotonic() - started >= 0.4
        server.slow_seconds = 30
        threading.Thread(target=call, args=(base, "/user/slowpoke/api/v3/me"), daemon=True).start()
        time.sleep(0.2)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 3


def test_requests_are_recorded_without_keys(carto_api):
    server, base = carto_api
    call(base, "/user/bob/api/v3/me", params={"api_key": BOB_KEY})
    assert server.requests[-1] == {
        "method": "GET",
        "path": "/user/bob/api/v3/me",
        "user": "bob",
        "has_key": True,
        "key_in": "query",
        "q": None,
    }
    assert BOB_KEY not in repr(server.requests)


# --- the key in an HTTP Basic Authorization header ----------------------------------------


def basic(user, key):
    import base64

    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, key)).encode()).decode()}


@pytest.mark.parametrize(
    "path, user, key, status, username",
    [
        ("/api/v3/me", "", ALICE_KEY, 200, "alice"),  # cloud style: the key names the user
        ("/api/v3/me", "alice", ALICE_KEY, 200, "alice"),
        ("/user/bob/api/v3/me", "bob", BOB_KEY, 200, "bob"),
        ("/user/bob/api/v3/me", "bob", "default_public", 200, "bob"),
        ("/user/alice/api/v3/me", "alice", BOB_KEY, 403, None),  # another user's key
        ("/user/alice/api/v3/me", "alice", "wrong-key", 401, None),
        ("/api/v3/me", "bob", ALICE_KEY, 401, None),  # user name and key disagree
        ("/user/alice/api/v3/me", "bob", ALICE_KEY, 401, None),
        ("/user/nobody/api/v3/me", "nobody", ALICE_KEY, 404, None),
    ],
)
def test_me_takes_the_key_from_basic_auth(carto_api, path, user, key, status, username):
    server, base = carto_api
    got, _, body = call(base, path, headers=basic(user, key))
    assert got == status, body
    if username:
        assert body["user_data"]["username"] == username
        # The owner's key shows the private fields, as with ?api_key=.
        assert ("email" in body["user_data"]) == (key != "default_public")
    assert server.requests[-1]["key_in"] == "header"
    assert key not in repr(server.requests)


def test_basic_auth_wins_over_the_query_and_a_malformed_header_is_401(carto_api):
    server, base = carto_api
    status, _, body = call(
        base, "/api/v3/me", params={"api_key": "wrong-key"}, headers=basic("", ALICE_KEY)
    )
    assert (status, body["user_data"]["username"]) == (200, "alice")
    for header in ("Basic !!!notbase64", "Basic " + "bm8tY29sb24=", "basic"):  # "no-colon"
        status, _, body = call(base, "/api/v3/me", headers={"Authorization": header})
        assert (status, body) == (401, {"errors": ["Unauthorized"]}), header
    # Another scheme is not a CARTO key: the query's key is used.
    status, _, body = call(
        base, "/api/v3/me", params={"api_key": BOB_KEY}, headers={"Authorization": "Bearer x"}
    )
    assert (status, body["user_data"]["username"]) == (200, "bob")
    assert server.requests[-1]["key_in"] == "query"


def test_sql_and_do_token_take_the_key_from_basic_auth(carto_api):
    server, base = carto_api
    status, _, body = call(
        base,
        "/user/alice/api/v2/sql",
        params={"q": "SELECT count(*) FROM alice_customers"},
        headers=basic("alice", ALICE_KEY),
    )
    assert (status, body["rows"]) == (200, [{"count": 3}])
    status, _, body = call(
        base, "/user/alice/api/v2/sql", params={"q": "SELECT * FROM alice_customers"}
    )
    assert status == 403
    status, _, body = call(
        base,
        "/api/v2/sql",
        method="POST",
        data=urllib.parse.urlencode({"q": "SELECT 1"}).encode(),
        headers=dict(
            basic("bob", BOB_KEY), **{"Content-Type": "application/x-www-form-urlencoded"}
        ),
    )
    assert status == 200 and server.requests[-1]["key_in"] == "header"
    status, _, body = call(base, "/api/v4/do/token/token/", headers=basic("alice", ALICE_KEY))
    assert (status, body["access_token"]) == (200, "do-token-alice")


def test_key_in_a_form_body_is_recorded_as_such(carto_api):
    server, base = carto_api
    status, _, _ = call(
        base,
        "/api/v2/sql",
        method="POST",
        data=urllib.parse.urlencode({"q": "SELECT 1", "api_key": ALICE_KEY}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and server.requests[-1]["key_in"] == "body"


# --- command line ------------------------------------------------------------------------


def test_command_line_ready_file_and_redacted_log(tmp_path):
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.carto_api",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--verbose",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "ready file never appeared"
            time.sleep(0.02)
        port = int(ready.read_text())
        status, _, body = call(
            "http://127.0.0.1:%d/" % port, "/api/v3/me", params={"api_key": ALICE_KEY}
        )
        assert (status, body["user_data"]["username"]) == (200, "alice")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Local CARTO API listening on http://127.0.0.1:%d/" % port in out
    assert "/api/v3/me?api_key=***" in err
    assert ALICE_KEY not in out + err
