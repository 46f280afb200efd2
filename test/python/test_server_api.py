"""The REST API of the server extension (docs/contracts.md §2, docs/server-api.md) on an
in-process jupyter_server 2 (pytest-jupyter) under the base URL /user/alice/, validating against
the local CARTO API. Every test also checks that no key it sent reached the server's log; the last
test does the same on a separate server process's real output."""

import asyncio
import glob
import json
import logging
import os
import stat

import pytest
from conftest import carto_server_config

from carto_credentials.paths import cartoframes_creds_path

ALICE_KEY = "alice-demo-key-0001"
BOB_KEY = "bob-demo-key-0002"
CAROL_KEY = "carol-key-0003"
DAVE_KEY = "dave-key-0004"
# A key that only ever travels to the server in a file; the log checks look for it too.
IMPORTED_KEY = "imported-secret-key-7f3a"
ACCOUNT_FIELDS = {
    "id",
    "kind",
    "label",
    "username",
    "base_url",
    "api_base_url",
    "expires_at",
    "public",
    "status",
    "user_info",
    "created_at",
}


@pytest.fixture
def jp_base_url():
    return "/user/alice/"


@pytest.fixture
def jp_server_config():
    return carto_server_config(validate_timeout=1.0)  # slowpoke sleeps 2 s


@pytest.fixture
def api(carto_rest, caplog):
    """The REST client; afterwards, no key sent in this test (or imported) is in the server log."""
    caplog.set_level(logging.DEBUG)
    yield carto_rest
    # At teardown caplog.text only holds the teardown's records: read the test's own.
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = "\n".join(formatter.format(r) for r in records)
    assert "/carto-credentials/" in logged  # the access log of this test's requests was captured
    for key in carto_rest.sent_keys | {IMPORTED_KEY}:
        if len(key) >= 8:  # "k" or "x" would match any text
            assert key not in logged, key


def alice_login(carto_base, **extra):
    body = {"base_url": carto_base + "user/alice/", "api_key": ALICE_KEY, "allow_non_https": True}
    body.update(extra)
    return body


def carol(**extra):
    return dict({"username": "carol", "api_key": CAROL_KEY, "validate": False}, **extra)


def stored(path):
    with open(path) as f:
        return json.load(f)


def assert_error(answer, status, code):
    assert answer.status == status, answer
    body = answer.json
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


# --- routing, authentication, the log ----------------------------------------------------


async def test_routes_live_under_the_base_url_prefix(api, http_server_client, jp_auth_header):
    answer = await api.get("accounts")
    assert answer.status == 200
    assert answer.json == {"accounts": [], "default_account": None}
    assert answer.headers["Cache-Control"] == "no-store"
    root = await http_server_client.fetch(
        "/carto-credentials/accounts", headers=jp_auth_header, raise_error=False
    )
    assert root.code == 404


async def test_requests_without_the_token_are_refused(api, carto_store_path):
    no_token = {"Authorization": ""}
    assert (await api.get("accounts", headers=no_token)).status == 403
    assert (await api.post("accounts", carol(), headers=no_token)).status == 403
    assert (await api.get("accounts/acc-0000000000000000/key", headers=no_token)).status == 403
    assert not os.path.exists(carto_store_path)


async def test_every_route_asks_the_authorizer_for_the_carto_credentials_resource(
    api, jp_serverapp, monkeypatch
):
    asked = []

    def is_authorized(handler, user, action, resource):
        asked.append((handler.request.method, action, resource))
        return action == "read"

    monkeypatch.setattr(jp_serverapp.authorizer, "is_authorized", is_authorized)
    assert (await api.get("accounts")).status == 200
    assert (await api.post("accounts", carol())).status == 403
    assert (await api.put("default", {"account_id": None})).status == 403
    assert (await api.delete("grants", params={"path": "a.ipynb"})).status == 403
    assert asked == [
        ("GET", "read", "carto_credentials"),
        ("POST", "write", "carto_credentials"),
        ("PUT", "write", "carto_credentials"),
        ("DELETE", "write", "carto_credentials"),
    ]


