"""The REST API of the server extension (docs/contracts.md §2) on a real jupyter_server 1.23,
under the base URL /user/alice/, validating against the local CARTO API."""

import concurrent.futures
import glob
import json
import os
import stat

import pytest

ALICE_KEY = "alice-demo-key-0001"
BOB_KEY = "bob-demo-key-0002"
# A key that only ever travels to the server in bodies; the log scan looks for it too.
IMPORTED_KEY = "imported-secret-key-7f3a"
ACCOUNT_FIELDS = {"id", "label", "username", "base_url", "public", "user_info", "created_at"}


@pytest.fixture
def js(jupyter_server):
    """The module's server, with an empty account store for each test."""
    for path in glob.glob(jupyter_server.store_path + "*"):
        os.unlink(path)
    return jupyter_server


def post(js, path, body):
    return js.http.post(
        js.api(path), data=json.dumps(body) if not isinstance(body, bytes) else body
    )


def alice_login(carto_base, **extra):
    body = {"base_url": carto_base + "user/alice/", "api_key": ALICE_KEY, "allow_non_https": True}
    body.update(extra)
    return body


def stored(js):
    with open(js.store_path) as f:
        return json.load(f)


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


# --- routing and authentication ----------------------------------------------------------


def test_routes_live_under_the_base_url_prefix(js):
    resp = js.http.get(js.api("accounts"))
    assert resp.status_code == 200
    assert resp.json() == {"accounts": [], "default_account": None}
    assert resp.headers["Cache-Control"] == "no-store"
    root = "http://127.0.0.1:%d/carto-credentials/accounts" % js.port
    assert js.http.get(root).status_code == 404


def test_requests_without_the_token_are_refused(js):
    import requests

    assert requests.get(js.api("accounts")).status_code == 403
    assert requests.post(js.api("accounts"), data="{}").status_code == 403


# --- accounts ----------------------------------------------------------------------------


def test_account_lifecycle(js, carto_api):
    _, carto = carto_api
    resp = post(js, "accounts", alice_login(carto, label="Alice at work"))
    assert resp.status_code == 201, resp.text
    account = resp.json()
    assert set(account) == ACCOUNT_FIELDS
    assert account["id"].startswith("acc-")
    assert (account["label"], account["username"], account["public"]) == (
        "Alice at work",
        "alice",
        False,
    )
    assert account["base_url"] == carto + "user/alice/"
    assert account["user_info"]["username"] == "alice"
    assert ALICE_KEY not in resp.text

    listing = js.http.get(js.api("accounts")).json()
    assert listing == {"accounts": [account], "default_account": account["id"]}

    key = js.http.get(js.api("accounts/%s/key" % account["id"]))
    assert key.json() == {"api_key": ALICE_KEY}
    assert key.headers["Cache-Control"] == "no-store"

    resp = js.http.patch(js.api("accounts/" + account["id"]), data=json.dumps({"label": "Renamed"}))
    assert resp.status_code == 200 and resp.json()["label"] == "Renamed"
    resp = js.http.patch(js.api("accounts/" + account["id"]), data=json.dumps({"api_key": BOB_KEY}))
    assert resp.status_code == 200 and BOB_KEY not in resp.text
    assert js.http.get(js.api("accounts/%s/key" % account["id"])).json() == {"api_key": BOB_KEY}

    assert js.http.delete(js.api("accounts/" + account["id"])).status_code == 204
    assert js.http.get(js.api("accounts")).json() == {"accounts": [], "default_account": None}
    assert_error(js.http.get(js.api("accounts/%s/key" % account["id"])), 404, "account_not_found")
    assert_error(js.http.delete(js.api("accounts/" + account["id"])), 404, "account_not_found")


def test_public_on_prem_account(js, carto_api):
    _, carto = carto_api
    resp = post(
        js,
        "accounts",
        {"base_url": carto + "user/bob", "api_key": "default_public", "allow_non_https": True},
    )
    assert resp.status_code == 201, resp.text
    account = resp.json()
    assert account["public"] is True and account["label"] == "bob (public)"
    assert account["base_url"] == carto + "user/bob/" and account["username"] == "bob"


