"""The real CARTOframes 1.2.5 runs against the local CARTO API (tools/carto_api).

Each cartoframes test runs its code in ``.venv-cartoframes`` (cartoframes from PyPI, without our
package, cwd a temporary directory), pointed at the session's local API with ``allow_non_secure``
(cartoframes refuses an ``http://`` base URL otherwise), and checks what cartoframes returns and
which endpoints it really called. The direct HTTP tests pin the new endpoints' CARTO shapes:
``copyto``, ``copyfrom``, Batch SQL jobs, and the SQL the engine now takes.
"""

import base64
import gzip
import http.client
import json
import os
import subprocess
import textwrap
import urllib.parse
import uuid

import pytest
from conftest import REPO_ROOT
from test_carto_api import ALICE_KEY, BOB_KEY, call, sql

CF_PYTHON = os.path.join(REPO_ROOT, ".venv-cartoframes", "bin", "python")
needs_cartoframes = pytest.mark.skipif(
    not os.path.exists(CF_PYTHON),
    reason=".venv-cartoframes (the real cartoframes==1.2.5 from PyPI) is not set up",
)

PRELUDE = """
import json, sys, warnings
warnings.simplefilter("ignore")  # carto-python warns about http ("unencrypted API key")
BASE = sys.argv[1]
KEY = sys.argv[2]
from cartoframes.auth import Credentials, set_default_credentials
def emit(value):
    print("RESULT " + json.dumps(value, default=str))
"""


