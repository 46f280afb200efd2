"""CARTO 3 logins through the REST API, end to end against the local CARTO 3 API (tools/carto_api).

Both browser flows (the redirect to this server's callback, and pasting the code CARTO shows), M2M
clients by credentials and by file, token renewal across expiry, OAuth expiry and logging in again.
The browser's part (CARTO's login page) is played with requests; the browser tests do it in
Chromium. After each test the server log is searched for every token, secret and code.
"""

import json
import logging
import os
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import carto_server_config, free_port

from tools.carto_api import carto3 as local_carto3
from tools.carto_api import data, start_server

ALICE_M2M = {
    "client_id": local_carto3.ALICE_M2M_CLIENT_ID,
    "client_secret": local_carto3.M2M_CLIENTS[local_carto3.ALICE_M2M_CLIENT_ID]["secret"],
}
# Every secret a test saw: none may be in the server's log.
SEEN_SECRETS = []


@pytest.fixture(scope="module")
def carto3_api():
    """A local CARTO API whose M2M tokens live 2 s (so renewal is seen) and OAuth ones a day."""
    server, base_url = start_server(slow_seconds=2.0, m2m_token_lifetime=2)
    try:
        yield base_url.rstrip("/")
    finally:
        server.stop()


@pytest.fixture
def jp_base_url():
    return "/user/alice/"


@pytest.fixture
def jp_server_config(carto3_api):
    return carto_server_config(
        oauth_url=carto3_api,
        accounts_url=carto3_api,
        oauth_public_client_id=local_carto3.PUBLIC_CLIENT_ID,
        oauth_public_redirect_uri=carto3_api + local_carto3.PUBLIC_REDIRECT_PATH,
        oauth_client_id=local_carto3.JUPYTERLAB_CLIENT_ID,
        validate_timeout=5.0,
    )


@pytest.fixture(autouse=True)
def no_secret_in_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    SEEN_SECRETS.clear()
    SEEN_SECRETS.append(ALICE_M2M["client_secret"])
    yield
    logged = "\n".join(r.getMessage() for r in caplog.get_records("call"))
    for secret in SEEN_SECRETS:
        assert secret not in logged