def test_account_without_validation_makes_no_request(js, carto_api):
    server, _ = carto_api
    before = len(server.requests)
    resp = post(js, "accounts", {"username": "carol", "api_key": "carol-key", "validate": False})
    assert resp.status_code == 201
    account = resp.json()
    assert (account["base_url"], account["user_info"]) == ("https://carol.carto.com/", None)
    assert len(server.requests) == before


@pytest.mark.parametrize(
    "change, status, code",
    [
        ({"api_key": "wrong-key"}, 400, "bad_key"),
        ({"base_url": "{carto}user/nobody/"}, 400, "unknown_user"),
        ({"base_url": "{carto}user/teapot/"}, 502, "not_carto"),
        ({"base_url": "{carto}user/broken/"}, 502, "server_error"),
        ({"base_url": "{carto}user/slowpoke/"}, 504, "timeout"),
        ({"allow_non_https": False}, 400, "not_https"),
        ({"base_url": "https://x.example/?a=1"}, 400, "bad_url"),
        ({"api_key": "has space"}, 400, "bad_key_format"),
    ],
)
def test_failed_login_is_an_error_and_stores_nothing(js, carto_api, change, status, code):
    _, carto = carto_api
    body = alice_login(carto)
    body.update({k: v.format(carto=carto) if isinstance(v, str) else v for k, v in change.items()})
    message = assert_error(post(js, "accounts", body), status, code)
    assert body["api_key"] not in message
    assert not os.path.exists(js.store_path)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "api_key": "k", "validate": False, "color": "red"},
        {"username": "alice", "validate": False},
        {"username": 7, "api_key": "k", "validate": False},
        {"username": "alice", "api_key": "k", "validate": "no"},
        {"username": "alice", "api_key": "k", "validate": False, "label": None},
        {"username": "alice", "api_key": "k", "validate": False, "label": "x" * 101},
        {"username": "alice", "api_key": "k", "validate": False, "label": "a\nb"},
        {"username": "alice", "api_key": "k", "validate": 0},
        {"api_key": "k", "validate": False},
        ["alice"],
        b"{not json",
        b"{" + b'"label": "' + b"x" * 70000 + b'"}',
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(js, body):
    status = 413 if isinstance(body, bytes) and len(body) > 65536 else 400
    assert_error(post(js, "accounts", body), status, "bad_request")
    assert not os.path.exists(js.store_path)


def test_patch_refuses_unknown_fields_and_empty_bodies(js):
    account = post(
        js, "accounts", {"username": "carol", "api_key": "carol-key", "validate": False}
    ).json()
    url = js.api("accounts/" + account["id"])
    assert_error(js.http.patch(url, data=json.dumps({"username": "eve"})), 400, "bad_request")
    assert_error(js.http.patch(url, data="{}"), 400, "bad_request")
    assert_error(js.http.patch(url, data=json.dumps({"api_key": ""})), 400, "bad_key_format")
    assert_error(
        js.http.patch(js.api("accounts/acc-0000"), data=json.dumps({"label": "x"})),
        404,
        "account_not_found",
    )
    assert js.http.get(js.api("accounts")).json()["accounts"] == [account]


# --- default -----------------------------------------------------------------------------


def test_default_account(js):
    first = post(js, "accounts", {"username": "carol", "api_key": "k1", "validate": False}).json()
    second = post(js, "accounts", {"username": "dave", "api_key": "k2", "validate": False}).json()
    assert js.http.get(js.api("accounts")).json()["default_account"] == first["id"]
    resp = js.http.put(js.api("default"), data=json.dumps({"account_id": second["id"]}))
    assert resp.json() == {"default_account": second["id"]}
    assert stored(js)["default_account"] == second["id"]
    assert js.http.put(js.api("default"), data=json.dumps({"account_id": None})).json() == {
        "default_account": None
    }
    assert_error(
        js.http.put(js.api("default"), data=json.dumps({"account_id": "acc-nope"})),
        404,
        "account_not_found",
    )
    assert_error(js.http.put(js.api("default"), data="{}"), 400, "bad_request")
    assert stored(js)["default_account"] is None


# --- validate ----------------------------------------------------------------------------