async def test_the_log_is_captured_and_names_accounts_not_keys(api, caplog, carto_api):
    # Shows that the key checks of the `api` fixture look at the real log, access log included.
    _, carto = carto_api
    account = (await api.post("accounts", alice_login(carto))).json
    assert (await api.patch("accounts/" + account["id"], {"api_key": BOB_KEY})).status == 200
    assert (await api.get("accounts/%s/key" % account["id"])).json == {"api_key": BOB_KEY}
    await api.post("validate", alice_login(carto, api_key="wrong-key-0005"))
    assert "carto-credentials: added account %s (user alice)" % account["id"] in caplog.text
    assert "carto-credentials: key of account %s handed" % account["id"] in caplog.text
    assert "validated user alice at %suser/alice/: bad_key" % carto in caplog.text
    assert "GET /user/alice/carto-credentials/accounts/%s/key" % account["id"] in caplog.text


# --- accounts ----------------------------------------------------------------------------


async def test_account_lifecycle(api, carto_api):
    _, carto = carto_api
    answer = await api.post("accounts", alice_login(carto, label="  Alice at work "))
    assert answer.status == 201, answer
    account = answer.json
    assert set(account) == ACCOUNT_FIELDS
    assert account["id"].startswith("acc-")
    assert (account["label"], account["username"], account["public"]) == (
        "Alice at work",
        "alice",
        False,
    )
    assert account["base_url"] == carto + "user/alice/"
    assert account["user_info"]["username"] == "alice"
    assert ALICE_KEY not in answer.text

    listing = (await api.get("accounts")).json
    assert listing == {"accounts": [account], "default_account": account["id"]}

    key = await api.get("accounts/%s/key" % account["id"])
    assert key.json == {"api_key": ALICE_KEY}
    assert key.headers["Cache-Control"] == "no-store"

    answer = await api.patch("accounts/" + account["id"], {"label": "Renamed"})
    assert answer.status == 200 and answer.json["label"] == "Renamed"
    answer = await api.patch("accounts/" + account["id"], {"api_key": BOB_KEY})
    assert answer.status == 200 and BOB_KEY not in answer.text
    assert answer.json["user_info"] is None
    assert (await api.get("accounts/%s/key" % account["id"])).json == {"api_key": BOB_KEY}

    assert (await api.delete("accounts/" + account["id"])).status == 204
    assert (await api.get("accounts")).json == {"accounts": [], "default_account": None}
    assert_error(await api.get("accounts/%s/key" % account["id"]), 404, "account_not_found")
    assert_error(await api.delete("accounts/" + account["id"]), 404, "account_not_found")


async def test_public_on_prem_account(api, carto_api):
    _, carto = carto_api
    answer = await api.post(
        "accounts",
        {"base_url": carto + "user/bob", "api_key": "default_public", "allow_non_https": True},
    )
    assert answer.status == 201, answer
    account = answer.json
    assert account["public"] is True and account["label"] == "bob (public)"
    assert account["base_url"] == carto + "user/bob/" and account["username"] == "bob"


async def test_login_sends_the_key_in_the_authorization_header(api, carto_api):
    server, carto = carto_api
    assert (await api.post("accounts", alice_login(carto))).status == 201
    (me,) = [r for r in server.requests if r["path"] == "/user/alice/api/v3/me"][-1:]
    assert me["key_in"] == "header"


async def test_account_without_validation_makes_no_request(api, carto_api):
    server, _ = carto_api
    before = len(server.requests)
    answer = await api.post("accounts", carol())
    assert answer.status == 201
    account = answer.json
    assert (account["base_url"], account["user_info"]) == ("https://carol.carto.com/", None)
    assert len(server.requests) == before


