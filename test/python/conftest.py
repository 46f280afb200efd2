"""Shared, opt-in fixtures: nothing here is autouse, so tests that do not name a fixture pay nothing
(pytest-jupyter's own autouse ``jp_asyncio_loop`` aside, which only hands each test an event loop).

- pytest-jupyter's server fixtures (``jp_serverapp``, ``jp_fetch``, ``jp_server_config``,
  ``jp_base_url``, ``jp_data_dir``…): an in-process jupyter_server per test. ``async def`` tests
  run on its loop.
- ``carto_rest``: a client for ``{base_url}carto-credentials/…`` of that in-process server (with our
  extension enabled by ``carto_server_config``, the store under ``jp_data_dir``).
- ``free_port()``: a free TCP port on 127.0.0.1.
- ``carto_api``: the local CARTO-compatible API (tools/carto_api) in a thread, one per session.
- ``JupyterServer``: a real jupyter_server in a subprocess (this venv's Python) with the
  carto_credentials extension, isolated Jupyter dirs and HOME, its stdout/stderr captured to a file;
  ``jupyter_server`` is one per test module (base URL ``/user/alice/``). For what only a separate
  process shows: everything the server really writes (not just log records), other processes.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def carto_api():
    """``(server, base_url)`` of a running local CARTO API; ``slowpoke`` sleeps 2 s."""
    from tools.carto_api import start_server

    server, base_url = start_server(slow_seconds=2.0)
    try:
        yield server, base_url
    finally:
        server.stop()


# --- the in-process server (pytest-jupyter) ----------------------------------------------


def carto_server_config(**carto_credentials):
    """A ``jp_server_config`` value: our extension on, ``c.CartoCredentials`` as given."""
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"carto_credentials": True}},
            "CartoCredentials": carto_credentials,
        }
    )


class RestAnswer:
    def __init__(self, response):
        self.status = response.code
        self.headers = response.headers
        self.text = (response.body or b"").decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.text[:500])


class CartoRest:
    """``await carto_rest.post("accounts", {...})`` → ``RestAnswer`` (never raises on 4xx/5xx).

    ``sent_keys`` collects every ``api_key`` sent in a body, for the key-never-logged checks.
    ``raw(method, "grants?path=%01a")`` sends a path and query string exactly as given.
    """

    def __init__(self, fetch, client=None, auth_header=None, base_url="/"):
        self._fetch = fetch
        self._client = client
        self._auth_header = auth_header or {}
        self._base_url = base_url
        self.sent_keys = set()

    async def raw(self, method, path_and_query, body=None, headers=None):
        """``method`` on ``{base_url}carto-credentials/{path_and_query}``, nothing re-encoded;
        ``body`` is bytes, str or None."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self._client.fetch(
            self._base_url + "carto-credentials/" + path_and_query,
            method=method,
            body=body,
            headers=dict(self._auth_header, **(headers or {})),
            raise_error=False,
            allow_nonstandard_methods=True,
            request_timeout=60,
        )
        return RestAnswer(response)

    async def jupyter(self, method, path, body=None):
        """A request to another Jupyter API, e.g. ``("PUT", "api/contents/a.ipynb", {...})``."""
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self._client.fetch(
            self._base_url + path,
            method=method,
            body=body,
            headers=self._auth_header,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        return RestAnswer(response)

    async def request(self, method, path, body=None, params=None, headers=None):
        if isinstance(body, (dict, list)):
            if isinstance(body, dict) and isinstance(body.get("api_key"), str):
                self.sent_keys.add(body["api_key"])
            body = json.dumps(body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        response = await self._fetch(
            "carto-credentials",
            path,
            method=method,
            body=body,
            params=params,
            headers=headers,
            raise_error=False,
        )
        return RestAnswer(response)

    async def get(self, path, **kwargs):
        return await self.request("GET", path, **kwargs)

    async def post(self, path, body=None, **kwargs):
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path, body=None, **kwargs):
        return await self.request("PUT", path, body, **kwargs)

    async def patch(self, path, body=None, **kwargs):
        return await self.request("PATCH", path, body, **kwargs)

    async def delete(self, path, **kwargs):
        return await self.request("DELETE", path, **kwargs)


@pytest.fixture
def carto_home(jp_environ, jp_home_dir, monkeypatch):
    """HOME is pytest-jupyter's; CARTOframes' creds.json then lives under it, never the real one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(jp_home_dir / ".config"))
    return jp_home_dir


@pytest.fixture
def carto_store_path(jp_data_dir):
    """Where the in-process server keeps accounts (the default under the Jupyter data dir)."""
    return str(jp_data_dir / "carto_credentials" / "accounts.json")


@pytest.fixture
def carto_rest(carto_home, jp_serverapp, jp_fetch, http_server_client, jp_auth_header, jp_base_url):
    """A REST client of the in-process server; ``jp_server_config`` must enable the extension."""
    assert "carto_credentials" in jp_serverapp.extension_manager.extensions, (
        "override jp_server_config with carto_server_config()"
    )
    return CartoRest(jp_fetch, http_server_client, jp_auth_header, jp_base_url)


# --- a separate server process -----------------------------------------------------------


class JupyterServer:
    """A jupyter_server subprocess; ``url(path)`` is under its base URL, ``http`` a token session."""

    def __init__(self, root, base_url="/user/alice/", args=(), env=None):
        import requests

        self.root = str(root)
        self.base_url = base_url
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.dirs = {}
        for name in ("config", "data", "runtime", "home", "xdg_config", "notebooks"):
            self.dirs[name] = os.path.join(self.root, name)
            os.makedirs(self.dirs[name], exist_ok=True)
        self.env = dict(
            os.environ,
            PYTHONPATH=REPO_ROOT,
            JUPYTER_CONFIG_DIR=self.dirs["config"],
            JUPYTER_DATA_DIR=self.dirs["data"],
            JUPYTER_RUNTIME_DIR=self.dirs["runtime"],
            HOME=self.dirs["home"],
            XDG_CONFIG_HOME=self.dirs["xdg_config"],
            JUPYTER_NO_CONFIG="1",
        )
        self.env.update(env or {})
        self.log_path = os.path.join(self.root, "server.log")
        self.store_path = os.path.join(self.dirs["data"], "carto_credentials", "accounts.json")
        self.creds_path = os.path.join(self.dirs["xdg_config"], "cartoframes", "creds.json")
        self.args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.jpserver_extensions={'carto_credentials': True}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=%d" % self.port,
            "--ServerApp.port_retries=0",
            "--ServerApp.token=%s" % self.token,
            "--ServerApp.allow_root=True",
            "--ServerApp.open_browser=False",
            "--ServerApp.base_url=%s" % base_url,
            "--ServerApp.root_dir=%s" % self.dirs["notebooks"],
            # Debug level: the access log of successful requests is then in the captured log too.
            "--ServerApp.log_level=DEBUG",
        ] + list(args)
        self.http = requests.Session()
        self.http.headers["Authorization"] = "token %s" % self.token
        self.proc = None

    def url(self, path=""):
        return "http://127.0.0.1:%d%s%s" % (self.port, self.base_url, path)

    def api(self, path=""):
        return self.url("carto-credentials/" + path)

    def start(self, timeout=30):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "jupyter_server exited with %s:\n%s" % (self.proc.returncode, self.log())
                )
            try:
                if self.http.get(self.url("api/status"), timeout=1).status_code == 200:
                    return self
            except Exception:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "jupyter_server did not start in %ss:\n%s" % (timeout, self.log())
                )
            time.sleep(0.1)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.http.close()
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """One jupyter_server per test module, base URL ``/user/alice/``, validation timeout 1 s (slowpoke sleeps 2)."""
    server = JupyterServer(
        tmp_path_factory.mktemp("jupyter"),
        args=["--CartoCredentials.validate_timeout=1.0"],
    ).start()
    try:
        yield server
    finally:
        server.stop()