def test_validate_ok(js, carto_api):
    _, carto = carto_api
    resp = post(js, "validate", alice_login(carto))
    assert resp.status_code == 200
    body = resp.json()
    assert body["ok"] is True and body["base_url"] == carto + "user/alice/"
    assert body["user_info"]["username"] == "alice"
    assert not os.path.exists(js.store_path)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"base_url": "{carto}user/alice/", "api_key": "wrong"}, "bad_key"),
        ({"base_url": "{carto}user/nobody/", "api_key": ALICE_KEY}, "unknown_user"),
        ({"base_url": "{carto}user/teapot/", "api_key": "teapot-demo-key"}, "not_carto"),
        ({"base_url": "{carto}user/broken/", "api_key": "broken-demo-key"}, "server_error"),
        ({"base_url": "{carto}user/slowpoke/", "api_key": "slowpoke-demo-key"}, "timeout"),
        ({"base_url": "http://127.0.0.1:{closed}/", "api_key": ALICE_KEY}, "unreachable"),
        (
            {"base_url": "{carto}user/alice/", "api_key": ALICE_KEY, "allow_non_https": False},
            "not_https",
        ),
        ({"base_url": "https://u:p@x.example/", "api_key": ALICE_KEY}, "bad_url"),
    ],
)
def test_validate_failure_classes(js, carto_api, body, code):
    from conftest import free_port

    _, carto = carto_api
    body = {
        k: v.format(carto=carto, closed=free_port()) if isinstance(v, str) else v
        for k, v in body.items()
    }
    body.setdefault("allow_non_https", True)
    resp = post(js, "validate", body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["ok"] is False and answer["code"] == code, answer
    assert answer["message"] and body["api_key"] not in answer["message"]


def test_validate_needs_a_key(js):
    assert_error(post(js, "validate", {"username": "alice"}), 400, "bad_request")


# --- grants ------------------------------------------------------------------------------


def test_grants(js):
    resp = js.http.put(
        js.api("grants"), data=json.dumps({"path": "work/map.ipynb", "decision": "allow"})
    )
    assert resp.json() == {"path": "work/map.ipynb", "decision": "allow"}
    js.http.put(js.api("grants"), data=json.dumps({"path": "other.ipynb", "decision": "deny"}))
    assert js.http.get(js.api("grants")).json() == {
        "grants": {"work/map.ipynb": "allow", "other.ipynb": "deny"}
    }
    resp = js.http.delete(js.api("grants"), params={"path": "work/map.ipynb"})
    assert resp.status_code == 204
    assert js.http.get(js.api("grants")).json() == {"grants": {"other.ipynb": "deny"}}


@pytest.mark.parametrize(
    "body",
    [
        {"path": "a.ipynb", "decision": "maybe"},
        {"path": "/etc/a.ipynb", "decision": "allow"},
        {"path": "../a.ipynb", "decision": "allow"},
        {"path": "", "decision": "allow"},
        {"path": "a.ipynb"},
        {"path": "a.ipynb", "decision": "allow", "extra": 1},
    ],
)
def test_bad_grants_are_refused(js, body):
    assert_error(js.http.put(js.api("grants"), data=json.dumps(body)), 400, "bad_request")
    assert js.http.get(js.api("grants")).json() == {"grants": {}}


def test_delete_grant_needs_a_path(js):
    assert_error(js.http.delete(js.api("grants")), 400, "bad_request")


# --- import of CARTOframes' creds.json ---------------------------------------------------


def write_creds(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))


def test_import_default_creds_json(js):
    if os.path.exists(js.creds_path):
        os.unlink(js.creds_path)
    assert js.http.get(js.api("import")).json() == {
        "available": False,
        "path": js.creds_path,
        "username": None,
        "base_url": None,
    }
    # Exactly what cartoframes' Credentials('fake_user', key).save() writes.
    write_creds(
        js.creds_path,
        '{"username": "fake_user", "api_key": "%s", "base_url": '
        '"https://fake_user.carto.com", "allow_non_secure": false}' % IMPORTED_KEY,
    )
    resp = js.http.get(js.api("import"))
    assert resp.json() == {
        "available": True,
        "path": js.creds_path,
        "username": "fake_user",
        "base_url": "https://fake_user.carto.com/",
    }
    resp = post(js, "import", {})
    assert resp.status_code == 201 and IMPORTED_KEY not in resp.text
    account = resp.json()
    assert set(account) == ACCOUNT_FIELDS
    assert (account["username"], account["label"]) == ("fake_user", "fake_user (CARTOframes)")
    assert js.http.get(js.api("accounts/%s/key" % account["id"])).json() == {
        "api_key": IMPORTED_KEY
    }


