"""CARTO 3 logins in the kernel (issue 11; docs/contracts.md §4 "Kernel", docs/kernel-api.md).

In-process (fake comm): ``set_credentials`` version 2 — what is accepted and rejected (and the
exported JSON Schema agrees), version 1 and 2 replacing each other, ``login_required``, the account
store's CARTO 3 default without a push under the policy and grants, the API-key chain skipping a
CARTO 3 store default, tokens and client secrets masked.

Real kernels of ``.venv-carto3`` (``python3-carto3``: ipykernel 7.4, the real carto-auth 0.2.0 and
pydeck-carto 0.2.1 from PyPI, our package and startup file): the pushed token reaches
``carto_credentials.carto_auth()`` and carto-auth's own ``CartoAuth.from_oauth()`` /
``from_m2m(file)`` with no browser and no ``~/.carto-auth``; a later push reaches the same object;
``login_required`` raises carto-auth's ``CredentialsError``; the Data Warehouse token comes from the
local CARTO 3 API (tools/carto_api); nothing a cell prints or displays (pydeck-carto JSON and HTML
included) carries the token. Cells print token fingerprints, never tokens.
"""

import copy
import hashlib
import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
from _carto_helpers import (  # noqa: F401 (isolated: fixture)
    REPO,
    FakeKernel,
    Kernel,
    isolated,
    isolated_env,
    kernel_spec_manager,
    push_message,
)

from carto_credentials import _masking, carto3, get_default_credentials, kernel, paths
from carto_credentials._deck_output import DECK_MIME, DECK_NOTICE, PLACEHOLDER_PREFIX
from carto_credentials.rules import mask_key

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlLTAwMDE"
TOKEN2 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZTIifQ.c2lnbmF0dXJlLW9mLWFsaWNlLTAwMDI"
STORE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdG9yZSJ9.c2lnbmF0dXJlLW9mLXN0b3JlLTAwMDM"
SECRET = "m2m-client-secret-0123456789abcdef"
API = "https://gcp-us-east1.api.carto.com"
CARTO3_PYTHON = os.path.join(REPO, ".venv-carto3", "bin", "python")
SCHEMA_PATH = os.path.join(os.path.dirname(kernel.__file__), "protocol.schema.json")


def fingerprint(token):
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def carto3_push(state="granted", token=TOKEN, kind="m2m", api_base_url=API, expires_at=None):
    account = None
    if state == "granted":
        account = {
            "id": "acc-c3",
            "label": "alice (M2M)",
            "kind": kind,
            "api_base_url": api_base_url,
            "access_token": token,
            "expires_at": int(time.time()) + 3600 if expires_at is None else expires_at,
        }
    return {
        "version": 2,
        "type": "set_credentials",
        "session_path": "work/map.ipynb",
        "kernel_id": "k-1",
        "state": state,
        "account": account,
    }


@pytest.fixture
def fake(isolated):
    fake_kernel = FakeKernel()
    assert kernel.register_target(fake_kernel) is True
    return fake_kernel


def token_or_error():
    try:
        return carto3.carto_auth().get_access_token()
    except carto3.Carto3LoginError as exc:
        return "error: " + str(exc)


# -- version 2 pushes ----------------------------------------------------------------------------


def test_a_v2_push_is_the_notebooks_login_and_a_later_one_replaces_it(fake):
    auth = carto3.carto_auth()
    comm = fake.comm_manager.open(carto3_push())
    assert auth.get_access_token() == TOKEN
    assert auth.get_api_base_url() == API
    comm.receive(carto3_push(token=TOKEN2, api_base_url=API + "/"))
    assert (auth.get_access_token(), auth.get_api_base_url()) == (TOKEN2, API)
    assert TOKEN2 not in repr(auth) and "alice (M2M)" in repr(auth)
    assert TOKEN2 not in json.dumps(kernel.status())
    assert comm.sent == []


def test_login_required_keeps_the_login_but_asks_for_a_new_one(fake):
    comm = fake.comm_manager.open(carto3_push(kind="oauth"))
    comm.receive(carto3_push(state="login_required"))
    message = token_or_error()
    assert "log in again from the CARTO panel" in message and TOKEN not in message
    assert carto3.carto_auth().get_api_base_url() == API  # still known
    comm.receive(carto3_push(token=TOKEN2, kind="oauth"))  # a new login
    assert token_or_error() == TOKEN2


