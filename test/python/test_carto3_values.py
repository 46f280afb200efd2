"""CARTO 3 values on the server: PKCE, pasted codes, M2M credentials files, the store's new kinds."""

import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest

from carto_credentials.server import carto3, importer, store
from carto_credentials.server.errors import CredentialsError


def test_pkce_challenge_is_rfc7636_s256():
    # RFC 7636 Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert carto3.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_states_are_random_and_in_range():
    verifiers = {carto3.new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(43 <= len(v) <= 128 for v in verifiers)
    assert len({carto3.new_state() for _ in range(50)}) == 50


def test_authorize_url_carries_carto_auths_parameters_and_never_the_verifier():
    verifier = carto3.new_verifier()
    url = carto3.authorize_url(
        "https://auth.example/",
        "client-1",
        "https://app.example/auth/token",
        "carto-cloud-native-api",
        verifier,
        "state-1",
        org="org-demo",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "auth.example", "/authorize")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "client_id": "client-1",
        "response_type": "code",
        "audience": "carto-cloud-native-api",
        "redirect_uri": "https://app.example/auth/token",
        "code_challenge_method": "S256",
        "code_challenge": carto3.code_challenge(verifier),
        "state": "state-1",
        "organization": "org-demo",
    }
    assert verifier not in url


@pytest.mark.parametrize(
    "pasted, code",
    [
        ("abc123", "abc123"),
        ("  abc123\n", "abc123"),
        ("https://app.carto.com/auth/token?code=abc123&state=s", "abc123"),
        ("http://localhost:10000/callback/?state=s&code=abc123", "abc123"),
        ("?code=abc-._~123", "abc-._~123"),
    ],
)
def test_pasted_code_or_address(pasted, code):
    assert carto3.code_from_paste(pasted) == code


@pytest.mark.parametrize("pasted", ["", "   ", "a b", "code=", "x\u202ey", "x\x00y", "é" * 3])
def test_pasted_garbage_is_bad_code(pasted):
    with pytest.raises(CredentialsError) as err:
        carto3.code_from_paste(pasted)
    assert err.value.code == "bad_code"


GOOD_M2M = {
    "api_base_url": "https://gcp-us-east1.api.carto.com/",
    "client_id": "client-abc",
    "client_secret": "s3cret-value-0001",
}


def test_m2m_credentials_are_normalised_as_carto_writes_base_urls():
    creds = carto3.m2m_credentials(dict(GOOD_M2M), "file", allow_http=False)
    assert creds == dict(GOOD_M2M, api_base_url="https://gcp-us-east1.api.carto.com")


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"api_base_url": None}, "'api_base_url' is empty"),
        ({"client_secret": ""}, "'client_secret' is empty"),
        ({"client_id": 12}, "'client_id' must be text"),
        ({"client_secret": "has space"}, "'client_secret' must be text"),
        ({"api_base_url": "http://insecure.example"}, "api_base_url"),
    ],
)
def test_m2m_credentials_name_the_field_never_the_value(change, problem):
    content = dict(GOOD_M2M, **change)
    with pytest.raises(CredentialsError) as err:
        carto3.m2m_credentials(content, "m2m.json", allow_http=False)
    assert err.value.code == "m2m_file_invalid" and err.value.status == 400
    assert problem in err.value.message and "m2m.json" in err.value.message
    assert GOOD_M2M["client_secret"] not in err.value.message


def test_m2m_credentials_missing_field_in_carto_auths_order():
    with pytest.raises(CredentialsError) as err:
        carto3.m2m_credentials({"client_secret": "x"}, "f", allow_http=False)
    assert "'api_base_url' is missing" in err.value.message


