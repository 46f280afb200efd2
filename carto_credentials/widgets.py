"""Map widgets that never hold a key: ``Map``, ``Layer`` and ``Source``, as in cartoframes.

``Map(Layer('table'))``, ``Map([Layer('a', credentials=ca), Layer('SELECT …', credentials=cb)])``
and ``Layer(Source('table', credentials))`` speak Jupyter widget protocol 2.1 over a plain comm
(no ipywidgets: Debian's 6.0 speaks protocol 1). The widget state holds, per layer, the table or
SQL and an account *reference*: ``null`` for "this notebook's context", or the id under which
credentials given in code were registered with JupyterLab over the ``carto.credentials`` comm
(``register_credentials``). The view in the browser resolves the key at render time; widget state,
which notebooks may save, never contains it.
"""

import hashlib
import hmac
import logging
import re
import secrets

from . import kernel
from ._frontend import MODULE_NAME, MODULE_VERSION
from .credentials import as_credentials
from .defaults import get_default_credentials
from .errors import NoCredentialsError

log = logging.getLogger(__name__)

WIDGET_TARGET = "jupyter.widget"
WIDGET_PROTOCOL_VERSION = "2.1.0"
VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
MODEL_NAME = "CartoMapModel"
VIEW_NAME = "CartoMapView"
DEFAULT_HEIGHT = 400
MAX_SOURCE_LENGTH = 100_000

# Like cartoframes' ``is_sql_query``: a source that starts with SELECT or WITH is a query.
_SQL_START = re.compile(r"^\s*\(?\s*(select|with)\b", re.IGNORECASE)

# Salt for credential references: stable within this kernel process (re-running a cell reuses
# the reference), and a reference saved in a notebook reveals nothing about the key.
_REF_SALT = secrets.token_bytes(32)


def is_sql_query(source):
    return bool(_SQL_START.match(source))