def test_a_pushed_oauth_token_past_its_expiry_is_expired(fake):
    fake.comm_manager.open(carto3_push(kind="oauth", expires_at=int(time.time()) - 1))
    assert "log in again from the CARTO panel" in token_or_error()


@pytest.mark.parametrize("state", ["not_granted", "no_account"])
def test_not_granted_and_no_account_clear_the_login(fake, state):
    comm = fake.comm_manager.open(carto3_push())
    comm.receive(carto3_push(state=state))
    assert token_or_error().startswith("error: ")


def test_v1_and_v2_pushes_replace_each_other(fake):
    comm = fake.comm_manager.open(carto3_push())
    assert get_default_credentials() is None  # the notebook's account is a CARTO 3 one
    comm.receive(push_message())
    assert get_default_credentials().username == "alice"
    assert "API key" in token_or_error()
    comm.receive(carto3_push(token=TOKEN2))
    assert token_or_error() == TOKEN2 and get_default_credentials() is None


def _malformed():
    good = carto3_push(token="sentinel-token-value")
    variants = []
    for key, value in [("version", 3), ("state", "public"), ("extra", 1), ("kernel_id", None)]:
        message = copy.deepcopy(good)
        message[key] = value
        variants.append(message)
    for key, value in [
        ("kind", "api_key"),
        ("access_token", ""),
        ("access_token", "sentinel token with spaces"),
        ("expires_at", -1),
        ("expires_at", "1795359534"),
        ("expires_at", True),
        ("expires_at", 1.5),
        ("api_base_url", "ftp://sentinel.example/"),
        ("id", ""),
        ("api_key", "sentinel"),
    ]:
        message = copy.deepcopy(good)
        message["account"][key] = value
        variants.append(message)
    missing = copy.deepcopy(good)
    del missing["account"]["expires_at"]
    variants.append(missing)
    granted_without_account = copy.deepcopy(good)
    granted_without_account["account"] = None
    variants.append(granted_without_account)
    required_with_account = copy.deepcopy(good)
    required_with_account["state"] = "login_required"
    variants.append(required_with_account)
    return variants


@pytest.mark.parametrize("message", _malformed())
def test_malformed_v2_pushes_are_ignored_and_logged_without_content(fake, caplog, message):
    comm = fake.comm_manager.open(carto3_push())
    with caplog.at_level("WARNING", logger="carto_credentials"):
        comm.receive(message)
    assert token_or_error() == TOKEN
    assert "malformed" in caplog.text and "sentinel" not in caplog.text


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


def _valid(schema_part, message):
    import jsonschema

    return jsonschema.Draft202012Validator(schema_part).is_valid(message)


@pytest.mark.parametrize(
    "message",
    [
        carto3_push(),
        carto3_push(kind="oauth", api_base_url="http://127.0.0.1:8081"),
        carto3_push(state="login_required"),
        carto3_push(state="not_granted"),
    ],
)
def test_v2_messages_we_accept_are_valid_for_the_schema(fake, schema, message):
    assert _valid(schema["frontend_to_kernel"], message)
    assert kernel.parse_set_credentials(message) is not None


def test_v2_messages_the_schema_rejects_we_reject_too(fake, schema):
    for message in _malformed():
        if not _valid(schema["frontend_to_kernel"], message):
            with pytest.raises(kernel.MalformedMessage):
                kernel.parse_set_credentials(message)


# -- without a push: the account store ------------------------------------------------------------


def _store_with_carto3_default(expires_in=3600):
    from carto_credentials.server.store import M2M, AccountStore

    store = AccountStore(paths.store_path())
    store.add_carto3_account(
        M2M,
        "alice (M2M)",
        API,
        STORE_TOKEN,
        int(time.time()) + expires_in,
        client_id="client-alice",
        client_secret=SECRET,
    )
    return store


def test_without_a_push_the_stores_carto3_default_is_read_at_each_call(isolated):
    store = _store_with_carto3_default()
    auth = carto3.carto_auth()
    assert auth.get_access_token() == STORE_TOKEN
    account_id = store.read()["default_account"]
    store.set_token(account_id, TOKEN2, int(time.time()) + 3600)  # the server renewed it
    assert auth.get_access_token() == TOKEN2


def test_the_api_key_chain_skips_a_carto3_store_default_without_a_warning(isolated, caplog):
    _store_with_carto3_default()
    with caplog.at_level("WARNING", logger="carto_credentials"):
        assert get_default_credentials() is None
    assert caplog.text == ""


