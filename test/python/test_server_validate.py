"""carto_credentials.server.validate: input rules and the live check against the local CARTO API."""

import asyncio
import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


async def live(base_url, key, timeout=2.0, username=None):
    return await check_live(base_url, key, timeout=timeout, username=username)


async def test_live_ok_cloud_style(carto_api):
    server, base = carto_api
    result = await live(base, ALICE_KEY)
    assert result["ok"] is True and result["base_url"] == base
    assert result["user_info"]["username"] == "alice"
    assert result["user_info"]["email"] == "alice@example.com"
    assert ALICE_KEY not in repr(result)
    # The key went in the Authorization header (HTTP Basic), not in the URL.
    assert server.requests[-1]["key_in"] == "header"


async def test_live_on_prem_keeps_the_user_path(carto_api):
    server, base = carto_api
    result = await live(base + "user/bob/", "default_public", username="bob")
    assert result["ok"] is True and result["user_info"]["username"] == "bob"
    assert server.requests[-1]["path"] == "/user/bob/api/v3/me"
    assert server.requests[-1]["key_in"] == "header"


async def test_live_sends_username_and_key_as_basic_auth_and_nothing_in_the_url(recorder):
    recorder.answer(200, {"user_data": {"username": "alice"}})
    result = await live(recorder.url + "user/alice/", ALICE_KEY, username="alice")
    assert result["ok"] is True
    (request,) = recorder.requests
    assert request["path"] == "/user/alice/api/v3/me"
    assert request["authorization"] == "Basic " + base64.b64encode(
        ("alice:" + ALICE_KEY).encode()
    ).decode("ascii")
    assert request["user_agent"] == "jupyterlab-carto-credentials"


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
async def test_live_failures_are_classified(carto_api, path, key, code):
    _, base = carto_api
    result = await live(base + path, key)
    assert result["ok"] is False and result["code"] == code
    assert result["message"] and key not in result["message"]


async def test_live_timeout(carto_api):
    _, base = carto_api  # slowpoke sleeps 2 s
    result = await live(base + "user/slowpoke/", "slowpoke-demo-key", timeout=0.3)
    assert result["code"] == "timeout" and "0.3 seconds" in result["message"]


async def test_live_timeout_does_not_block_the_event_loop(carto_api):
    _, base = carto_api
    ticks = []

    async def tick():
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    started = time.monotonic()
    result, _ = await asyncio.gather(
        live(base + "user/slowpoke/", "slowpoke-demo-key", timeout=0.5), tick()
    )
    assert result["code"] == "timeout"
    # The loop kept running while requests waited in its thread.
    assert len(ticks) == 5 and ticks[-1] - started < 0.4


async def test_live_unreachable():
    result = await live("http://127.0.0.1:%d/" % free_port(), ALICE_KEY)
    assert result["code"] == "unreachable"
    assert ALICE_KEY not in result["message"]


async def test_live_dns_failure(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = await live("https://nowhere.example/", ALICE_KEY)
    assert result["code"] == "unreachable" and "(DNS)" in result["message"]
    assert "nowhere.example" in result["message"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_reported_not_followed(recorder, status):
    # Even to the same host: the Authorization header would go along.
    recorder.answer(
        status, {}, location="https://elsewhere.example/user/x/api/v3/me?next=" + ALICE_KEY
    )
    result = await live(recorder.url, ALICE_KEY)
    assert result["ok"] is False and result["code"] == "not_carto"
    assert (
        "redirect (HTTP %d) to https://elsewhere.example/user/x/api/v3/me" % status
        in (result["message"])
    )
    assert "check the base URL" in result["message"] and "https" in result["message"]
    assert ALICE_KEY not in result["message"] and "next=" not in result["message"]
    assert len(recorder.requests) == 1


async def test_oversized_answer_is_not_carto(recorder):
    recorder.answer(200, b"{" + b" " * (2 * 1024 * 1024) + b"}")
    result = await live(recorder.url, ALICE_KEY)
    assert result["code"] == "not_carto"


class Recorder:
    """An HTTP server answering every request with one canned answer; records the headers."""

    def __init__(self):
        self.requests = []
        self.status, self.body, self.location = 200, b"{}", None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.requests.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "user_agent": self.headers.get("User-Agent"),
                    }
                )
                self.send_response(recorder.status)
                if recorder.location:
                    self.send_header("Location", recorder.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(recorder.body)))
                self.end_headers()
                try:
                    self.wfile.write(recorder.body)
                except OSError:  # the client stopped reading (the oversized answer)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def answer(self, status, body, location=None):
        self.status, self.location = status, location
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


# --- issue 10 item 9: what the live check calls, and what it keeps -------------------------