def credentials_ref(credentials):
    """``rt-`` + 16 hex digits derived from the credentials (keyed hash, never the key)."""
    payload = kernel.changed_message(credentials)["credentials"]
    text = "|".join([payload["username"] or "", payload["base_url"], payload["api_key"]])
    digest = hmac.new(_REF_SALT, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return "rt-" + digest[:16]


def register_message(ref, credentials):
    """The kernel→frontend ``register_credentials`` message (docs/contracts.md §1)."""
    return {
        "version": kernel.PROTOCOL_VERSION,
        "type": "register_credentials",
        "ref": ref,
        "credentials": kernel.changed_message(credentials)["credentials"],
    }


def send_credentials_to_frontend(credentials):
    """Register credentials set in code with JupyterLab (now and on later connections).

    Returns the reference that widget state may hold in place of the key.
    """
    credentials = as_credentials(credentials)
    ref = credentials_ref(credentials)
    kernel.announce(ref, register_message(ref, credentials))
    return ref


class Source:
    """A table name or a SQL query, with optional credentials (``Source('table', creds)``)."""

    def __init__(self, source, credentials=None):
        if not isinstance(source, str) or not source.strip():
            raise ValueError("`source` must be a table name or a SQL query.")
        if len(source) > MAX_SOURCE_LENGTH:
            raise ValueError(f"`source` is longer than {MAX_SOURCE_LENGTH} characters.")
        self.source = source.strip()
        self.credentials = None if credentials is None else as_credentials(credentials)

    @property
    def is_query(self):
        return is_sql_query(self.source)

    def __repr__(self):
        return "Source({!r}{})".format(
            self.source, ", credentials=…" if self.credentials is not None else ""
        )


class Layer:
    """One map layer: ``Layer('table')``, ``Layer('SELECT …', credentials=c)``, ``Layer(Source)``."""

    def __init__(self, source, credentials=None):
        if isinstance(source, Source):
            if credentials is None:
                credentials = source.credentials
            source = source.source
        self.source = Source(source, credentials)

    @property
    def credentials(self):
        return self.source.credentials

    def state(self, ref):
        return {
            "source": self.source.source,
            "is_query": self.source.is_query,
            "credentials_ref": ref,
        }

    def __repr__(self):
        return f"Layer({self.source!r})"


def _create_comm(**kwargs):
    """A kernel comm: ``comm.create_comm`` when it is wired (ipykernel >= 6.18), else ipykernel's."""
    try:
        import comm

        return comm.create_comm(**kwargs)
    except (ImportError, NotImplementedError, AttributeError):
        pass
    from ipykernel.comm import Comm

    return Comm(**kwargs)


def _in_kernel():
    return kernel._current_kernel() is not None


class Map:
    """A map of one or many layers, drawn by JupyterLab with each layer's own credentials."""

    _comm_factory = staticmethod(_create_comm)

    def __init__(self, layers=None, height=DEFAULT_HEIGHT):
        self._height = _check_height(height)
        self._layers = _as_layers(layers)
        self._comm = None
        self._open()

    # -- public API --------------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    @layers.setter
    def layers(self, layers):
        self._layers = _as_layers(layers)
        self._send_update()

    @property
    def height(self):
        return self._height

    @height.setter
    def height(self, height):
        self._height = _check_height(height)
        self._send_update()

    @property
    def model_id(self):
        return None if self._comm is None else self._comm.comm_id

    def get_state(self):
        """The full widget state: module names, height and layers (references, never keys)."""
        layers = []
        for layer in self._layers:
            ref = None
            if layer.credentials is not None:
                ref = send_credentials_to_frontend(layer.credentials)
            layers.append(layer.state(ref))
        return {
            "_model_name": MODEL_NAME,
            "_model_module": MODULE_NAME,
            "_model_module_version": MODULE_VERSION,
            "_view_name": VIEW_NAME,
            "_view_module": MODULE_NAME,
            "_view_module_version": MODULE_VERSION,
            "_view_count": None,
            "_dom_classes": [],
            "tabbable": None,
            "tooltip": None,
            "height": self._height,
            "layers": layers,
        }

    def close(self):
        if self._comm is not None:
            comm, self._comm = self._comm, None
            try:
                comm.close()
            except Exception as exc:
                log.warning("Could not close the map widget comm: %s", type(exc).__name__)

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self)}
        if self._comm is not None:
            bundle[VIEW_MIMETYPE] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._comm.comm_id,
            }
        return bundle

    def __repr__(self):
        return "Map([{}])".format(", ".join(repr(layer) for layer in self._layers))

    # -- protocol ----------------------------------------------------------------------------

    def _open(self):
        if self._needs_default():
            found = get_default_credentials()
            if found is None:
                raise NoCredentialsError(kernel.missing_push_hint())
        factory = type(self)._comm_factory
        if factory is _create_comm and not _in_kernel():
            return  # plain Python (a script, a test): text/plain display only
        state = self.get_state()
        self._comm = factory(
            target_name=WIDGET_TARGET,
            data={"state": state, "buffer_paths": []},
            metadata={"version": WIDGET_PROTOCOL_VERSION},
        )
        self._comm.on_msg(self._on_msg)

    def _needs_default(self):
        return any(layer.credentials is None for layer in self._layers)

    def _on_msg(self, msg):
        try:
            data = msg["content"]["data"]
            method = data["method"]
        except (KeyError, TypeError):
            log.warning("Ignored a malformed message on the map widget comm.")
            return
        if method == "request_state":
            self._send_update()
        elif method == "update":
            # The state is owned by the kernel; the view never edits it. Echo ours so that every
            # frontend stays in sync (protocol 2.1).
            self._send({"method": "echo_update", "state": self.get_state(), "buffer_paths": []})
        elif method != "custom":
            log.warning("Ignored an unknown map widget message.")

    def _send_update(self):
        if self._needs_default() and get_default_credentials() is None:
            raise NoCredentialsError(kernel.missing_push_hint())
        self._send({"method": "update", "state": self.get_state(), "buffer_paths": []})

    def _send(self, data):
        if self._comm is not None:
            self._comm.send(data)


def _as_layers(layers):
    if layers is None:
        return []
    if isinstance(layers, (Layer, Source, str)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise ValueError("`layers` must be a Layer or a list of Layers.")
    return [layer if isinstance(layer, Layer) else Layer(layer) for layer in layers]


def _check_height(height):
    if isinstance(height, bool) or not isinstance(height, int) or not 100 <= height <= 4000:
        raise ValueError("`height` must be an integer number of pixels between 100 and 4000.")
    return height
