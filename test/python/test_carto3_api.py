"""The local API's CARTO 3 part (tools/carto_api/carto3.py) answers as carto-auth 0.2.0 expects."""

import base64
import hashlib
import html
import re
import secrets
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import yaml
from _carto_helpers import FakeClock
from conftest import REPO_ROOT

from tools.carto_api import carto3, start_server

PUBLIC = carto3.PUBLIC_CLIENT_ID
LAB = carto3.JUPYTERLAB_CLIENT_ID
ALICE_M2M = (carto3.ALICE_M2M_CLIENT_ID, carto3.M2M_CLIENTS[carto3.ALICE_M2M_CLIENT_ID]["secret"])
BOB_M2M = (carto3.BOB_M2M_CLIENT_ID, carto3.M2M_CLIENTS[carto3.BOB_M2M_CLIENT_ID]["secret"])
LAB_CALLBACK = "http://127.0.0.1:8888/user/x/carto-credentials/oauth/callback"


@pytest.fixture(scope="module")
def api():
    """``(server, base_url without trailing /, clock)``; the CARTO 3 state reads a fake clock."""
    server, base = start_server()
    clock = FakeClock()
    server.carto3.clock = clock
    try:
        yield server, base.rstrip("/"), clock
    finally:
        server.stop()


def pkce():
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_params(base, client_id=PUBLIC, redirect_uri=None, challenge="x" * 43, **extra):
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "None",  # carto-auth sends it literally
        "audience": "carto-cloud-native-api",
        "redirect_uri": redirect_uri or base + "/auth/token",
        "code_challenge_method": "S256",
        "code_challenge": challenge,
        "state": "st-123",
    }
    params.update(extra)
    return params


def log_in(base, user="alice", password=None, **kwargs):
    """``(verifier, redirect Location)`` of a browser login through the HTML form."""
    verifier, challenge = pkce()
    params = authorize_params(base, challenge=challenge, **kwargs)
    form = dict(params, username=user, password=password or "%s-demo-password" % user)
    form["action"] = "login"
    resp = requests.post(base + "/authorize", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    return verifier, resp.headers["Location"]


def query_of(url):
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def exchange(base, code, verifier, redirect_uri=None, client_id=PUBLIC):
    return requests.post(
        base + "/oauth/token",
        data={
            "client_id": client_id,
            "grant_type": "authorization_code",
            "audience": "carto-cloud-native-api",
            "code": code,
            "redirect_uri": redirect_uri or base + "/auth/token",
            "code_verifier": verifier,
        },
        timeout=10,
    )


def m2m(base, client_id, secret, audience="carto-cloud-native-api"):
    return requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "audience": audience,
            "client_id": client_id,
            "client_secret": secret,
        },
        timeout=10,
    )


def bearer(token):
    return {"Authorization": "Bearer %s" % token, "Content-Type": "application/json"}


def auth_error(resp, status, error):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


# --- /authorize -----------------------------------------------------------------------------------