@pytest.mark.parametrize(
    "change, status, code",
    [
        ({"api_key": "wrong-key-0005"}, 400, "bad_key"),
        ({"base_url": "{carto}user/nobody/"}, 400, "unknown_user"),
        ({"base_url": "{carto}user/teapot/"}, 502, "not_carto"),
        ({"base_url": "{carto}user/broken/"}, 502, "server_error"),
        ({"base_url": "{carto}user/slowpoke/"}, 504, "timeout"),
        ({"allow_non_https": False}, 400, "not_https"),
        ({"base_url": "https://x.example/?a=1"}, 400, "bad_url"),
        ({"api_key": "has space in it"}, 400, "bad_key_format"),
        ({"username": "-carol"}, 400, "bad_username"),
    ],
)
async def test_failed_login_is_an_error_and_stores_nothing(
    api, carto_api, carto_store_path, change, status, code
):
    _, carto = carto_api
    body = alice_login(carto)
    body.update({k: v.format(carto=carto) if isinstance(v, str) else v for k, v in change.items()})
    message = assert_error(await api.post("accounts", body), status, code)
    assert body["api_key"] not in message
    assert not os.path.exists(carto_store_path)


@pytest.mark.parametrize(
    "body, field, says",
    [
        (carol(color="red"), "'color'", "Unknown field 'color'; expected only"),
        ({"username": "carol", "validate": False}, "'api_key'", "is required"),
        (carol(username=7), "'username'", "must be a string"),
        (carol(validate="no"), "'validate'", "must be true or false"),
        (carol(validate=0), "'validate'", "must be true or false"),
        (carol(allow_non_https=None), "'allow_non_https'", "must not be null"),
        (carol(label=None), "'label'", "must not be null"),
        (carol(label="x" * 101), "'label'", "1 to 100 characters"),
        (carol(label="   "), "'label'", "1 to 100 characters"),
        (carol(label="a\nb"), "'label'", "without control characters"),
        (carol(label="ab\n"), "'label'", "without control characters"),
        (carol(api_key=["k"]), "'api_key'", "must be a string"),
        ({"api_key": CAROL_KEY, "validate": False}, "username or a base URL", "Give a CARTO"),
        (carol(**{"carol-key-0003 ": 1}), "unexpected name", "Unknown field"),
        (["carol"], "JSON object", "must be a JSON object"),
        (b"{not json", "JSON", "not valid JSON"),
        (b'{"label": "' + b"x" * 70000 + b'"}', "65536 bytes", "larger than"),
    ],
)
async def test_bad_bodies_are_refused_and_change_nothing(api, carto_store_path, body, field, says):
    status = 413 if isinstance(body, bytes) and len(body) > 65536 else 400
    answer = await api.post("accounts", body)
    message = assert_error(answer, status, "bad_request")
    assert field in message and says in message, message
    assert CAROL_KEY not in message
    assert not os.path.exists(carto_store_path)
    # The field a refusal is about, for the panel to mark its control; none for an unknown one.
    named = field.strip("'") if field.startswith("'") and "Unknown" not in says else None
    assert answer.json["error"].get("field") == named


async def test_label_of_exactly_100_characters_after_trimming_is_kept(api):
    answer = await api.post("accounts", carol(label=" " + "x" * 100 + "\u3000"))
    assert answer.status == 201 and answer.json["label"] == "x" * 100


async def test_patch_refuses_unknown_fields_and_empty_bodies(api):
    account = (await api.post("accounts", carol())).json
    url = "accounts/" + account["id"]
    message = assert_error(await api.patch(url, {"username": "eve"}), 400, "bad_request")
    assert "'username'" in message and "api_key, label" in message
    message = assert_error(await api.patch(url, {}), 400, "bad_request")
    assert message == "Give a new 'label' or 'api_key'."
    assert_error(await api.patch(url, {"api_key": ""}), 400, "bad_key_format")
    assert_error(await api.patch(url, {"label": ""}), 400, "bad_request")
    assert_error(
        await api.patch("accounts/acc-0000", {"label": "x"}),
        404,
        "account_not_found",
    )
    assert (await api.get("accounts")).json["accounts"] == [account]


# --- default -----------------------------------------------------------------------------