@pytest.mark.parametrize(
    "host, addresses, refused",
    [
        ("169.254.169.254", (), "a cloud metadata service"),
        ("169.254.0.1", (), "link-local"),
        ("fe80::1", (), "link-local"),
        ("[fe80::1%eth0]", (), "link-local"),
        ("fd00:ec2::254", (), "a cloud metadata service"),
        ("::ffff:169.254.169.254", (), "a cloud metadata service"),
        ("64:ff9b::a9fe:a9fe", (), "a cloud metadata service"),  # NAT64
        ("2002:a9fe:a9fe::1", (), "a cloud metadata service"),  # 6to4
        ("100.100.100.200", (), "a cloud metadata service"),
        ("metadata.google.internal", (), "a cloud metadata service"),
        ("Metadata.Google.Internal.", (), "a cloud metadata service"),
        ("metadata", (), "a cloud metadata service"),
        ("instance-data.ec2.internal", (), "a cloud metadata service"),
        ("carto.example", ("93.184.216.34", "169.254.169.254"), "a cloud metadata service"),
        ("carto.example", ("fe80::abcd",), "link-local"),
        ("carto.example", ("93.184.216.34",), None),
        ("10.0.0.5", (), None),
        ("192.168.1.10", (), None),
        ("172.16.4.4", (), None),
        ("fd12::1", (), None),
        ("127.0.0.1", (), None),
        ("onprem.example", ("10.20.30.40",), None),
    ],
)
def test_host_problem(host, addresses, refused):
    from carto_credentials.server.validate import host_problem

    problem = host_problem(host, addresses)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and problem.endswith(refused), problem


async def test_a_name_resolving_to_a_refused_address_is_not_called(recorder, monkeypatch):
    from carto_credentials.server import validate

    monkeypatch.setattr(validate, "_resolve", lambda host, port: ("10.1.1.1", "169.254.169.254"))
    result = await live("http://carto.example:%d/" % recorder.server.server_address[1], ALICE_KEY)
    assert result["code"] == "forbidden_host"
    assert "carto.example (169.254.169.254) is a cloud metadata service" in result["message"]
    assert recorder.requests == []


async def test_the_connected_peer_is_checked_too(recorder, monkeypatch):
    # DNS answered an allowed address to the check, the connection reached a refused one
    # (DNS rebinding): here 127.0.0.1 plays the metadata service.
    import ipaddress

    from carto_credentials.server import validate

    monkeypatch.setattr(validate, "_resolve", lambda host, port: ("10.1.1.1",))
    monkeypatch.setattr(
        validate, "METADATA_ADDRESSES", frozenset({ipaddress.ip_address("127.0.0.1")})
    )
    recorder.answer(200, {"user_data": {"username": "alice"}})
    result = await live("http://localhost:%d/" % recorder.server.server_address[1], ALICE_KEY)
    assert result["code"] == "forbidden_host", result
    assert "(127.0.0.1) is a cloud metadata service" in result["message"]
    assert recorder.requests == []


async def test_link_local_hosts_are_called_when_the_administrator_allows_them(monkeypatch):
    from carto_credentials.server import validate

    called = []

    def fake_fetch(base_url, username, api_key, timeout, check_peer=True):
        called.append((base_url, check_peer))
        return 200, {}, b'{"user_data": {"username": "alice"}}'

    monkeypatch.setattr(validate, "_fetch_me", fake_fetch)
    result = await check_live("http://169.254.1.2/", ALICE_KEY, allow_link_local=True)
    assert result["ok"] is True and called == [("http://169.254.1.2/", False)]


async def test_only_documented_user_fields_are_kept_each_within_its_length(recorder):
    recorder.answer(
        200,
        {
            "user_data": {
                "id": "4f9a0c3e-1b2d-4c5e-8f70-9a1b2c3d4e5f",
                "username": "alice",
                "name": "x" * 201,
                "email": "alice\u202e@example.com",
                "avatar_url": "javascript:alert(1)",
                "base_url": "https://alice.carto.com/",
                "account_type": ["Enterprise"],
                "quota_in_bytes": True,
                "remaining_byte_quota": 12.5,
                "org_admin": True,
                "aws_secret_access_key": "AKIA-not-a-carto-field",
                "api_key_echo": ALICE_KEY,
            }
        },
    )
    result = await live(recorder.url, ALICE_KEY)
    assert result["user_info"] == {
        "id": "4f9a0c3e-1b2d-4c5e-8f70-9a1b2c3d4e5f",
        "username": "alice",
        "base_url": "https://alice.carto.com/",
        "remaining_byte_quota": 12.5,
    }


@pytest.mark.parametrize(
    "value, kept",
    [
        ("a" * 200, True),
        ("a" * 201, False),
        ("Alice\nBob", False),
        ("Alice\u2028", False),
        ("Alice\x85", False),
        ("\ud800", False),
        ("", False),
        (7, False),
        ("Ana María 地図", True),
        ("has %s in it" % ALICE_KEY, False),
    ],
)
def test_user_info_name_rules(value, kept):
    from carto_credentials.server.validate import user_info

    assert (user_info({"name": value}, ALICE_KEY) == {"name": value}) is kept


async def test_a_deeply_nested_answer_is_not_carto(recorder):
    recorder.answer(200, b'{"user_data": ' + b"[" * 100000 + b"]" * 100000 + b"}")
    result = await live(recorder.url, ALICE_KEY)
    assert result["code"] == "not_carto"
