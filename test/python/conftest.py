"""Shared, opt-in fixtures: nothing here is autouse, so tests that do not name a fixture pay nothing.

- ``free_port()``: a free TCP port on 127.0.0.1.
- ``carto_api``: the local CARTO-compatible API (tools/carto_api) in a thread, one per session.
- ``JupyterServer``: a real jupyter_server (the one of /usr/bin/python3) in a subprocess with the
  carto_credentials extension, isolated Jupyter dirs and HOME, its log captured to a file;
  ``jupyter_server`` is one per test module (base URL ``/user/alice/``).
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

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