def run_cartoframes(tmp_path, base_url, code, key=ALICE_KEY, timeout=60):
    """Run ``code`` with cartoframes in its own venv; the values it ``emit``-ed."""
    config = tmp_path / "xdg" / "cartoframes"
    config.mkdir(parents=True, exist_ok=True)
    # cartoframes posts usage metrics to bmetrics.cartodb.net unless this file disables them.
    (config / "metrics.json").write_text(json.dumps({"uuid": str(uuid.uuid4()), "enabled": False}))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    script = PRELUDE + textwrap.dedent(code)
    proc = subprocess.run(
        [CF_PYTHON, "-c", script, base_url, key],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = [
        json.loads(line[len("RESULT ") :])
        for line in proc.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    return results


def paths_since(server, start):
    return [(r["method"], r["path"]) for r in server.requests[start:]]


# --- 1. read_carto ---------------------------------------------------------------------------


@needs_cartoframes
def test_read_carto_table_and_query(carto_api, tmp_path):
    server, base = carto_api
    start = len(server.requests)
    out = run_cartoframes(
        tmp_path,
        base + "user/alice/",
        """
        set_default_credentials(username="alice", api_key=KEY, base_url=BASE,
                                allow_non_secure=True)
        from cartoframes import read_carto
        gdf = read_carto("alice_stores")
        emit({"type": type(gdf).__name__, "columns": list(gdf.columns), "rows": len(gdf),
              "geom": sorted(set(gdf.geom_type)), "crs": str(gdf.crs),
              "first": [gdf.geometry.iloc[0].x, gdf.geometry.iloc[0].y, gdf["name"].iloc[0]],
              "revenue": [int(v) for v in gdf["revenue"]]})
        q = read_carto("SELECT name, revenue, the_geom FROM alice_stores "
                       "WHERE revenue > 700 ORDER BY revenue DESC")
        emit({"columns": list(q.columns), "names": list(q["name"]),
              "geom": sorted(set(q.geom_type))})
        private = read_carto("alice_customers", limit=2)
        emit({"rows": len(private), "tiers": list(private["tier"])})
        try:
            read_carto("alice_customers", credentials=Credentials(
                base_url=BASE, api_key="default_public", allow_non_secure=True))
        except Exception as err:
            emit({"public_error": str(err)})
        """,
    )
    table, query, private, public = out
    assert table["type"] == "GeoDataFrame"
    assert table["columns"] == ["cartodb_id", "the_geom", "name", "revenue"]
    assert table["rows"] == 5 and table["geom"] == ["Point"]
    assert table["crs"].lower() == "epsg:4326"
    assert table["first"] == [-3.7038, 40.4168, "Sol"]
    assert table["revenue"] == [1200, 950, 1430, 780, 640]
    assert query["columns"] == ["name", "revenue", "the_geom"]
    assert query["names"] == ["Retiro", "Sol", "Gran Via", "Chamberi"]
    assert query["geom"] == ["Point"]
    assert private == {"rows": 2, "tiers": ["gold", "silver"]}
    # CARTO's 403 for a private table with the public key, as pyrestcli words every 401/403.
    assert public["public_error"] == "Access denied"
    called = paths_since(server, start)
    assert ("GET", "/user/alice/api/v2/sql/copyto") in called
    assert ("POST", "/user/alice/api/v2/sql") in called  # the LIMIT 0 column probe
    # carto-python sends the key in the query string; none of it is recorded.
    assert all(r["key_in"] in ("query", "body") for r in server.requests[start:])


# --- 2. to_carto -----------------------------------------------------------------------------


@needs_cartoframes
def test_to_carto_uploads_then_fail_and_replace(carto_api, tmp_path):
    server, base = carto_api
    table = "cf_upload_%s" % uuid.uuid4().hex[:8]
    start = len(server.requests)
    out = run_cartoframes(
        tmp_path,
        base + "user/alice/",
        """
        set_default_credentials(username="alice", api_key=KEY, base_url=BASE,
                                allow_non_secure=True)
        import geopandas
        from shapely.geometry import LineString, Point, Polygon
        from cartoframes import read_carto, to_carto
        TABLE = %r
        gdf = geopandas.GeoDataFrame(
            {"label": ["a", "b", "c"], "score": [1.5, 2.5, None], "n": [1, 2, 3],
             "ok": [True, False, True]},
            geometry=[Point(1, 2), Point(3, 4), Point(-5, 6)], crs="epsg:4326")
        emit({"name": to_carto(gdf, TABLE)})
        back = read_carto(TABLE)
        emit({"columns": list(back.columns), "ids": list(back["cartodb_id"]),
              "labels": list(back["label"]), "score": [None if s != s else s for s in back["score"]],
              "n": list(back["n"]), "ok": list(back["ok"]),
              "xy": [[g.x, g.y] for g in back.geometry], "dtypes": {k: str(v) for k, v in back.dtypes.items()}})
        try:
            to_carto(gdf, TABLE)
        except Exception as err:
            emit({"fail": str(err)})
        other = geopandas.GeoDataFrame(
            {"kind": ["poly", "line"]},
            geometry=[Polygon([(0, 0), (1, 0), (1, 1)]), LineString([(0, 0), (2, 3)])],
            crs="epsg:4326")
        to_carto(other, TABLE, if_exists="replace")
        back = read_carto(TABLE)
        emit({"columns": list(back.columns), "kinds": list(back["kind"]),
              "geom": list(back.geom_type), "bounds": list(back.total_bounds)})
        to_carto(other, TABLE, if_exists="replace")   # same columns: TRUNCATE path
        to_carto(other, TABLE, if_exists="append")
        back = read_carto(TABLE)
        emit({"ids": list(back["cartodb_id"]), "rows": len(back)})
        """
        % table,
    )
    created, first, fail, replaced, appended = out
    assert created == {"name": table}
    assert first["columns"] == ["cartodb_id", "the_geom", "label", "score", "n", "ok"]
    assert first["ids"] == [1, 2, 3]
    assert first["labels"] == ["a", "b", "c"]
    assert first["score"] == [1.5, 2.5, None]
    assert first["n"] == [1, 2, 3] and first["ok"] == [True, False, True]
    assert first["xy"] == [[1.0, 2.0], [3.0, 4.0], [-5.0, 6.0]]
    assert first["dtypes"]["n"] == "int64" and first["dtypes"]["ok"] == "bool"
    assert "already exists in your CARTO account" in fail["fail"]
    assert replaced["columns"] == ["cartodb_id", "the_geom", "kind"]
    assert replaced["kinds"] == ["poly", "line"]
    assert replaced["geom"] == ["Polygon", "LineString"]
    assert replaced["bounds"] == [0.0, 0.0, 2.0, 3.0]
    assert appended == {"ids": [1, 2, 3, 4], "rows": 4}
    called = paths_since(server, start)
    assert ("POST", "/user/alice/api/v2/sql/copyfrom") in called
    assert ("POST", "/user/alice/api/v2/sql/job/") in called
    assert ("GET", "/api/v3/me") in called  # the quota check (me_data drops /user/alice)
    jobs = [r["q"] for r in server.requests[start:] if r["path"].endswith("/sql/job/")]
    assert jobs == [None] * len(jobs)  # Batch sends "query", not "q"
    # The table is alice's and private: bob cannot see it, the public key is refused.
    assert sql(base, "SELECT count(*) FROM %s" % table, prefix="/user/bob")[0] == 400
    status, _, body = sql(base, "SELECT count(*) FROM %s" % table, prefix="/user/alice")
    assert (status, body["error"]) == (403, ["permission denied for relation %s" % table])


# --- 3. Map(Layer('table')) ------------------------------------------------------------------


@needs_cartoframes
def test_map_layer_renders_html(carto_api, tmp_path):
    server, base = carto_api
    start = len(server.requests)
    out, public = run_cartoframes(
        tmp_path,
        base + "user/alice/",
        """
        set_default_credentials(username="alice", api_key=KEY, base_url=BASE,
                                allow_non_secure=True)
        from cartoframes.viz import Layer, Map, Source
        layer = Layer("alice_stores")
        html = Map(layer)._repr_html_()
        emit({"html_len": len(html), "iframe": html.lstrip().startswith("<iframe"),
              "has_table": "alice_stores" in html, "geom_type": layer.geom_type,
              "bounds": layer.bounds, "query": layer.source_data})
        # The seeds' per-layer public credentials: two users' public tables on one map.
        bob = BASE.replace("/user/alice/", "/user/bob/")
        html = Map([
            Layer("alice_stores", credentials=Credentials(base_url=BASE, allow_non_secure=True)),
            Layer(Source("SELECT * FROM bob_parks WHERE area_ha > 300",
                         Credentials(base_url=bob, allow_non_secure=True))),
        ])._repr_html_()
        emit({"both": "alice_stores" in html and "bob_parks" in html})
        """,
    )
    assert public == {"both": True}
    assert out["iframe"] and out["has_table"] and out["html_len"] > 10000
    assert out["geom_type"] == "point"
    assert out["bounds"] == [[-3.7058, 40.4087], [-3.6823, 40.4342]]
    assert out["query"] == 'SELECT * FROM "public"."alice_stores"'
    qs = [r["q"] or "" for r in server.requests[start:]]
    assert any("ST_GeometryType(the_geom)" in q for q in qs)
    assert any("ST_Extent(the_geom)" in q for q in qs)


# --- 4. Credentials.me_data ------------------------------------------------------------------


@needs_cartoframes
def test_me_data_good_and_bad_key(carto_api, tmp_path):
    server, base = carto_api
    start = len(server.requests)
    out = run_cartoframes(
        tmp_path,
        base + "user/alice/",
        """
        good = Credentials(username="alice", api_key=KEY, base_url=BASE, allow_non_secure=True)
        emit(good.me_data)
        emit(good.user_id)
        bad = Credentials(username="alice", api_key="not-a-key", base_url=BASE,
                          allow_non_secure=True)
        emit(bad.me_data)
        emit(bad.user_id)
        try:
            Credentials(username="alice", api_key=KEY, base_url=BASE)
        except ValueError as err:
            emit(str(err))
        # The seeds' file forms: Credentials(...).save(path), from_file, set_default_credentials.
        good.save("creds.json")
        from cartoframes import read_carto
        set_default_credentials("creds.json")
        emit([Credentials.from_file("creds.json") == good,
              len(read_carto("alice_customers", limit=1))])
        # The Data Observatory token (seed: get_gcloud_credentials), GET /api/v4/do/token.
        emit(list(good.get_gcloud_credentials()))
        try:
            Credentials(base_url=BASE.replace("alice", "bob"), api_key="bob-demo-key-0002",
                        allow_non_secure=True).get_gcloud_credentials()
        except Exception as err:
            emit(type(err).__name__)
        """,
    )
    me, user_id, bad_me, bad_user_id, https_error, from_file, gcloud, bob_do = out
    assert me["user_data"]["username"] == "alice"
    assert me["user_data"]["base_url"] == base + "user/alice"
    assert isinstance(me["user_data"]["remaining_byte_quota"], int)
    assert user_id == me["user_data"]["id"]
    # me_data does not check the status: it returns CARTO's 401 body as is.
    assert bad_me == {"errors": ["Unauthorized"]}
    assert bad_user_id is None
    assert https_error.startswith("`base_url`s need to be over `https`")
    assert from_file == [True, 1]
    assert gcloud == ["carto-do-customers", "do-token-alice"]
    assert bob_do == "DOError"
    # pyrestcli 0.6.11's urljoin drops the last "token": CARTO's own route.
    assert ("GET", "/user/alice/api/v4/do/token") in paths_since(server, start)


# --- direct HTTP: copyto ---------------------------------------------------------------------

COPY_TO = "COPY (SELECT cartodb_id, name FROM alice_stores LIMIT 2) TO stdout WITH (FORMAT csv, HEADER true)"


def test_copyto_streams_csv_with_carto_headers(carto_api):
    _, base = carto_api
    url = base + "user/alice/api/v2/sql/copyto?" + urllib.parse.urlencode({"q": COPY_TO})
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=10)
    conn.request("GET", url)
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == "attachment; filename=carto-sql-copyto.dmp"
    assert body == "cartodb_id,name\n1,Sol\n2,Gran Via\n"
    # A table, a column list, a key in an HTTP Basic header, geometry as hex EWKB.
    auth = "Basic " + base64.b64encode(b"alice:" + ALICE_KEY.encode()).decode()
    status, _, text = call(
        base,
        "/user/alice/api/v2/sql/copyto",
        params={"q": "COPY alice_customers (name, the_geom) TO stdout WITH (FORMAT csv)"},
        headers={"Authorization": auth},
    )
    assert status == 200
    first = text.splitlines()[0].split(",")
    assert first[0] == "Customer A" and first[1].startswith("0101000020E6100000")


@pytest.mark.parametrize(
    "prefix, params, status, message",
    [
        ("/user/alice", {}, 400, "SQL is missing"),
        ("/user/alice", {"q": "SELECT 1"}, 400, "SQL must start with COPY"),
        (
            "/user/alice",
            {"q": "COPY alice_stores FROM stdin"},
            400,
            "COPY FROM is not allowed here",
        ),
        (
            "/user/alice",
            {"q": "COPY alice_customers TO stdout"},
            403,
            "permission denied for relation alice_customers",
        ),
        ("/user/alice", {"q": "COPY nope TO stdout"}, 400, 'relation "nope" does not exist'),
        (
            "/user/alice",
            {"q": "COPY alice_stores TO stdout", "api_key": "bad"},
            401,
            "Unauthorized",
        ),
        (
            "/user/alice",
            {"q": "COPY alice_stores TO stdout", "api_key": BOB_KEY},
            403,
            "permission denied",
        ),
        ("/user/ghost", {"q": "COPY t TO stdout"}, 404, "Sorry, we can't find CARTO user 'ghost'"),
        ("", {"q": "COPY alice_stores TO stdout"}, 401, "Unauthorized"),
    ],
)
def test_copyto_errors_have_carto_shapes(carto_api, prefix, params, status, message):
    _, base = carto_api
    got, headers, body = call(base, prefix + "/api/v2/sql/copyto", params=params)
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    assert body["error"][0].startswith(message)


# --- direct HTTP: copyfrom -------------------------------------------------------------------


def _copyfrom(base, q, data, key=ALICE_KEY, gzip_it=True, chunked=True, prefix="/user/alice"):
    """POST like carto-python's CopySQLClient.copyfrom: chunked, gzip, key in the query."""
    params = {"q": q}
    if key is not None:
        params["api_key"] = key
    path = urllib.parse.urlsplit(base).path.rstrip("/") + prefix + "/api/v2/sql/copyfrom"
    body = gzip.compress(data) if gzip_it else data
    headers = {"Content-Type": "application/octet-stream"}
    if gzip_it:
        headers["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=10)
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        conn.request(
            "POST",
            path + "?" + urllib.parse.urlencode(params),
            body=iter([body[:7], body[7:]]),
            headers=headers,
            encode_chunked=True,
        )
    else:
        conn.request(
            "POST", path + "?" + urllib.parse.urlencode(params), body=body, headers=headers
        )
    resp = conn.getresponse()
    answer = json.loads(resp.read().decode())
    conn.close()
    return resp.status, answer


def test_copyfrom_loads_rows_chunked_gzip_or_plain(carto_api):
    _, base = carto_api
    table = "copy_%s" % uuid.uuid4().hex[:8]
    status, _, _ = sql(
        base,
        "CREATE TABLE %s (name text, n bigint, the_geom geometry(Geometry, 4326))" % table,
        prefix="/user/alice",
        api_key=ALICE_KEY,
    )
    assert status == 200
    point = "0101000020E6100000000000000000F03F0000000000000040"  # POINT(1 2), SRID 4326
    q = "COPY %s (name, n, the_geom) FROM stdin WITH (FORMAT csv, DELIMITER '|', NULL '__null')"
    status, body = _copyfrom(base, q % table, ('a|1|%s\n"b|c"|__null|__null\n' % point).encode())
    assert status == 200 and body["total_rows"] == 2 and isinstance(body["time"], float)
    status, body = _copyfrom(base, q % table, b"d|4|__null\n", gzip_it=False, chunked=False)
    assert (status, body["total_rows"]) == (200, 1)
    rows = sql(base, "SELECT name, n FROM %s" % table, prefix="/user/alice", api_key=ALICE_KEY)[2]
    assert rows["rows"] == [
        {"name": "a", "n": 1},
        {"name": "b|c", "n": None},
        {"name": "d", "n": 4},
    ]
    status, _, body = sql(
        base,
        "SELECT ST_AsGeoJSON(the_geom) AS g FROM %s WHERE the_geom IS NOT NULL" % table,
        prefix="/user/alice",
        api_key=ALICE_KEY,
    )
    assert json.loads(body["rows"][0]["g"]) == {"type": "Point", "coordinates": [1.0, 2.0]}


@pytest.mark.parametrize(
    "q, data, kwargs, status, message",
    [
        (None, b"x\n", {}, 400, "SQL is missing"),
        ("SELECT 1", b"x\n", {}, 400, "SQL must start with COPY"),
        ("COPY alice_stores (name) FROM stdin WITH (FORMAT csv)", b"", {}, 400, "No rows copied"),
        (
            "COPY nope (a) FROM stdin WITH (FORMAT csv)",
            b"x\n",
            {},
            400,
            'relation "nope" does not exist',
        ),
        (
            "COPY alice_stores (cartodb_id) FROM stdin WITH (FORMAT csv)",
            b"not-a-number\n",
            {},
            400,
            'invalid input syntax for type integer: "not-a-number"',
        ),
        (
            "COPY alice_stores (name) FROM stdin WITH (FORMAT csv)",
            b"a,b\n",
            {},
            400,
            "extra data after last expected column",
        ),
        (
            "COPY alice_stores (name) FROM stdin WITH (FORMAT csv)",
            b"x\n",
            {"key": "default_public"},
            403,
            "permission denied for relation alice_stores",
        ),
        ("COPY alice_stores (name) FROM stdin", b"x\n", {"key": "bad"}, 401, "Unauthorized"),
        ("COPY alice_stores (name) FROM stdin", b"x\n", {"key": BOB_KEY}, 403, "permission denied"),
    ],
)
def test_copyfrom_errors_have_carto_shapes(carto_api, q, data, kwargs, status, message):
    _, base = carto_api
    if q is None:
        # No q at all: the key alone in the query string.
        got, _, body = call(
            base,
            "/user/alice/api/v2/sql/copyfrom",
            method="POST",
            params={"api_key": ALICE_KEY},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    else:
        got, body = _copyfrom(base, q, data, **kwargs)
    assert got == status
    assert body["error"][0].startswith(message)


def test_copyfrom_needs_post_and_real_gzip(carto_api):
    _, base = carto_api
    q = "COPY alice_stores (name) FROM stdin"
    got, _, body = call(
        base, "/user/alice/api/v2/sql/copyfrom", params={"q": q, "api_key": ALICE_KEY}
    )
    assert (got, body["error"][0]) == (404, "Cannot GET /api/v2/sql/copyfrom")
    got, _, body = call(
        base,
        "/user/alice/api/v2/sql/copyfrom",
        method="POST",
        params={"q": q, "api_key": ALICE_KEY},
        data=b"not gzip",
        headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"},
    )
    assert (got, body["error"][0]) == (400, "incorrect header check")


# --- direct HTTP: Batch SQL jobs -------------------------------------------------------------


def _job(base, payload, prefix="/user/alice", headers=None):
    return call(
        base,
        prefix + "/api/v2/sql/job",
        method="POST",
        data=json.dumps(payload).encode(),
        headers=dict({"Content-Type": "application/json"}, **(headers or {})),
    )


def test_batch_job_runs_and_reads_back(carto_api):
    _, base = carto_api
    table = "job_%s" % uuid.uuid4().hex[:8]
    status, _, job = _job(base, {"query": "CREATE TABLE %s (a text)" % table, "api_key": ALICE_KEY})
    assert status == 201
    assert set(job) >= {"job_id", "user", "query", "status", "created_at", "updated_at"}
    assert (job["user"], job["status"]) == ("alice", "done")
    status, _, again = call(
        base, "/user/alice/api/v2/sql/job/" + job["job_id"], params={"api_key": ALICE_KEY}
    )
    assert (status, again) == (200, job)
    # A failing query: the job says why; the key in an HTTP Basic header works too.
    auth = "Basic " + base64.b64encode(b"alice:" + ALICE_KEY.encode()).decode()
    status, _, failed = _job(
        base, {"query": "CREATE TABLE %s (a text)" % table}, headers={"Authorization": auth}
    )
    assert (status, failed["status"]) == (201, "failed")
    assert failed["failed_reason"] == 'relation "%s" already exists' % table
    # cartoframes' cartodbfy job: cartodb_id first, filled.
    status, _, job = _job(
        base, {"query": "SELECT CDB_CartodbfyTable('public', '%s')" % table, "api_key": ALICE_KEY}
    )
    assert (status, job["status"]) == (201, "done")
    status, _, body = sql(
        base, "SELECT * FROM %s LIMIT 0" % table, prefix="/user/alice", api_key=ALICE_KEY
    )
    assert list(body["fields"]) == ["cartodb_id", "the_geom", "a"]
    assert body["fields"]["cartodb_id"] == {"type": "number", "pgtype": "int8"}


@pytest.mark.parametrize(
    "prefix, payload, status, message",
    [
        ("/user/alice", {"api_key": ALICE_KEY}, 400, "You must indicate a valid SQL"),
        (
            "/user/alice",
            {"query": "   ", "api_key": ALICE_KEY},
            400,
            "You must indicate a valid SQL",
        ),
        ("/user/alice", {"query": "SELECT 1"}, 403, "permission denied"),
        (
            "/user/alice",
            {"query": "SELECT 1", "api_key": "default_public"},
            403,
            "permission denied",
        ),
        ("/user/alice", {"query": "SELECT 1", "api_key": BOB_KEY}, 403, "permission denied"),
        ("/user/alice", {"query": "SELECT 1", "api_key": "bad"}, 401, "Unauthorized"),
        ("/user/ghost", {"query": "SELECT 1"}, 404, "Sorry, we can't find CARTO user 'ghost'"),
    ],
)
def test_batch_errors_have_carto_shapes(carto_api, prefix, payload, status, message):
    _, base = carto_api
    got, _, body = _job(base, payload, prefix=prefix)
    assert got == status
    assert body["error"][0].startswith(message)


def test_batch_unknown_job_is_404(carto_api):
    _, base = carto_api
    got, _, body = call(base, "/user/alice/api/v2/sql/job/nope", params={"api_key": ALICE_KEY})
    assert (got, body) == (404, {"error": ["Job with id nope not found"]})
    # Another user's job is not found either.
    _, _, job = _job(base, {"query": "SELECT 1", "api_key": ALICE_KEY})
    got, _, _ = call(base, "/user/bob/api/v2/sql/job/" + job["job_id"], params={"api_key": BOB_KEY})
    assert got == 404


# --- direct HTTP: the SQL cartoframes sends --------------------------------------------------


def test_sql_engine_answers_cartoframes_probes(carto_api):
    _, base = carto_api

    def rows(q, **params):
        status, _, body = sql(base, q, prefix="/user/alice", **params)
        assert status == 200, body
        return body

    assert rows("SELECT current_schema()")["rows"] == [{"current_schema": "public"}]
    probe = rows('SELECT * FROM (SELECT * FROM "public"."alice_stores") _q LIMIT 0')
    assert probe["rows"] == [] and list(probe["fields"]) == [
        "cartodb_id",
        "the_geom",
        "name",
        "revenue",
    ]
    geom = rows(
        'SELECT distinct ST_GeometryType(the_geom) AS geom_type FROM (SELECT * FROM "public"."alice_stores") q LIMIT 5'
    )
    assert geom["rows"] == [{"geom_type": "ST_Point"}]
    bounds = rows(
        "SELECT ARRAY[ARRAY[st_xmin(geom_env), st_ymin(geom_env)], ARRAY[st_xmax(geom_env), st_ymax(geom_env)]] bounds "
        "FROM (SELECT ST_Extent(the_geom) geom_env FROM (SELECT * FROM alice_stores) q) q;"
    )
    assert bounds["rows"] == [{"bounds": [[-3.7058, 40.4087], [-3.6823, 40.4342]]}]
    assert rows("EXPLAIN SELECT * FROM alice_stores")["rows"][0]["QUERY PLAN"]
    assert rows("SELECT COUNT(*) FROM (SELECT * FROM alice_stores WHERE revenue >= 950) _query")[
        "rows"
    ] == [{"count": 3}]
    catalog = rows(
        "SELECT 1 FROM pg_catalog.pg_proc p LEFT JOIN pg_catalog.pg_namespace n "
        "ON n.oid = p.pronamespace WHERE p.proname = 'cdb_regeneratetable' AND n.nspname = 'cartodb';"
    )
    assert catalog["rows"] == []
    # read_carto wraps a user's query, WITH included, as a subquery.
    wrapped = rows(
        "SELECT * FROM (WITH s AS (SELECT * FROM alice_stores) SELECT name FROM s "
        "WHERE revenue < 900 ORDER BY name DESC) _q LIMIT 5"
    )
    assert wrapped["rows"] == [{"name": "Lavapies"}, {"name": "Chamberi"}]
    grouped = rows(
        "SELECT tier, count(*) AS n FROM alice_customers GROUP BY tier ORDER BY tier",
        api_key=ALICE_KEY,
    )
    assert [r["tier"] for r in grouped["rows"]] == ["bronze", "gold", "silver"]
    tables = rows("SELECT CDB_QueryTablesText($q$SELECT * FROM alice_stores$q$) as tables")
    assert tables["rows"] == [{"tables": ["public.alice_stores"]}]


@pytest.mark.parametrize(
    "q, params, status, message",
    [
        (
            "EXPLAIN SELECT * FROM nope",
            {"api_key": ALICE_KEY},
            400,
            'relation "nope" does not exist',
        ),
        ("CREATE TABLE t1 (a text)", {}, 403, "permission denied for schema public"),
        ("TRUNCATE TABLE alice_stores", {}, 403, "permission denied for relation alice_stores"),
        ("COPY alice_stores TO stdout", {"api_key": ALICE_KEY}, 400, "COPY is only available"),
        (
            "CREATE TABLE t2 (a nosuchtype)",
            {"api_key": ALICE_KEY},
            400,
            'type "nosuchtype" does not exist',
        ),
        (
            "ALTER TABLE alice_stores DROP COLUMN nope",
            {"api_key": ALICE_KEY},
            400,
            'column "nope" of relation',
        ),
        ("SELECT nope(1)", {}, 400, "function nope does not exist"),
    ],
)
def test_sql_write_and_probe_errors(carto_api, q, params, status, message):
    _, base = carto_api
    got, _, body = sql(base, q, prefix="/user/alice", **params)
    assert got == status
    assert body["error"][0].startswith(message)


def test_writes_to_demo_tables_stay_in_one_server():
    """A server's writes change its own copy of the demo tables, never data.py's."""
    from tools.carto_api import start_server

    server, base = start_server()
    try:
        status, _, _ = sql(base, "TRUNCATE alice_stores", prefix="/user/alice", api_key=ALICE_KEY)
        assert status == 200
        assert sql(base, "SELECT count(*) FROM alice_stores", prefix="/user/alice")[2]["rows"] == [
            {"count": 0}
        ]
    finally:
        server.stop()
    server, base = start_server()
    try:
        assert sql(base, "SELECT count(*) FROM alice_stores", prefix="/user/alice")[2]["rows"] == [
            {"count": 5}
        ]
    finally:
        server.stop()