async def test_default_account(api, carto_store_path):
    first = (await api.post("accounts", carol())).json
    second = (
        await api.post("accounts", {"username": "dave", "api_key": DAVE_KEY, "validate": False})
    ).json
    assert (await api.get("accounts")).json["default_account"] == first["id"]
    answer = await api.put("default", {"account_id": second["id"]})
    assert answer.json == {"default_account": second["id"]}
    assert stored(carto_store_path)["default_account"] == second["id"]
    assert (await api.put("default", {"account_id": None})).json == {"default_account": None}
    assert_error(await api.put("default", {"account_id": "acc-nope"}), 404, "account_not_found")
    message = assert_error(await api.put("default", {}), 400, "bad_request")
    assert message == "The field 'account_id' is required."
    message = assert_error(await api.put("default", {"account_id": 3}), 400, "bad_request")
    assert "'account_id' must be an account id, or null" in message
    assert stored(carto_store_path)["default_account"] is None


# --- validate ----------------------------------------------------------------------------


async def test_validate_ok(api, carto_api, carto_store_path):
    _, carto = carto_api
    answer = await api.post("validate", alice_login(carto))
    assert answer.status == 200
    body = answer.json
    assert body["ok"] is True and body["base_url"] == carto + "user/alice/"
    assert body["user_info"]["username"] == "alice"
    assert not os.path.exists(carto_store_path)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"base_url": "{carto}user/alice/", "api_key": "wrong-key-0005"}, "bad_key"),
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
        ({"username": "al ice", "api_key": ALICE_KEY}, "bad_username"),
        ({"username": "alice", "api_key": "two words"}, "bad_key_format"),
    ],
)
async def test_validate_failure_classes(api, carto_api, body, code):
    from conftest import free_port

    _, carto = carto_api
    body = {
        k: v.format(carto=carto, closed=free_port()) if isinstance(v, str) else v
        for k, v in body.items()
    }
    body.setdefault("allow_non_https", True)
    answer = await api.post("validate", body)
    assert answer.status == 200, answer
    assert answer.json["ok"] is False and answer.json["code"] == code, answer
    assert answer.json["message"] and body["api_key"] not in answer.json["message"]


async def test_validate_needs_a_key_and_no_label(api):
    message = assert_error(await api.post("validate", {"username": "alice"}), 400, "bad_request")
    assert message == "The field 'api_key' is required."
    message = assert_error(
        await api.post("validate", {"username": "alice", "api_key": CAROL_KEY, "label": "x"}),
        400,
        "bad_request",
    )
    assert "Unknown field 'label'" in message


# --- grants ------------------------------------------------------------------------------


async def test_grants(api):
    answer = await api.put("grants", {"path": "work/map.ipynb", "decision": "allow"})
    assert answer.json == {"path": "work/map.ipynb", "decision": "allow"}
    await api.put("grants", {"path": "other.ipynb", "decision": "deny"})
    assert (await api.get("grants")).json == {
        "grants": {"work/map.ipynb": "allow", "other.ipynb": "deny"}
    }
    answer = await api.delete("grants", params={"path": "work/map.ipynb"})
    assert answer.status == 204
    assert (await api.get("grants")).json == {"grants": {"other.ipynb": "deny"}}
    assert (await api.delete("grants", params={"path": "never.ipynb"})).status == 204