def test_authorize_page_is_an_accessible_login_form(api):
    _, base, _ = api
    resp = requests.get(base + "/authorize", params=authorize_params(base), timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    page = resp.text
    assert '<html lang="en">' in page
    for field in ("username", "password"):
        assert '<label for="%s">' % field in page
        assert 'id="%s" name="%s"' % (field, field) in page
    assert '<button type="submit"' in page
    # The authorize parameters ride along in the form, escaped.
    assert 'name="code_challenge" value="%s"' % ("x" * 43) in page


def test_pkce_happy_path_paste_variant(api):
    _, base, _ = api
    verifier, location = log_in(base)
    assert location.startswith(base + "/auth/token?")
    q = query_of(location)
    assert q["state"] == "st-123"
    # CARTO's paste-the-code page shows the code in a labelled readonly field.
    page = requests.get(location, timeout=10).text
    assert "Copy this code" in page
    assert 'readonly value="%s"' % html.escape(q["code"]) in page

    resp = exchange(base, q["code"], verifier)
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == carto3.DEFAULT_OAUTH_TOKEN_LIFETIME
    assert len(token["access_token"]) >= 40

    accounts = requests.get(base + "/accounts", headers=bearer(token["access_token"]), timeout=10)
    assert accounts.status_code == 200
    assert accounts.json()["tenant_domain"] == urlsplit(base).netloc
    assert accounts.json()["email"] == "alice@example.com"


def test_configured_client_redirects_to_a_loopback_jupyterlab_callback(api):
    _, base, _ = api
    for callback in (LAB_CALLBACK, "http://localhost:9999/carto-credentials/oauth/callback"):
        verifier, location = log_in(base, "bob", client_id=LAB, redirect_uri=callback)
        assert location.startswith(callback + "?")
        resp = exchange(base, query_of(location)["code"], verifier, callback, client_id=LAB)
        assert resp.status_code == 200, resp.text


def test_wrong_password_shows_the_form_again_and_no_redirect(api):
    _, base, _ = api
    form = dict(authorize_params(base), username="alice", password="nope", action="login")
    resp = requests.post(base + "/authorize", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 401
    assert 'role="alert"' in resp.text and "Wrong username or password" in resp.text
    assert "Location" not in resp.headers


def test_cancel_redirects_with_access_denied(api):
    _, base, _ = api
    form = dict(authorize_params(base), action="cancel")
    resp = requests.post(base + "/authorize", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert query_of(resp.headers["Location"]) == {"error": "access_denied", "state": "st-123"}


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "someone-else"},
        {"redirect_uri": "https://evil.example/auth/token"},
        {"client_id": LAB, "redirect_uri": "http://evil.example/carto-credentials/oauth/callback"},
        {"client_id": LAB, "redirect_uri": "http://127.0.0.1:8888/elsewhere"},
        {"organization": "org-unknown"},
        {"code_challenge_method": "plain"},
    ],
)
def test_bad_authorize_requests_get_an_error_page_never_a_redirect(api, change):
    _, base, _ = api
    params = dict(authorize_params(base), **change)
    for method in ("GET", "POST"):
        form = dict(params, username="alice", password="alice-demo-password", action="login")
        resp = requests.request(
            method,
            base + "/authorize",
            params=params if method == "GET" else None,
            data=form if method == "POST" else None,
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 400
        assert "Location" not in resp.headers
        assert 'role="alert"' in resp.text


def test_known_organization_is_accepted(api):
    _, base, _ = api
    params = authorize_params(base, organization="org-demo")
    resp = requests.get(base + "/authorize", params=params, timeout=10)
    assert resp.status_code == 200 and "org-demo" in resp.text


# --- /oauth/token: authorization_code failures -----------------------------------------------------


def test_wrong_verifier_fails_pkce(api):
    _, base, _ = api
    _, location = log_in(base)
    body = auth_error(
        exchange(base, query_of(location)["code"], "not-the-verifier"), 403, "invalid_grant"
    )
    assert "PKCE" in body["error_description"]


def test_code_is_one_time(api):
    _, base, _ = api
    verifier, location = log_in(base)
    code = query_of(location)["code"]
    assert exchange(base, code, verifier).status_code == 200
    auth_error(exchange(base, code, verifier), 403, "invalid_grant")


def test_redirect_uri_must_equal_the_authorize_one(api):
    _, base, _ = api
    verifier, location = log_in(base, client_id=LAB, redirect_uri=LAB_CALLBACK)
    other = "http://127.0.0.1:8889/carto-credentials/oauth/callback"
    resp = exchange(base, query_of(location)["code"], verifier, other, client_id=LAB)
    auth_error(resp, 403, "invalid_grant")


def test_code_of_another_client_is_refused(api):
    _, base, _ = api
    verifier, location = log_in(base, client_id=LAB, redirect_uri=LAB_CALLBACK)
    resp = exchange(base, query_of(location)["code"], verifier, LAB_CALLBACK, client_id=PUBLIC)
    auth_error(resp, 403, "invalid_grant")


def test_code_expires_after_60_seconds(api):
    _, base, clock = api
    verifier, location = log_in(base)
    clock.now += 61
    auth_error(exchange(base, query_of(location)["code"], verifier), 403, "invalid_grant")


def test_token_request_errors_are_auth0_shaped(api):
    _, base, _ = api
    resp = requests.post(base + "/oauth/token", data={"grant_type": "password"}, timeout=10)
    auth_error(resp, 400, "unsupported_grant_type")
    resp = requests.post(base + "/oauth/token", data={"client_id": PUBLIC}, timeout=10)
    auth_error(resp, 400, "invalid_request")
    auth_error(exchange(base, "c", "v", client_id="unknown"), 401, "invalid_client")
    auth_error(exchange(base, "c", "v", client_id=ALICE_M2M[0]), 403, "unauthorized_client")


# --- /oauth/token: client_credentials -------------------------------------------------------------


def test_client_credentials_ok(api):
    _, base, _ = api
    resp = m2m(base, *ALICE_M2M)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == carto3.DEFAULT_M2M_TOKEN_LIFETIME
    accounts = requests.get(base + "/accounts", headers=bearer(body["access_token"]), timeout=10)
    assert accounts.json()["username"] == "alice"
    # Each request gets a new random token.
    assert m2m(base, *ALICE_M2M).json()["access_token"] != body["access_token"]


def test_client_credentials_failures(api):
    _, base, _ = api
    auth_error(m2m(base, ALICE_M2M[0], "wrong"), 401, "access_denied")
    auth_error(m2m(base, ALICE_M2M[0], BOB_M2M[1]), 401, "access_denied")
    auth_error(m2m(base, "nobody", "x"), 401, "access_denied")
    auth_error(m2m(base, *ALICE_M2M, audience="another-api"), 403, "access_denied")
    auth_error(m2m(base, PUBLIC, "x"), 403, "unauthorized_client")


def test_tokens_expire(api):
    _, base, clock = api
    token = m2m(base, *BOB_M2M).json()["access_token"]
    url = base + "/v3/sql/carto_dw/query"
    assert requests.get(url, params={"q": "SELECT 1"}, headers=bearer(token), timeout=10).ok
    clock.now += carto3.DEFAULT_M2M_TOKEN_LIFETIME
    resp = requests.get(url, params={"q": "SELECT 1"}, headers=bearer(token), timeout=10)
    assert resp.status_code == 401
    assert resp.json() == {"error": "Unauthorized: jwt expired", "status": 401}
    resp = requests.get(base + "/accounts", headers=bearer(token), timeout=10)
    assert resp.status_code == 401 and "error" in resp.json()


# --- discovery ------------------------------------------------------------------------------------


def test_discovery_gives_this_servers_base_url(api):
    _, base, _ = api
    token = m2m(base, *ALICE_M2M).json()["access_token"]
    tenant = requests.get(base + "/accounts", headers=bearer(token), timeout=10).json()[
        "tenant_domain"
    ]
    # carto-auth then reads {scheme}://{tenant_domain}/config.yaml (no auth) → apis.baseUrl.
    config = requests.get("http://%s/config.yaml" % tenant, timeout=10)
    assert config.status_code == 200
    assert yaml.safe_load(config.text)["apis"]["baseUrl"] == base


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_accounts_without_a_valid_token_is_401(api, headers):
    _, base, _ = api
    resp = requests.get(base + "/accounts", headers=headers, timeout=10)
    assert resp.status_code == 401
    assert resp.headers["Content-Type"].startswith("application/json")
    assert isinstance(resp.json()["error"], str)


# --- /v3 ------------------------------------------------------------------------------------------


def test_sql_get_and_post_have_carto3_shape(api):
    _, base, _ = api
    token = m2m(base, *ALICE_M2M).json()["access_token"]
    q = "SELECT cartodb_id, name, the_geom FROM alice_stores ORDER BY cartodb_id LIMIT 2"
    got = requests.get(
        base + "/v3/sql/carto_dw/query", params={"q": q}, headers=bearer(token), timeout=10
    )
    posted = requests.post(
        base + "/v3/sql/carto-dw/query", json={"q": q}, headers=bearer(token), timeout=10
    )
    assert got.status_code == posted.status_code == 200
    body = got.json()
    assert body["rows"] == posted.json()["rows"]
    assert [r["cartodb_id"] for r in body["rows"]] == [1, 2]
    assert body["schema"] == [
        {"name": "cartodb_id", "type": "number"},
        {"name": "name", "type": "string"},
        {"name": "the_geom", "type": "geography"},
    ]
    assert '"Point"' in body["rows"][0]["the_geom"]
    assert isinstance(body["meta"], dict)


def test_sql_errors_have_carto_shapes(api):
    _, base, _ = api
    token = m2m(base, *BOB_M2M).json()["access_token"]
    resp = requests.get(
        base + "/v3/sql/my_bigquery/query",
        params={"q": "SELECT 1"},
        headers=bearer(token),
        timeout=10,
    )
    assert resp.status_code == 404
    assert resp.json()["status"] == 404 and "my_bigquery" in resp.json()["error"]
    resp = requests.get(
        base + "/v3/sql/carto_dw/query", params={"q": "SELEC 1"}, headers=bearer(token), timeout=10
    )
    assert resp.status_code == 400 and isinstance(resp.json()["error"], str)
    resp = requests.get(base + "/v3/sql/carto_dw/query", params={"q": "SELECT 1"}, timeout=10)
    assert resp.status_code == 401 and resp.json()["status"] == 401


def test_sql_runs_as_the_tokens_user(api):
    _, base, _ = api
    token = m2m(base, *BOB_M2M).json()["access_token"]
    resp = requests.get(
        base + "/v3/sql/carto_dw/query",
        params={"q": "SELECT count(*) FROM bob_private_notes"},
        headers=bearer(token),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text


def test_carto_dw_token(api):
    _, base, _ = api
    token = m2m(base, *ALICE_M2M).json()["access_token"]
    resp = requests.get(base + "/v3/connections/carto-dw/token", headers=bearer(token), timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["projectId"] and body["token"]
    resp = requests.get(base + "/v3/connections/carto-dw/token", timeout=10)
    assert resp.status_code == 401 and "error" in resp.json()


def test_cors_preflight_for_a_browser_page_on_another_port(api):
    _, base, _ = api
    resp = requests.options(
        base + "/oauth/token",
        headers={"Origin": "http://127.0.0.1:8888", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    token = m2m(base, *ALICE_M2M)
    assert token.headers["Access-Control-Allow-Origin"] == "*"


# --- command line: short lifetimes and the log policy ---------------------------------------------


def test_command_line_token_lifetimes_and_nothing_secret_in_the_log(tmp_path):
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.carto_api", "--port", "0", "--ready-file", str(ready)]
        + ["--oauth-token-lifetime", "1", "--m2m-token-lifetime", "1", "--verbose"],
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
        base = "http://127.0.0.1:%d" % int(ready.read_text())
        verifier, location = log_in(base)
        code = query_of(location)["code"]
        requests.get(location, timeout=10)  # the code page: code= in the request line
        oauth = exchange(base, code, verifier).json()
        assert oauth["expires_in"] == 1
        m2m_token = m2m(base, *ALICE_M2M).json()
        assert m2m_token["expires_in"] == 1
        # The log line of a GET carrying the token in its query must not show it either.
        requests.get(
            base + "/accounts?" + urlencode({"access_token": oauth["access_token"]}), timeout=10
        )
        time.sleep(1.2)
        for token in (oauth["access_token"], m2m_token["access_token"]):
            resp = requests.get(
                base + "/v3/connections/carto-dw/token", headers=bearer(token), timeout=10
            )
            assert resp.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "/auth/token?code=***" in err
    for secret in (code, verifier, oauth["access_token"], m2m_token["access_token"], ALICE_M2M[1]):
        assert secret not in out + err
    assert not re.search(r"password=(?!\*\*\*)", err)
