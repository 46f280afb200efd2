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