@pytest.mark.parametrize(
    "body, says",
    [
        ({"path": "a.ipynb", "decision": "maybe"}, "'decision' must be 'allow' or 'deny'"),
        ({"path": "/etc/a.ipynb", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "../a.ipynb", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "a/../../b.ipynb", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "a\tb.ipynb", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "a.ipynb\n", "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "a" * 4097, "decision": "allow"}, "'path' must be a notebook path"),
        ({"path": "a.ipynb"}, "'decision' is required"),
        ({"path": "a.ipynb", "decision": None}, "'decision' must not be null"),
        ({"path": "a.ipynb", "decision": "allow", "extra": 1}, "Unknown field 'extra'"),
    ],
)
async def test_bad_grants_are_refused(api, body, says):
    message = assert_error(await api.put("grants", body), 400, "bad_request")
    assert says in message
    assert (await api.get("grants")).json == {"grants": {}}


async def test_grant_paths_with_dots_that_are_not_parent_segments_are_fine(api):
    for path in ("a..b.ipynb", "..a/b.ipynb", "dir.../x.ipynb"):
        assert (await api.put("grants", {"path": path, "decision": "allow"})).status == 200


async def test_delete_grant_needs_a_valid_path(api):
    assert_error(await api.delete("grants"), 400, "bad_request")
    message = assert_error(
        await api.delete("grants", params={"path": "/abs.ipynb"}), 400, "bad_request"
    )
    assert "'path' must be a notebook path" in message


# --- import of CARTOframes' creds.json ---------------------------------------------------


def write_creds(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))


async def test_import_default_creds_json(api):
    creds_path = cartoframes_creds_path()
    assert (await api.get("import")).json == {
        "available": False,
        "path": creds_path,
        "username": None,
        "base_url": None,
    }
    # Exactly what cartoframes' Credentials('fake_user', key).save() writes.
    write_creds(
        creds_path,
        '{"username": "fake_user", "api_key": "%s", "base_url": '
        '"https://fake_user.carto.com", "allow_non_secure": false}' % IMPORTED_KEY,
    )
    answer = await api.get("import")
    assert answer.json == {
        "available": True,
        "path": creds_path,
        "username": "fake_user",
        "base_url": "https://fake_user.carto.com/",
    }
    answer = await api.post("import", {})
    assert answer.status == 201 and IMPORTED_KEY not in answer.text
    account = answer.json
    assert set(account) == ACCOUNT_FIELDS
    assert (account["username"], account["label"]) == ("fake_user", "fake_user (CARTOframes)")
    assert (await api.get("accounts/%s/key" % account["id"])).json == {"api_key": IMPORTED_KEY}


async def test_import_explicit_path_on_prem_http(api, tmp_path):
    path = str(tmp_path / "team.JSON")
    write_creds(
        path,
        {
            "username": None,
            "api_key": IMPORTED_KEY,
            "base_url": "http://onprem.example/user/team",
            "allow_non_secure": True,
        },
    )
    account = (await api.post("import", {"path": path})).json
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
async def test_import_errors(api, tmp_path, carto_store_path, content, status, code):
    path = str(tmp_path / "creds.json")
    if content is not None:
        write_creds(path, content)
    message = assert_error(await api.post("import", {"path": path}), status, code)
    assert IMPORTED_KEY not in message
    assert not os.path.exists(carto_store_path)


@pytest.mark.parametrize("path", ["/etc/passwd", "", "creds.json\n", 7])
async def test_import_path_must_be_a_json_file(api, path):
    message = assert_error(await api.post("import", {"path": path}), 400, "bad_request")
    assert "'path'" in message


# --- the store file ----------------------------------------------------------------------


async def test_store_lives_in_the_jupyter_data_dir_and_is_private(api, carto_store_path):
    await api.post("accounts", carol())
    assert stored(carto_store_path)["accounts"][0]["api_key"] == CAROL_KEY
    assert stat.S_IMODE(os.stat(carto_store_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(carto_store_path)).st_mode) == 0o700


async def test_corrupt_store_is_reported_and_kept(api, carto_store_path, caplog):
    os.makedirs(os.path.dirname(carto_store_path), exist_ok=True)
    with open(carto_store_path, "w") as f:
        f.write('{"version": 1, "accounts": [')
    message = assert_error(await api.get("accounts"), 500, "store_corrupt")
    (kept,) = glob.glob(carto_store_path + ".corrupt-*")
    assert kept in message
    assert open(kept).read() == '{"version": 1, "accounts": ['
    assert (await api.get("accounts")).json == {"accounts": [], "default_account": None}
    assert "account store %s is unreadable" % carto_store_path in caplog.text


async def test_parallel_logins_of_one_key_store_it_once(api, carto_api):
    # Twenty tabs logging in with the same key at once: every request awaits CARTO, so handlers
    # interleave; the store's lock decides which one lands and tells the others it is there.
    _, carto = carto_api
    answers = await asyncio.gather(
        *(api.post("accounts", alice_login(carto, label="tab %d" % i)) for i in range(20))
    )
    landed = [a for a in answers if a.status == 201]
    assert len(landed) == 1, [a.status for a in answers]
    for answer in answers:
        if answer.status != 201:
            message = assert_error(answer, 409, "duplicate_account")
            assert "already in the CARTO panel, as “%s”" % landed[0].json["label"] in message
            assert ALICE_KEY not in message
    accounts = (await api.get("accounts")).json["accounts"]
    assert [a["label"] for a in accounts] == [landed[0].json["label"]]


async def test_parallel_logins_of_different_keys_all_land(api, carto_api):
    # Twenty keys of one user (say, scoped ones) are twenty logins, however they interleave.
    _, carto = carto_api
    logins = [
        alice_login(carto, label="key %d" % i, api_key="%s-%d" % (ALICE_KEY, i), validate=False)
        for i in range(20)
    ]
    answers = await asyncio.gather(*(api.post("accounts", login) for login in logins))
    assert [a.status for a in answers] == [201] * 20, [a for a in answers if a.status != 201]
    labels = sorted(a["label"] for a in (await api.get("accounts")).json["accounts"])
    assert labels == sorted(login["label"] for login in logins)


async def test_unexpected_errors_are_internal_error_with_details_only_in_the_log(
    api, jp_serverapp, caplog, monkeypatch
):
    from carto_credentials.server import store

    def broken(self, *args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.AccountStore, "grants", broken)
    message = assert_error(await api.get("grants"), 500, "internal_error")
    assert "disk on fire" not in message
    assert "disk on fire" in caplog.text


async def test_kernel_bootstrap_names_this_servers_package(api):
    from carto_credentials.server.bootstrap import bootstrap_code

    answer = await api.get("kernel-bootstrap")
    assert answer.status == 200
    assert answer.json == {"code": bootstrap_code()}


# --- a real server process: everything it writes, not only log records ------------------


def test_real_server_process_output_never_contains_a_key(jupyter_server, carto_api, tmp_path):
    """What the in-process checks cannot see: the server's real stderr (its log formatter, the
    access log, warnings or thread tracebacks printed outside logging), as a user's terminal or
    a JupyterHub log collector gets it."""
    js = jupyter_server
    _, carto = carto_api

    def post(path, body):
        return js.http.post(js.api(path), data=json.dumps(body))

    account = post("accounts", alice_login(carto)).json()
    assert post("accounts", alice_login(carto, api_key="wrong-key-0005")).status_code == 400
    assert (
        post("validate", alice_login(carto, base_url=carto + "user/slowpoke/")).json()["code"]
        == "timeout"
    )
    assert js.http.patch(
        js.api("accounts/" + account["id"]), data=json.dumps({"api_key": BOB_KEY})
    ).ok
    assert js.http.get(js.api("accounts/%s/key" % account["id"])).json() == {"api_key": BOB_KEY}
    path = str(tmp_path / "creds.json")
    write_creds(path, {"username": "fake_user", "api_key": IMPORTED_KEY})
    assert post("import", {"path": path}).status_code == 201
    assert post("accounts", carol(label="a\u0007b")).status_code == 400
    assert post("accounts", {"username": "x", "api_key": "ALICE key 0001"}).status_code == 400

    log = js.log()
    assert "carto-credentials: added account %s" % account["id"] in log  # captured at all
    assert "/user/alice/carto-credentials/accounts" in log  # debug access log included
    for key in (ALICE_KEY, BOB_KEY, IMPORTED_KEY, CAROL_KEY, "wrong-key-0005", "ALICE key 0001"):
        assert key not in log, key
