"""A local CARTO-compatible API for the demo and the tests (see README.md)."""

from .data import PUBLIC_KEY, USERS
from .server import CartoApiServer, start_server, stop

__all__ = ["CartoApiServer", "PUBLIC_KEY", "USERS", "start_server", "stop"]