def test_a_notebook_on_a_carto3_login_gets_no_api_key_from_the_store(fake):
    # The store's default is an API-key account; this notebook chose a CARTO 3 login: the API-key
    # chain must not hand out the other account's key in its place (found by trying the demo).
    from carto_credentials import resolve_credentials
    from carto_credentials.errors import NoCredentialsError
    from carto_credentials.server.store import AccountStore

    AccountStore(paths.store_path()).add_account(
        "alice", "https://alice.carto.com/", "alice-api-key-0123456789", "alice"
    )
    assert get_default_credentials().username == "alice"  # before any push: the store default
    fake.comm_manager.open(carto3_push())
    assert get_default_credentials() is None
    with pytest.raises(NoCredentialsError) as err:
        resolve_credentials()
    assert "carto_auth()" in str(err.value)
    assert carto3.carto_auth().get_access_token() == TOKEN


def test_the_store_fallback_honours_the_policy_and_a_deny_grant(isolated, monkeypatch):
    store = _store_with_carto3_default()
    monkeypatch.setenv("JPY_SESSION_NAME", str(isolated / "work" / "map.ipynb"))
    store.set_grant("work/map.ipynb", "deny")
    assert "denied" in token_or_error()
    store.set_grant("work/map.ipynb", "allow")
    assert token_or_error() == STORE_TOKEN
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(isolated / "settings"))
    path = paths.lab_user_settings_path("jupyterlab-carto-credentials:plugin")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"kernelAccess": "never"}')
    assert "never" in token_or_error()


def test_an_expired_pushed_m2m_token_is_taken_from_the_store_once_renewed(fake):
    store = _store_with_carto3_default(expires_in=-10)
    account_id = store.read()["default_account"]
    push = carto3_push(expires_at=int(time.time()) - 5)
    push["account"]["id"] = account_id
    fake.comm_manager.open(push)
    assert "log in again" in token_or_error()
    store.set_token(account_id, TOKEN2, int(time.time()) + 3600)
    assert token_or_error() == TOKEN2


def test_from_m2m_shares_the_login_only_for_the_same_api_and_client(fake):
    from carto_credentials import _carto_auth_hook as hook

    account_id = _store_with_carto3_default().read()["default_account"]
    push = carto3_push(kind="m2m")
    push["account"]["id"] = account_id
    comm = fake.comm_manager.open(push)

    def shared(api_base_url=API + "/", client_id="client-alice"):
        content = {"api_base_url": api_base_url, "client_id": client_id, "client_secret": "x"}
        return hook.m2m_login(content) is not None

    assert shared()
    assert not shared(client_id="client-of-another-app")
    assert not shared(api_base_url="https://other.api.carto.com")
    assert (
        hook.oauth_login() is not None and hook.oauth_login("https://other.api.carto.com") is None
    )
    push["account"]["kind"] = "oauth"
    comm.receive(push)
    assert not shared()  # an OAuth login is not the file's M2M client


