"""Shared fixtures of the kernel-API tests: an isolated environment, a tiny CARTO-like HTTP
server on 127.0.0.1, a fake comm/kernel that records messages, and real kernels of the
development venvs (``Kernel``) on both ipykernel lines."""

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

KEY = "0123456789abcdef0123456789abcdef01234567"  # looks like a real 40-hex CARTO key
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARTUP = os.path.join(REPO, "carto_credentials", "startup", "zz-carto-credentials.py")
TARGET = "carto.credentials"
# The kernel Pythons of scripts/dev_install.py: ipykernel 7 (the default; the test runner's own
# venv) and 6.29, both with this checkout on their path and the startup file installed.
KERNEL_PYTHONS = {
    "ipykernel7": os.path.join(REPO, ".venv", "bin", "python"),
    "ipykernel6": os.path.join(REPO, ".venv-ipykernel6", "bin", "python"),
}
# ipykernel 6.29 without carto_credentials: a kernel of "another environment".
BARE_PYTHON = os.path.join(REPO, ".venv-kernel-bare", "bin", "python")


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
    kernel._bridge.reset()
    yield tmp_path
    defaults._code_default = None
    kernel._bridge.reset()


class FakeCarto:
    """Routes ``(method or '*', path)`` to ``(status, body, delay_s, headers)``; records every
    request (``basic``: the decoded Basic ``Authorization``, ``(user, key)`` or ``None``)."""

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
                        "basic": _basic(self.headers.get("Authorization")),
                    }
                )
                route = fake.routes.get((self.command, parts.path)) or fake.routes.get(
                    ("*", parts.path)
                )
                status, payload, delay, headers = route or (404, {"error": ["not found"]}, 0, {})
                if delay:
                    time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
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

    def route(self, path, status=200, payload=None, delay=0, method="*", headers=None):
        self.routes[(method, path)] = (
            status,
            {} if payload is None else payload,
            delay,
            dict(headers or {}),
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _basic(header):
    """``(user, key)`` of an HTTP Basic ``Authorization`` header, ``None`` without one."""
    if not header:
        return None
    import base64

    scheme, _, value = header.partition(" ")
    assert scheme == "Basic", header
    user, _, key = base64.b64decode(value).decode().partition(":")
    return (user, key)


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


# -- real kernels -----------------------------------------------------------------------------


def isolated_env(tmp, extra=None, startup=True, pythonpath=REPO):
    """Environment of a kernel or IPython process under ``tmp`` (a ``pathlib.Path``): its own
    IPYTHONDIR (with our startup file linked into the profile when ``startup``), HOME, Jupyter
    and XDG dirs; no ``CARTO_*``/``JPY_*`` variable of the caller; ``extra`` added last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTO_", "JPY_"))}
    startup_dir = tmp / "ipython" / "profile_default" / "startup"
    startup_dir.mkdir(parents=True, exist_ok=True)
    link = startup_dir / "zz-carto-credentials.py"
    if startup and not link.exists():
        link.symlink_to(STARTUP)
    (tmp / "home").mkdir(exist_ok=True)
    env.update(
        PYTHONPATH=pythonpath,
        IPYTHONDIR=str(tmp / "ipython"),
        HOME=str(tmp / "home"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    env.update(extra or {})
    return env


def kernel_spec_manager(tmp, python):
    """A spec manager that knows one kernel, ``carto-test``, run by ``python`` (explicit: no
    kernelspec of the machine or of a venv can be picked by accident)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp / "kernels" / "carto-test"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "carto test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(tmp / "kernels")])


class Kernel:
    """One kernel process and a blocking client; ``fresh()`` restarts it if it was used."""

    def __init__(self, env, spec_manager):
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="carto-test", kernel_spec_manager=spec_manager)
        self.km.start_kernel(env=env, cwd=env["HOME"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.used = False

    def fresh(self):
        if self.used:
            self.km.restart_kernel(now=True)
            self.kc.wait_for_ready(timeout=60)
            self._drain()
        self.used = True
        return self

    def _drain(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.2)
            except Exception:
                return

    def open_comm(self, data, target=TARGET):
        comm_id = uuid.uuid4().hex
        msg = self.kc.session.msg(
            "comm_open", {"comm_id": comm_id, "target_name": target, "data": data}
        )
        self.kc.shell_channel.send(msg)
        return comm_id

    def comm_msg(self, comm_id, data):
        self.kc.shell_channel.send(
            self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        )

    def execute(self, code):
        return self.kc.execute(code, store_history=False)

    def collect(self, msg_id, timeout=10):
        """stdout, stderr/tracebacks and kernel comm traffic of one request, until idle."""
        out = {"stdout": "", "errors": "", "comm": [], "comm_close": []}
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_close":
                out["comm_close"].append(content["comm_id"])
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if kind == "stream":
                out["stdout" if content["name"] == "stdout" else "errors"] += content["text"]
            elif kind == "error":
                out["errors"] += "\n".join(content["traceback"])
            elif kind == "comm_msg":
                out["comm"].append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                return out

    def events_until_idle(self, msg_id, timeout=10):
        """Every IOPub message, in order, as ``(kind, parent msg_id)`` (status: the state), with
        ``("stdout", parent, text)`` for output, until ``msg_id`` is idle."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            kind, content = msg["msg_type"], msg["content"]
            parent = msg["parent_header"].get("msg_id")
            if kind == "status":
                events.append((content["execution_state"], parent))
                if content["execution_state"] == "idle" and parent == msg_id:
                    return events
            elif kind == "stream":
                events.append((content["name"], parent, content["text"]))
            elif kind in ("comm_open", "comm_close", "comm_msg"):
                events.append((kind, content["comm_id"]))
            else:
                events.append((kind, parent))

    @staticmethod
    def stdout_of(msg_id, events):
        return "".join(e[2] for e in events if e[:2] == ("stdout", msg_id))

    def run(self, code, timeout=10):
        return self.collect(self.execute(code), timeout)

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


class FakeClock:
    """A ``time.time``-like clock that stands still until a test moves ``now`` (seconds)."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now
