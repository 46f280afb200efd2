"""Shared, opt-in fixtures: nothing here is autouse, so tests that do not name a fixture pay nothing.

- ``free_port()``: a free TCP port on 127.0.0.1.
- ``carto_api``: the local CARTO-compatible API (tools/carto_api) in a thread, one per session.
- ``jupyter_server_factory`` lives in ``server_harness.py`` and is exposed by the server tests.
"""
import os
import socket
import sys

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
    """``(server, base_url)`` of a running local CARTO API; ``slowpoke`` sleeps 1 s."""
    from tools.carto_api import start_server

    server, base_url = start_server(slow_seconds=1.0)
    try:
        yield server, base_url
    finally:
        server.stop()