class DWServer:
    """A tiny CARTO 3 API on 127.0.0.1 answering the DW token route with ``(status, body)``;
    records the ``Authorization`` headers it got."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answer = (200, b"{}")
        self.headers = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.headers.append((self.path, self.headers.get("Authorization")))
                status, body = server.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def dw_server():
    server = DWServer()
    yield server
    server.close()


def test_carto_dw_credentials_as_carto_auth_asks_and_reads_them(fake, dw_server):
    fake.comm_manager.open(carto3_push(api_base_url=dw_server.url))
    auth = carto3.carto_auth()
    dw_server.answer = (200, json.dumps({"projectId": "carto-dw-ac-1", "token": "dw-tok"}).encode())
    assert auth.get_carto_dw_credentials() == ("carto-dw-ac-1", "dw-tok")
    assert dw_server.headers == [("/v3/connections/carto-dw/token", "Bearer " + TOKEN)]
    for answer, expected in [
        ((200, b"<html>"), "Invalid CARTO DW Token response"),
        ((200, b'{"projectId": "p"}'), "Invalid attributes in CARTO DW Token response"),
        ((401, b'{"error": "Unauthorized"}'), "log in again from the CARTO panel"),
    ]:
        dw_server.answer = answer
        with pytest.raises(carto3.Carto3LoginError) as raised:
            auth.get_carto_dw_credentials()
        assert expected in str(raised.value) and TOKEN not in str(raised.value)


def test_carto_dw_client_without_bigquery_says_what_to_install(fake, dw_server):
    try:
        import google.cloud.bigquery  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("google-cloud-bigquery is installed here")
    fake.comm_manager.open(carto3_push(api_base_url=dw_server.url))
    with pytest.raises(ImportError, match=r"carto-auth\[carto-dw\]"):
        carto3.carto_auth().get_carto_dw_client()
    assert dw_server.headers == []  # nothing asked before the import failed


# -- masking ------------------------------------------------------------------------------------


def test_pushed_tokens_and_stored_secrets_are_masked(fake):
    fake.comm_manager.open(carto3_push())
    assert _masking.mask("token: " + TOKEN) == "token: " + mask_key(TOKEN)
    _store_with_carto3_default()
    _masking.refresh_sources()
    masked = _masking.mask(json.dumps({"t": STORE_TOKEN, "s": SECRET}))
    assert STORE_TOKEN not in masked and SECRET not in masked


# -- real kernels: carto-auth and pydeck-carto from PyPI ------------------------------------------

FINGERPRINT = "import hashlib\nfp = lambda t: hashlib.sha256(t.encode()).hexdigest()[:12]\n"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not os.path.exists(CARTO3_PYTHON):
        pytest.skip(f"{CARTO3_PYTHON} is missing: run python3 scripts/dev_install.py")
    tmp = tmp_path_factory.mktemp("carto3")
    k = Kernel(isolated_env(tmp), kernel_spec_manager(tmp, CARTO3_PYTHON))
    k.home, k.data_dir = tmp / "home", tmp / "data"
    try:
        yield k
    finally:
        k.stop()


def run_all(kernel_, code, timeout=30):
    """stdout, errors and every IOPub message (JSON) of one cell, until idle."""
    msg_id = kernel_.execute(code)
    out = {"stdout": "", "errors": "", "raw": []}
    deadline = time.monotonic() + timeout
    while True:
        msg = kernel_.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        out["raw"].append(json.dumps(msg["content"]))
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out["stdout" if content["name"] == "stdout" else "errors"] += content["text"]
        elif kind == "error":
            out["errors"] += "\n".join(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle":
            out["raw"] = "\n".join(out["raw"])
            return out


def ok(out):
    assert out["errors"] == "", out["errors"][-3000:]
    return out["stdout"]


def test_real_kernel_carto_auth_follows_the_push_and_carto_auth_package_shares_it(real, tmp_path):
    comm = real.open_comm(carto3_push(kind="oauth"))
    first = ok(
        run_all(
            real,
            FINGERPRINT
            + "import carto_credentials\n"
            + "auth = carto_credentials.carto_auth()\n"
            + "print('TOKEN', fp(auth.get_access_token()), auth.get_api_base_url())\n",
        )
    )
    assert f"TOKEN {fingerprint(TOKEN)} {API}" in first

    # carto-auth's own class methods: the shared login, no browser, nothing under ~/.carto-auth.
    m2m_file = tmp_path / "m2m.json"
    m2m_file.write_text(json.dumps({"api_base_url": API, "client_id": "c", "client_secret": "s"}))
    real.comm_msg(comm, carto3_push(kind="m2m"))
    out = ok(
        run_all(
            real,
            "from carto_auth import CartoAuth, CredentialsError\n"
            + "o = CartoAuth.from_oauth()\n"
            + f"m = CartoAuth.from_m2m({str(m2m_file)!r})\n"
            + "print('KINDS', isinstance(o, CartoAuth), isinstance(m, CartoAuth))\n"
            + "print('SAME', fp(o.get_access_token()), fp(m.get_access_token()), "
            + "m.get_api_base_url())\n"
            + "print('REPR', repr(o))\n",
        )
    )
    assert "KINDS True True" in out
    assert f"SAME {fingerprint(TOKEN)} {fingerprint(TOKEN)} {API}" in out
    assert not (real.home / ".carto-auth").exists()

    # A later push reaches objects made earlier; the token printed raw is masked.
    real.comm_msg(comm, carto3_push(token=TOKEN2))
    out = run_all(
        real,
        "print('LIVE', fp(auth.get_access_token()), fp(m.get_access_token()))\nprint(m._access_token)\n",
    )
    assert f"LIVE {fingerprint(TOKEN2)} {fingerprint(TOKEN2)}" in ok(out)
    assert TOKEN2 not in out["raw"] and mask_key(TOKEN2) in out["stdout"]

    # login_required: carto-auth's CredentialsError, with what to do.
    real.comm_msg(comm, carto3_push(state="login_required"))
    out = ok(
        run_all(
            real,
            "for a in (auth, o):\n"
            "    try:\n"
            "        a.get_access_token()\n"
            "    except CredentialsError as e:\n"
            "        print('RAISED', 'log in again from the CARTO panel' in str(e))\n",
        )
    )
    assert out.count("RAISED True") == 2


def test_real_kernel_from_m2m_of_another_api_is_carto_auths_own(real, tmp_path):
    real.fresh()
    real.open_comm(carto3_push(kind="m2m"))
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(
            {"api_base_url": "https://other.api.carto.com", "client_id": "c", "client_secret": "s"}
        )
    )
    cache = tmp_path / "cache.json"  # carto-auth's own cache: its behaviour without the network
    cache.write_text(
        json.dumps(
            {
                "api_base_url": "https://other.api.carto.com",
                "access_token": "cached-token-00000001",
                "expiration": int(time.time()) + 3600,
            }
        )
    )
    out = ok(
        run_all(
            real,
            FINGERPRINT
            + "from carto_auth import CartoAuth\n"
            + f"m = CartoAuth.from_m2m({str(other)!r}, cache_filepath={str(cache)!r})\n"
            + "print('OWN', type(m) is CartoAuth, fp(m.get_access_token()))\n"
            + "try:\n"
            + "    CartoAuth.from_m2m('/nonexistent/m2m.json')\n"
            + "except FileNotFoundError:\n"
            + "    print('MISSING FILE as carto-auth')\n",
        )
    )
    assert f"OWN True {fingerprint('cached-token-00000001')}" in out
    assert "MISSING FILE as carto-auth" in out


def test_real_kernel_pydeck_carto_output_holds_no_token(real):
    real.fresh()
    real.open_comm(carto3_push(kind="oauth"))
    out = run_all(
        real,
        "import pydeck as pdk, pydeck_carto as pdkc, carto_credentials\n"
        "auth = carto_credentials.carto_auth()\n"
        "pdkc.register_layers()\n"
        "source = pdkc.sources.vector_query_source(access_token=auth.get_access_token(),\n"
        "    api_base_url=auth.get_api_base_url(), connection_name='carto_dw',\n"
        "    sql_query='select * from demo_points')\n"
        "layer = pdk.Layer('VectorTileLayer', data=source, get_fill_color=[200, 0, 80])\n"
        "deck = pdk.Deck(layers=[layer], map_style=None)\n"
        "print(deck.to_json())\n"
        "display(deck)\n"
        "deck\n",
    )
    ok(out)
    assert "vectorQuerySource" in out["raw"]  # the layer JSON was displayed
    assert mask_key(TOKEN) in out["raw"]
    assert TOKEN not in out["raw"]

    # display(deck) and the cell's value: pydeck's page, masked, plus the bundle JupyterLab shows
    # with the login's current token: placeholders named by the login's account id.
    shown = [json.loads(line) for line in out["raw"].splitlines() if '"data"' in line]
    bundles = [c["data"][DECK_MIME] for c in shown if DECK_MIME in c.get("data", {})]
    assert len(bundles) == 2
    for bundle in bundles:
        assert bundle["logins"] == {PLACEHOLDER_PREFIX + "0": "acc-c3"}
        assert "vectorQuerySource" in bundle["html"] and PLACEHOLDER_PREFIX + "0" in bundle["html"]
        assert mask_key(TOKEN) not in bundle["html"]
    for content in shown:
        assert content["data"]["text/html"].startswith(DECK_NOTICE)


def test_real_kernel_from_oauth_without_a_shared_login_says_what_to_do_instead_of_waiting(
    real, tmp_path
):
    # JupyterLab told the kernel: no account. carto-auth's browser login would wait forever for
    # localhost:10000 (this cell would time out); a usable cache file is still carto-auth's.
    real.fresh()
    real.open_comm(carto3_push(state="no_account"))
    cache = tmp_path / "token_oauth.json"
    out = ok(
        run_all(
            real,
            FINGERPRINT
            + "from carto_auth import CartoAuth, CredentialsError\n"
            + "try:\n"
            + f"    CartoAuth.from_oauth(cache_filepath={str(tmp_path / 'none.json')!r})\n"
            + "except CredentialsError as e:\n"
            + "    print('REFUSED', str(e))\n",
        )
    )
    assert "REFUSED CartoAuth.from_oauth() found no CARTO 3 login to share" in out
    assert "log in to CARTO 3 from the CARTO panel" in out
    assert not (real.home / ".carto-auth").exists()

    cache.write_text(
        json.dumps(
            {
                "api_base_url": API,
                "access_token": "cached-oauth-token-0001",
                "expiration": int(time.time()) + 7200,
            }
        )
    )
    out = ok(
        run_all(
            real,
            f"o = CartoAuth.from_oauth(cache_filepath={str(cache)!r})\n"
            + "print('OWN', type(o) is CartoAuth, fp(o.get_access_token()))\n",
        )
    )
    assert f"OWN True {fingerprint('cached-oauth-token-0001')}" in out


def test_from_oauth_outside_jupyterlab_is_carto_auths_own(isolated):
    # No push ever arrived (a terminal, a headless run): carto-auth's flow, not a refusal.
    from carto_credentials import _carto_auth_hook

    class NoCache:
        @staticmethod
        def load_cache_file(path):
            return None

    assert _carto_auth_hook.browser_login_refusal(NoCache, {}) is None


def test_real_kernel_without_a_push_carto_auth_uses_the_stores_carto3_default(real):
    # A headless run (nbconvert, papermill): no JupyterLab, the account store on this host.
    from carto_credentials.server.store import M2M, AccountStore

    real.fresh()
    path = real.data_dir / "carto_credentials" / "accounts.json"
    store = AccountStore(str(path))
    store.add_carto3_account(
        M2M,
        "alice (M2M)",
        API,
        STORE_TOKEN,
        int(time.time()) + 3600,
        client_id="c",
        client_secret=SECRET,
    )
    try:
        out = run_all(
            real,
            FINGERPRINT
            + "from carto_auth import CartoAuth\n"
            + "o = CartoAuth.from_oauth()\n"
            + "print('STORE', fp(o.get_access_token()), o.get_api_base_url())\n"
            + "print(o.get_access_token())\n",
        )
        assert f"STORE {fingerprint(STORE_TOKEN)} {API}" in ok(out)
        assert STORE_TOKEN not in out["raw"]
        assert not (real.home / ".carto-auth").exists()
    finally:
        os.remove(path)


def _client_credentials_token(base_url, client_id, client_secret):
    body = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "audience": "carto-cloud-native-api",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()
    with urllib.request.urlopen(base_url.rstrip("/") + "/oauth/token", body, timeout=30) as r:
        return json.load(r)["access_token"]


def test_real_kernel_carto_dw_credentials_from_the_local_carto3_api(real, carto_api):
    from tools.carto_api import carto3 as local_carto3

    _, base_url = carto_api
    client_id = local_carto3.ALICE_M2M_CLIENT_ID
    secret = local_carto3.M2M_CLIENTS[client_id]["secret"]
    token = _client_credentials_token(base_url, client_id, secret)
    real.fresh()
    real.open_comm(carto3_push(kind="m2m", token=token, api_base_url=base_url))
    out = run_all(
        real,
        "import carto_credentials\n"
        "project, dw = carto_credentials.carto_auth().get_carto_dw_credentials()\n"
        "print('DW', project)\n"
        "print(dw)\n"
        "try:\n"
        "    carto_credentials.carto_auth().get_carto_dw_client()\n"
        "except ImportError as e:\n"
        "    print('NO BIGQUERY', 'carto-auth[carto-dw]' in str(e))\n",
    )
    assert "DW carto-dw-ac-alice" in ok(out) and "NO BIGQUERY True" in out["stdout"]
    assert token not in out["raw"] and "local-dw-token-" not in out["raw"]  # both masked


def test_the_silent_bootstrap_installs_the_carto_auth_hook_too(tmp_path):
    if not os.path.exists(CARTO3_PYTHON):
        pytest.skip(f"{CARTO3_PYTHON} is missing: run python3 scripts/dev_install.py")
    from carto_credentials.server.bootstrap import bootstrap_code

    probe = (
        bootstrap_code()
        + "\nimport sys, carto_auth\n"
        + "from carto_credentials import _carto_auth_hook as hook\n"
        + "print(any(isinstance(f, hook._Finder) for f in sys.meta_path),\n"
        + "      carto_auth.CartoAuth.__dict__.get(hook._MARK, False))\n"
    )
    env = isolated_env(tmp_path, startup=False)
    out = subprocess.run(
        [CARTO3_PYTHON, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]
