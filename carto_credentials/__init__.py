"""One CARTO login for JupyterLab, shared by the sidebar, notebook code and map widgets.

Notebook code uses the ``cartoframes.auth``-compatible API exported here; the Jupyter server loads
``carto_credentials.server`` (the account store) through the hooks at the bottom.
"""

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "dev"

from . import _status_html  # noqa: F401  (gives Credentials its masked _repr_html_)
from .carto3 import carto_auth
from .credentials import Credentials
from .defaults import (
    get_default_credentials,
    resolve_credentials,
    set_default_credentials,
    unset_default_credentials,
)
from .errors import (
    AuthenticationError,
    CartoAPIError,
    CartoCredentialsError,
    CartoNetworkError,
    CartoTimeoutError,
    DOError,
    InvalidCredentialsError,
    NoCredentialsError,
    NotFoundError,
    QueryError,
    ServerError,
)
from .sql import sql

__all__ = [
    "Credentials",
    "set_default_credentials",
    "get_default_credentials",
    "unset_default_credentials",
    "resolve_credentials",
    "sql",
    "carto_auth",
    "CartoCredentialsError",
    "NoCredentialsError",
    "InvalidCredentialsError",
    "CartoAPIError",
    "AuthenticationError",
    "NotFoundError",
    "QueryError",
    "ServerError",
    "DOError",
    "CartoNetworkError",
    "CartoTimeoutError",
    "Map",
    "Layer",
    "Source",
]

_WIDGETS = ("Map", "Layer", "Source")


def __getattr__(name):
    # The map widgets load on first use, so `import carto_credentials` stays cheap in every kernel.
    if name in _WIDGETS:
        try:
            from . import widgets
        except ImportError as exc:
            if exc.name not in ("ipywidgets", "traitlets"):
                raise
            # A kernel of another environment (the silent bootstrap, or installed with --no-deps).
            raise ImportError(
                f"carto_credentials.{name} needs ipywidgets 8 in this kernel's environment, "
                "which does not have it: pip install 'ipywidgets>=8,<9' there (a plain "
                "`pip install jupyterlab-carto-credentials` brings it), then restart the kernel."
            ) from None
        return getattr(widgets, name)
    raise AttributeError("module 'carto_credentials' has no attribute %r" % name)


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-carto-credentials"}]


def _jupyter_server_extension_points():
    # The server part lives in its own module so that kernels never import jupyter_server.
    return [{"module": "carto_credentials.server"}]
