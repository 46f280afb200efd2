"""carto_credentials.server.validate: input rules and the live check against the local CARTO API."""

import asyncio

import pytest
from conftest import free_port

from carto_credentials.server.errors import CredentialsError
from carto_credentials.server.validate import check_live, normalise_base_url, resolve_account

ALICE_KEY = "alice-demo-key-0001"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://alice.carto.com", "https://alice.carto.com/"),
        ("https://alice.carto.com/", "https://alice.carto.com/"),
        ("HTTPS://Alice.CARTO.com", "https://alice.carto.com/"),
        ("https://onprem.example/user/alice", "https://onprem.example/user/alice/"),
        ("https://onprem.example:8443/user/alice/", "https://onprem.example:8443/user/alice/"),
        ("https://[::1]:8443/", "https://[::1]:8443/"),
        ("https://fake_user.carto.com/", "https://fake_user.carto.com/"),
    ],
)
def test_base_url_is_normalised(given, expected):
    assert normalise_base_url(given) == expected


@pytest.mark.parametrize(
    "given, code",
    [
        ("http://alice.carto.com", "not_https"),
        ("alice.carto.com", "bad_url"),
        ("ftp://alice.carto.com", "bad_url"),
        ("https://user:pw@alice.carto.com/", "bad_url"),
        ("https://alice.carto.com/?api_key=x", "bad_url"),
        ("https://alice.carto.com/#x", "bad_url"),
        ("https://alice.carto.com/?", "bad_url"),
        ("https:///path", "bad_url"),
        ("https://al ice.carto.com/", "bad_url"),
        ("https://bad!host.carto.com/", "bad_url"),
        ("https://-x.carto.com/", "bad_url"),
        ("https://alice.carto.com:99999/", "bad_url"),
        ("https://x.example/a/../b", "bad_url"),
        ("", "bad_url"),
        ("https://x.example/" + "a" * 2100, "bad_url"),
    ],
)
def test_bad_base_urls_are_refused_with_a_code(given, code):
    with pytest.raises(CredentialsError) as err:
        normalise_base_url(given)
    assert (err.value.status, err.value.code) == (400, code)
    assert err.value.message


def test_http_only_when_allowed():
    assert (
        normalise_base_url("http://127.0.0.1:8080", allow_non_https=True)
        == "http://127.0.0.1:8080/"
    )


@pytest.mark.parametrize(
    "username, base_url, expected",
    [
        ("alice", None, ("alice", "https://alice.carto.com/")),
        (
            "fake_user",
            "https://turtleland.com/user/fake_user",
            ("fake_user", "https://turtleland.com/user/fake_user/"),
        ),
        (None, "https://turtleland.com/user/bob/", ("bob", "https://turtleland.com/user/bob/")),
        (None, "https://carol.carto.com", ("carol", "https://carol.carto.com/")),
        (None, "https://maps.example.org/", (None, "https://maps.example.org/")),
    ],
)
def test_resolve_account_like_cartoframes(username, base_url, expected):
    assert resolve_account(username, base_url) == expected


@pytest.mark.parametrize("username", ["", " ", "a b", "-x", "x" * 64, "al/ice", "alice.carto.com"])
def test_bad_usernames_are_refused(username):
    with pytest.raises(CredentialsError) as err:
        resolve_account(username, None)
    assert err.value.code == "bad_username"


def test_neither_username_nor_base_url_is_refused():
    with pytest.raises(CredentialsError) as err:
        resolve_account(None, None)
    assert err.value.code == "bad_request"


def live(base_url, key, timeout=2.0):
    return asyncio.run(check_live(base_url, key, timeout=timeout))


def test_live_ok_cloud_style(carto_api):
    _, base = carto_api
    result = live(base, ALICE_KEY)
    assert result["ok"] is True and result["base_url"] == base
    assert result["user_info"]["username"] == "alice"
    assert result["user_info"]["email"] == "alice@example.com"
    assert ALICE_KEY not in repr(result)


def test_live_on_prem_keeps_the_user_path(carto_api):
    server, base = carto_api
    result = live(base + "user/bob/", "default_public")
    assert result["ok"] is True and result["user_info"]["username"] == "bob"
    assert server.requests[-1]["path"] == "/user/bob/api/v3/me"


@pytest.mark.parametrize(
    "path, key, code",
    [
        ("user/alice/", "wrong-key", "bad_key"),
        ("user/alice/", "bob-demo-key-0002", "bad_key"),
        ("", "wrong-key", "bad_key"),
        ("user/nobody/", ALICE_KEY, "unknown_user"),
        ("user/teapot/", "teapot-demo-key", "not_carto"),
        ("user/broken/", "broken-demo-key", "server_error"),
        ("nothing-here/", ALICE_KEY, "unknown_user"),
    ],
)
def test_live_failures_are_classified(carto_api, path, key, code):
    _, base = carto_api
    result = live(base + path, key)
    assert result["ok"] is False and result["code"] == code
    assert result["message"] and key not in result["message"]


def test_live_timeout(carto_api):
    _, base = carto_api  # slowpoke sleeps 2 s
    result = live(base + "user/slowpoke/", "slowpoke-demo-key", timeout=0.3)
    assert result["code"] == "timeout" and "0.3 seconds" in result["message"]


def test_live_unreachable():
    result = live("http://127.0.0.1:%d/" % free_port(), ALICE_KEY)
    assert result["code"] == "unreachable"
    assert ALICE_KEY not in result["message"]