def test_m2m_file_is_read_like_a_credentials_file(tmp_path):
    path = tmp_path / "m2m.json"
    path.write_text(json.dumps(GOOD_M2M))
    assert importer.read_m2m_file(str(path), False)["client_id"] == "client-abc"
    with pytest.raises(CredentialsError) as err:
        importer.read_m2m_file(str(tmp_path / "none.json"), False)
    assert (err.value.status, err.value.code) == (404, "m2m_file_not_found")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(CredentialsError) as err:
        importer.read_m2m_file(str(fifo), False)
    assert err.value.code == "m2m_file_invalid" and "named pipe" in err.value.message
    path.write_text("[1]")
    with pytest.raises(CredentialsError) as err:
        importer.read_m2m_file(str(path), False)
    assert err.value.code == "m2m_file_invalid"


def _store(tmp_path):
    return store.AccountStore(str(tmp_path / "accounts.json"))


def test_carto3_accounts_are_stored_and_shown_without_secrets(tmp_path):
    s = _store(tmp_path)
    view = s.add_carto3_account(
        store.M2M,
        "alice (M2M)",
        "https://api.example",
        "token-abc-123456789",
        2_000_000_000,
        client_id="client-abc",
        client_secret="s3cret-value-0001",
    )
    assert view["kind"] == "m2m" and view["status"] == "ok"
    assert view["api_base_url"] == "https://api.example" and view["expires_at"] == 2_000_000_000
    assert view["username"] is None and view["base_url"] is None and view["public"] is False
    shown = json.dumps(s.list_accounts())
    for secret in ("token-abc-123456789", "s3cret-value-0001"):
        assert secret not in shown
    # The first account is the default, whatever its kind.
    assert s.list_accounts()[1] == view["id"]
    with pytest.raises(CredentialsError) as err:
        s.get_key(view["id"])
    assert err.value.code == "not_an_api_key"
    assert oct(os.stat(s.path).st_mode & 0o777) == "0o600"


def test_api_key_accounts_show_their_kind(tmp_path):
    s = _store(tmp_path)
    view = s.add_account("alice", "https://alice.carto.com/", "k" * 20, "alice")
    assert (view["kind"], view["api_base_url"], view["expires_at"], view["status"]) == (
        "api_key",
        None,
        None,
        "ok",
    )
    # Stored as before: an account without "kind" is an API-key one.
    assert "kind" not in s.read()["accounts"][0]


def test_expired_oauth_is_login_required_and_a_new_token_fixes_it(tmp_path):
    s = _store(tmp_path)
    view = s.add_carto3_account(
        store.OAUTH, "alice", "https://api.example", "t" * 20, 1000, org=None
    )
    assert view["status"] == "login_required"
    view = s.set_token(view["id"], "u" * 20, 4_000_000_000)
    assert view["status"] == "ok"
    assert s.account(view["id"])["access_token"] == "u" * 20


def test_refused_m2m_client_is_login_required_until_a_token_arrives(tmp_path):
    s = _store(tmp_path)
    view = s.add_carto3_account(
        store.M2M,
        "m",
        "https://api.example",
        "t" * 20,
        4_000_000_000,
        client_id="c",
        client_secret="s",
    )
    assert s.set_token(view["id"], None, None, refused=True)["status"] == "login_required"
    assert s.account(view["id"])["access_token"] == "t" * 20
    assert s.set_token(view["id"], "u" * 20, 4_000_000_001)["status"] == "ok"


@pytest.mark.parametrize(
    "account, problem",
    [
        ({"id": "a", "kind": "oauth", "api_base_url": "https://x"}, "access_token"),
        (
            {"id": "a", "kind": "oauth", "api_base_url": "https://x", "access_token": "t"},
            "expires_at",
        ),
        (
            {
                "id": "a",
                "kind": "m2m",
                "api_base_url": "https://x",
                "access_token": "t",
                "expires_at": 1,
            },
            "client_id",
        ),
        ({"id": "a", "kind": "saml"}, "unknown kind"),
    ],
)
def test_store_shape_checks_each_kind(account, problem):
    data = store.empty_store()
    data["accounts"].append(account)
    assert problem in store._shape_problem(data)