def log_in_at_carto(authorize_url, username="alice", action="login"):
    """What the user does on CARTO's login page; returns where CARTO sends the browser."""
    parts = urlsplit(authorize_url)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    form.update(username=username, password=local_carto3.PASSWORDS[username], action=action)
    answer = requests.post(
        "%s://%s%s" % (parts.scheme, parts.netloc, parts.path),
        data=form,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    SEEN_SECRETS.extend(query.get("code", []))
    return location, query


def sql_as(carto3_api, token):
    return requests.get(
        carto3_api + "/v3/sql/carto_dw/query",
        params={"q": "select 1 as one"},
        headers={"Authorization": "Bearer %s" % token},
        timeout=10,
    )


async def token_of(carto_rest, account_id):
    answer = await carto_rest.get("accounts/%s/key" % account_id)
    assert answer.status == 200, answer
    SEEN_SECRETS.append(answer.json["access_token"])
    return answer.json


async def test_paste_the_code_login(carto_rest, carto3_api, carto_store_path):
    started = await carto_rest.post("oauth/start", {"flow": "paste"})
    assert started.status == 200, started
    url = started.json["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [local_carto3.PUBLIC_CLIENT_ID]
    assert query["redirect_uri"] == [carto3_api + local_carto3.PUBLIC_REDIRECT_PATH]
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [started.json["state"]]

    location, back = log_in_at_carto(url)
    assert location.startswith(carto3_api + local_carto3.PUBLIC_REDIRECT_PATH)
    # The user pastes the whole address of CARTO's code page; the code alone works too.
    answer = await carto_rest.post(
        "oauth/exchange", {"state": started.json["state"], "code": location}
    )
    assert answer.status == 201, answer
    account = answer.json
    assert account["kind"] == "oauth" and account["status"] == "ok"
    # Discovered as carto-auth does: /accounts → tenant → config.yaml → apis.baseUrl.
    assert account["api_base_url"] == carto3_api
    assert account["label"] == data.USERS["alice"]["email"]
    assert account["expires_at"] > time.time() + 3600
    token = await token_of(carto_rest, account["id"])
    assert sql_as(carto3_api, token["access_token"]).status_code == 200

    # One use: the same state (or code) again is refused, and changes nothing.
    again = await carto_rest.post(
        "oauth/exchange", {"state": started.json["state"], "code": back["code"][0]}
    )
    assert (again.status, again.json["error"]["code"]) == (400, "oauth_state_unknown")
    # The token rests in the store (0600), never in what the REST API lists.
    listed = await carto_rest.get("accounts")
    assert token["access_token"] not in json.dumps(listed.json)
    assert oct(os.stat(carto_store_path).st_mode & 0o777) == "0o600"


async def test_a_mistyped_code_is_bad_code_and_the_right_one_still_works(carto_rest):
    started = await carto_rest.post("oauth/start", {"flow": "paste"})
    _, back = log_in_at_carto(started.json["authorize_url"])
    for typo in ("not-a-code-carto-issued", back["code"][0][:-1]):
        answer = await carto_rest.post(
            "oauth/exchange", {"state": started.json["state"], "code": typo}
        )
        assert (answer.status, answer.json["error"]["code"]) == (400, "bad_code")
        assert "paste it again" in answer.json["error"]["message"]
    answer = await carto_rest.post(
        "oauth/exchange", {"state": started.json["state"], "code": back["code"][0]}
    )
    assert answer.status == 201, answer


async def test_redirect_login_completes_on_the_server(carto_rest, carto3_api):
    started = await carto_rest.post("oauth/start", {"flow": "redirect", "org": "org-demo"})
    assert started.status == 200, started
    state = started.json["state"]
    query = parse_qs(urlsplit(started.json["authorize_url"]).query)
    assert query["client_id"] == [local_carto3.JUPYTERLAB_CLIENT_ID]
    assert query["organization"] == ["org-demo"]
    assert query["redirect_uri"][0].endswith("/user/alice/carto-credentials/oauth/callback")
    pending = await carto_rest.get("oauth/logins/%s" % state)
    assert pending.json == {"status": "pending"}

    location, _ = log_in_at_carto(started.json["authorize_url"])
    assert location.startswith(query["redirect_uri"][0] + "?")
    page = await carto_rest.raw("GET", "oauth/callback?" + urlsplit(location).query)
    assert page.status == 200
    assert "Logged in to CARTO" in page.text and "window.close()" in page.text

    done = await carto_rest.get("oauth/logins/%s" % state)
    assert done.json["status"] == "done"
    account = done.json["account"]
    assert account["kind"] == "oauth" and account["status"] == "ok"
    token = await token_of(carto_rest, account["id"])
    assert sql_as(carto3_api, token["access_token"]).status_code == 200
    # The page can be reloaded: the code is not used twice.
    reloaded = await carto_rest.raw("GET", "oauth/callback?" + urlsplit(location).query)
    assert reloaded.status == 400 and "start the login again" in reloaded.text


async def test_redirect_login_the_user_cancels(carto_rest):
    started = await carto_rest.post("oauth/start", {"flow": "redirect"})
    location, back = log_in_at_carto(started.json["authorize_url"], action="cancel")
    assert back["error"] == ["access_denied"]
    page = await carto_rest.raw("GET", "oauth/callback?" + urlsplit(location).query)
    assert page.status == 400 and "access_denied" in page.text
    failed = await carto_rest.get("oauth/logins/%s" % started.json["state"])
    assert failed.json["status"] == "failed"
    assert failed.json["error"]["code"] == "oauth_denied"
    assert (await carto_rest.get("accounts")).json["accounts"] == []


async def test_redirect_needs_a_configured_client(carto_rest, jp_serverapp):
    carto_settings(jp_serverapp).oauth_client_id = ""
    answer = await carto_rest.post("oauth/start", {"flow": "redirect"})
    assert (answer.status, answer.json["error"]["code"]) == (400, "oauth_not_configured")
    assert "paste the code" in answer.json["error"]["message"]


async def test_m2m_client_renewed_across_expiry(carto_rest, carto3_api):
    answer = await carto_rest.post(
        "accounts",
        {
            "kind": "m2m",
            "credentials": dict(ALICE_M2M, api_base_url=carto3_api),
            "allow_non_https": True,
        },
    )
    assert answer.status == 201, answer
    account = answer.json
    assert (account["kind"], account["api_base_url"], account["status"]) == (
        "m2m",
        carto3_api,
        "ok",
    )
    first = await token_of(carto_rest, account["id"])
    assert sql_as(carto3_api, first["access_token"]).status_code == 200
    # The local API's M2M tokens live 2 s, under the 300 s renewal margin: every read renews.
    time.sleep(2.1)
    assert sql_as(carto3_api, first["access_token"]).status_code == 401  # expired at CARTO
    second = await token_of(carto_rest, account["id"])
    assert second["access_token"] != first["access_token"]
    assert second["expires_at"] > first["expires_at"]
    assert sql_as(carto3_api, second["access_token"]).status_code == 200


async def test_m2m_client_from_a_file_on_the_server(carto_rest, carto3_api, tmp_path):
    path = tmp_path / "m2m.json"
    path.write_text(json.dumps(dict(ALICE_M2M, api_base_url=carto3_api)))
    answer = await carto_rest.post(
        "accounts",
        {"kind": "m2m", "path": str(path), "label": "alice bot", "allow_non_https": True},
    )
    assert answer.status == 201, answer
    assert answer.json["label"] == "alice bot"


async def test_the_same_m2m_client_uploaded_twice_is_one_account(carto_rest, carto3_api, tmp_path):
    upload = {
        "kind": "m2m",
        "credentials": dict(ALICE_M2M, api_base_url=carto3_api),
        "allow_non_https": True,
    }
    assert (await carto_rest.post("accounts", upload)).status == 201
    path = tmp_path / "m2m.json"
    path.write_text(json.dumps(dict(ALICE_M2M, api_base_url=carto3_api)))
    for again in (upload, {"kind": "m2m", "path": str(path), "allow_non_https": True}):
        answer = await carto_rest.post("accounts", again)
        assert (answer.status, answer.json["error"]["code"]) == (409, "duplicate_account")
        assert (
            "is already in the CARTO panel, as “%s (M2M)”" % ALICE_M2M["client_id"]
            in (answer.json["error"]["message"])
        )
        assert ALICE_M2M["client_secret"] not in answer.json["error"]["message"]
    assert len((await carto_rest.get("accounts")).json["accounts"]) == 1


@pytest.mark.parametrize(
    "change, code",
    [
        ({"client_secret": "wrong-secret"}, "bad_client"),
        ({"api_base_url": None}, "m2m_file_invalid"),
        ({"client_id": ""}, "m2m_file_invalid"),
    ],
)
async def test_m2m_refusals_store_nothing(carto_rest, carto3_api, carto_store_path, change, code):
    credentials = {**ALICE_M2M, "api_base_url": carto3_api, **change}
    answer = await carto_rest.post(
        "accounts", {"kind": "m2m", "credentials": credentials, "allow_non_https": True}
    )
    assert (answer.status, answer.json["error"]["code"]) == (400, code)
    assert not os.path.exists(carto_store_path)


async def test_expired_oauth_login_needs_a_new_login(carto_rest, carto3_api, jp_serverapp):
    # A login whose token CARTO gave for 1 s: another local API, the same store.
    server, short_api = start_server(slow_seconds=2.0, oauth_token_lifetime=1)
    try:
        short_api = short_api.rstrip("/")
        point_at(jp_serverapp, short_api)
        started = await carto_rest.post("oauth/start", {"flow": "paste"})
        location, back = log_in_at_carto(started.json["authorize_url"])
        answer = await carto_rest.post(
            "oauth/exchange", {"state": started.json["state"], "code": back["code"][0]}
        )
        assert answer.status == 201, answer
        account_id = answer.json["id"]
        time.sleep(1.2)
        listed = (await carto_rest.get("accounts")).json["accounts"]
        assert [a["status"] for a in listed if a["id"] == account_id] == ["login_required"]
        key = await carto_rest.get("accounts/%s/key" % account_id)
        assert (key.status, key.json["error"]["code"]) == (409, "login_required")
        assert "log in again" in key.json["error"]["message"]

        # Logging in again gives the same account a new token.
        point_at(jp_serverapp, carto3_api)
        again = await carto_rest.post("oauth/start", {"flow": "paste", "account_id": account_id})
        _, back = log_in_at_carto(again.json["authorize_url"])
        answer = await carto_rest.post(
            "oauth/exchange", {"state": again.json["state"], "code": back["code"][0]}
        )
        assert (answer.status, answer.json["id"], answer.json["status"]) == (200, account_id, "ok")
        assert sql_as(carto3_api, (await token_of(carto_rest, account_id))["access_token"]).ok
    finally:
        server.stop()


def point_at(serverapp, api):
    """Point the running extension's CARTO 3 settings at ``api`` (as an administrator would)."""
    settings = carto_settings(serverapp)
    settings.oauth_url = api
    settings.accounts_url = api
    settings.oauth_public_redirect_uri = api + local_carto3.PUBLIC_REDIRECT_PATH


def carto_settings(serverapp):
    """The ``CartoCredentials`` configurable the running extension's handlers use."""
    from carto_credentials.server.handlers import CredentialsHandler

    for app_rule in serverapp.web_app.default_router.rules:
        for rule in getattr(app_rule.target, "rules", []):
            target = rule.target
            if isinstance(target, type) and issubclass(target, CredentialsHandler):
                return rule.target_kwargs["settings"]
    raise AssertionError("the extension's handlers are not registered")


@pytest.mark.parametrize(
    "api_base_url, says",
    [
        # Nothing listens there (a port just freed): CARTO's auth service gave the client a token,
        # but every kernel call to this API would fail.
        ("http://127.0.0.1:%d" % free_port(), "connection refused"),
        # A metadata address is never called, with or without a token.
        ("http://169.254.169.254", "169.254.169.254"),
    ],
)
async def test_an_m2m_client_whose_api_base_url_does_not_answer_is_refused(
    carto_rest, carto3_api, carto_store_path, api_base_url, says
):
    credentials = {**ALICE_M2M, "api_base_url": api_base_url}
    answer = await carto_rest.post(
        "accounts", {"kind": "m2m", "credentials": credentials, "allow_non_https": True}
    )
    assert (answer.status, answer.json["error"]["code"]) == (400, "m2m_file_invalid")
    message = answer.json["error"]["message"]
    assert message.startswith(
        "The M2M credentials' api_base_url %s does not answer: " % api_base_url
    )
    assert says in message and "add the client again" in message
    assert ALICE_M2M["client_secret"] not in message
    assert not os.path.exists(carto_store_path)


async def paste_login(carto_rest, username, options=None):
    """A whole paste-the-code login of ``username`` at the local CARTO; the exchange's answer."""
    started = await carto_rest.post("oauth/start", {"flow": "paste", **(options or {})})
    assert started.status == 200, started
    location, _ = log_in_at_carto(started.json["authorize_url"], username)
    return await carto_rest.post(
        "oauth/exchange", {"state": started.json["state"], "code": location}
    )


async def test_logging_in_again_as_the_same_carto_user_renews_that_account(carto_rest, carto3_api):
    first = await paste_login(carto_rest, "alice")
    assert first.status == 201, first
    token = (await token_of(carto_rest, first.json["id"]))["access_token"]

    # The same user again (a new browser, a forgotten login): the stored account, a new token.
    again = await paste_login(carto_rest, "alice")
    assert again.status == 200, again
    assert again.json["id"] == first.json["id"]
    renewed = (await token_of(carto_rest, first.json["id"]))["access_token"]
    assert renewed != token and sql_as(carto3_api, renewed).status_code == 200

    # Another CARTO user is another account.
    bob = await paste_login(carto_rest, "bob")
    assert bob.status == 201 and bob.json["id"] != first.json["id"]
    listed = (await carto_rest.get("accounts")).json["accounts"]
    assert sorted(a["label"] for a in listed if a["kind"] == "oauth") == sorted(
        [data.USERS["alice"]["email"], data.USERS["bob"]["email"]]
    )


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("oauth/start", {"flow": "paste", "org": "acme corp"}, "org"),
        ("oauth/start", {"flow": "paste", "api_base_url": 7}, "api_base_url"),
        ("accounts", {"kind": "m2m", "path": "/etc/shadow"}, "path"),
        ("accounts", {"kind": "m2m", "path": "/srv/m2m.json", "label": "a\nb"}, "label"),
    ],
)
async def test_refused_carto3_fields_are_named_for_the_panel(carto_rest, route, body, field):
    answer = await carto_rest.post(route, body)
    assert answer.status == 400, answer
    assert answer.json["error"]["code"] == "bad_request"
    assert answer.json["error"]["field"] == field
    assert "'%s'" % field in answer.json["error"]["message"]


async def test_logging_an_account_in_again_as_another_carto_user_changes_nothing(
    carto_rest, carto3_api
):
    alice = await paste_login(carto_rest, "alice")
    assert alice.status == 201, alice
    token = (await token_of(carto_rest, alice.json["id"]))["access_token"]

    # "Log in again" on alice's login, but CARTO's window was signed in as bob.
    again = await carto_rest.post("oauth/start", {"flow": "paste", "account_id": alice.json["id"]})
    location, _ = log_in_at_carto(again.json["authorize_url"], "bob")
    answer = await carto_rest.post(
        "oauth/exchange", {"state": again.json["state"], "code": location}
    )
    assert (answer.status, answer.json["error"]["code"]) == (400, "oauth_other_user")
    message = answer.json["error"]["message"]
    assert message.startswith(
        "CARTO logged you in as %s, not as %s" % (data.USERS["bob"]["email"], alice.json["label"])
    )
    # alice's login keeps alice's token, and bob is not added behind the user's back.
    assert (await token_of(carto_rest, alice.json["id"]))["access_token"] == token
    listed = (await carto_rest.get("accounts")).json["accounts"]
    assert [a["id"] for a in listed] == [alice.json["id"]]