def test_import_explicit_path_on_prem_http(js, tmp_path):
    path = str(tmp_path / "team.json")
    write_creds(
        path,
        {
            "username": None,
            "api_key": IMPORTED_KEY,
            "base_url": "http://onprem.example/user/team",
            "allow_non_secure": True,
        },
    )
    account = post(js, "import", {"path": path}).json()
    assert (account["username"], account["base_url"]) == (
        "team",
        "http://onprem.example/user/team/",
    )


@pytest.mark.parametrize(
    "content, status, code",
    [
        (None, 404, "import_not_found"),
        ("{broken", 400, "import_invalid"),
        ("[]", 400, "import_invalid"),
        ({"api_key": IMPORTED_KEY}, 400, "import_invalid"),
        ({"base_url": "http://h.example/", "api_key": IMPORTED_KEY}, 400, "import_invalid"),
    ],
)
def test_import_errors(js, tmp_path, content, status, code):
    path = str(tmp_path / "creds.json")
    if content is not None:
        write_creds(path, content)
    message = assert_error(post(js, "import", {"path": path}), status, code)
    assert IMPORTED_KEY not in message
    assert not os.path.exists(js.store_path)


def test_import_path_must_be_a_json_file(js):
    assert_error(post(js, "import", {"path": "/etc/passwd"}), 400, "bad_request")


# --- the store file ----------------------------------------------------------------------


def test_store_file_is_private(js):
    post(js, "accounts", {"username": "carol", "api_key": "k", "validate": False})
    assert stat.S_IMODE(os.stat(js.store_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(js.store_path)).st_mode) == 0o700


def test_corrupt_store_is_reported_and_kept(js):
    os.makedirs(os.path.dirname(js.store_path), exist_ok=True)
    with open(js.store_path, "w") as f:
        f.write('{"version": 1, "accounts": [')
    message = assert_error(js.http.get(js.api("accounts")), 500, "store_corrupt")
    (kept,) = glob.glob(js.store_path + ".corrupt-*")
    assert kept in message
    assert open(kept).read() == '{"version": 1, "accounts": ['
    assert js.http.get(js.api("accounts")).json() == {"accounts": [], "default_account": None}
    assert "account store %s is unreadable" % js.store_path in js.log()


def test_parallel_logins_all_land(js, carto_api):
    # Two tabs logging in at once, times ten: every request awaits CARTO, so handlers interleave.
    _, carto = carto_api

    def login(i):
        return post(js, "accounts", alice_login(carto, label="tab %d" % i))

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(login, range(20)))
    assert [r.status_code for r in responses] == [201] * 20, [
        r.text for r in responses if r.status_code != 201
    ]
    labels = sorted(a["label"] for a in js.http.get(js.api("accounts")).json()["accounts"])
    assert labels == sorted("tab %d" % i for i in range(20))


# --- last: nothing above leaked a key into the server log --------------------------------


def test_zz_server_log_never_contains_a_key(js):
    log = js.log()
    assert "carto-credentials: added account acc-" in log  # the log was captured at all
    assert "/user/alice/carto-credentials/accounts" in log  # debug access log included
    for key in (ALICE_KEY, BOB_KEY, IMPORTED_KEY, "carol-key", "wrong-key", "slowpoke-demo-key"):
        assert key not in log, key


def test_kernel_bootstrap_names_this_servers_package(js):
    from carto_credentials.server.bootstrap import bootstrap_code

    resp = js.http.get(js.api("kernel-bootstrap"))
    assert resp.status_code == 200
    assert resp.json() == {"code": bootstrap_code()}
