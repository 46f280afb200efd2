"""Shared fixtures of the kernel-API tests: an isolated environment, a tiny CARTO-like HTTP
server on 127.0.0.1, and a fake comm/kernel that records messages."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

KEY = "0123456789abcdef0123456789abcdef01234567"  # looks like a real 40-hex CARTO key


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real user file, env variable or leftover state can leak into a test."""
    from carto_credentials import defaults, kernel

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    for name in (
        "CARTO_USERNAME",
        "CARTO_API_KEY",
        "CARTO_BASE_URL",
        "CARTO_ALLOW_NON_SECURE",
        "JPY_SESSION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    defaults._code_default = None
    kernel._reset_for_tests()
    yield tmp_path
    defaults._code_default = None
    kernel._reset_for_tests()


class FakeCarto:
    """Routes ``(method or '*', path)`` to ``(status, body, delay_s)``; records every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if body:
                    params.update({k: v[0] for k, v in parse_qs(body).items()})
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "params": params,
                        "raw_query": parts.query,
                        "user_agent": self.headers.get("User-Agent"),
                    }
                )
                route = fake.routes.get((self.command, parts.path)) or fake.routes.get(
                    ("*", parts.path)
                )
                status, payload, delay = route or (404, {"error": ["not found"]}, 0)
                if delay:
                    time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def route(self, path, status=200, payload=None, delay=0, method="*"):
        self.routes[(method, path)] = (status, {} if payload is None else payload, delay)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def carto():
    server = FakeCarto()
    yield server
    server.close()


class FakeComm:
    """Quacks like ipykernel's / comm's ``Comm`` as far as the bridge uses it."""

    _ids = iter(range(1, 1_000_000))

    def __init__(self):
        self.comm_id = f"comm-{next(self._ids)}"
        self.sent = []
        self.msg_callback = None
        self.close_callback = None

    def on_msg(self, callback):
        self.msg_callback = callback

    def on_close(self, callback):
        self.close_callback = callback

    def send(self, data):
        self.sent.append(data)

    # Frontend side helpers
    def receive(self, data):
        self.msg_callback({"content": {"comm_id": self.comm_id, "data": data}})

    def close_from_frontend(self):
        self.close_callback({"content": {"comm_id": self.comm_id, "data": {}}})


class FakeCommManager:
    def __init__(self):
        self.targets = {}

    def register_target(self, name, callback):
        self.targets[name] = callback

    def open(self, data):
        comm = FakeComm()
        self.targets["carto.credentials"](
            comm,
            {
                "content": {
                    "comm_id": comm.comm_id,
                    "target_name": "carto.credentials",
                    "data": data,
                }
            },
        )
        return comm


class FakeKernel:
    def __init__(self):
        self.comm_manager = FakeCommManager()


def push_message(
    state="granted",
    username="alice",
    base_url="https://alice.carto.com/",
    api_key=KEY,
    account_id="acc-1",
    **extra,
):
    account = None
    if state in ("granted", "public"):
        account = {
            "id": account_id,
            "label": "alice (team)",
            "username": username,
            "base_url": base_url,
            "api_key": api_key,
        }
    message = {
        "version": 1,
        "type": "set_credentials",
        "session_path": "work/map.ipynb",
        "kernel_id": "k-1",
        "state": state,
        "account": account,
    }
    message.update(extra)
    return message
