"""Map widgets that never hold a key: ``Map``, ``Layer`` and ``Source``, as in cartoframes.

``Map(Layer('table'))``, ``Map([Layer('a', credentials=ca), Layer('SELECT …', credentials=cb)])``
and ``Layer(Source('table', credentials))``. ``Map`` is an ipywidgets 8 ``DOMWidget`` (model
``CartoMapModel``, view ``CartoMapView``, module ``jupyterlab-carto-credentials``, see
``src/widgets/``), so embedding, saved widget state, Voilà and other front ends work as for any
widget. ``Layer`` and ``Source`` are traitlets objects, not widgets of their own: the front end's
state (``src/widgets/state.ts``) takes a map's layers as plain objects
``{source, is_query, credentials_ref}`` in its synced ``layers`` key, next to ``height``.
``credentials_ref`` is ``null`` for "this notebook's context", or the id under which credentials
given in code were registered with JupyterLab over the ``carto.credentials`` comm
(``register_credentials``). The view resolves the key at render time; widget state, which
notebooks and ``embed_minimal_html`` may save, never contains it.

The kernel owns the state: updates of ``layers``/``height`` from a front end are ignored.
This module imports ipywidgets; ``carto_credentials`` imports it only when ``Map``, ``Layer`` or
``Source`` is first used.
"""

import hashlib
import hmac
import logging
import re
import secrets

import ipywidgets
import traitlets

from . import kernel
from ._frontend import MODULE_NAME, MODULE_VERSION
from .credentials import as_credentials
from .defaults import get_default_credentials
from .errors import NoCredentialsError

log = logging.getLogger(__name__)

MODEL_NAME = "CartoMapModel"
VIEW_NAME = "CartoMapView"
DEFAULT_HEIGHT = 400
MAX_SOURCE_LENGTH = 100_000
MAX_LAYERS = 50  # src/widgets/state.ts
KERNEL_OWNED = ("layers", "height")

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


class Source(traitlets.HasTraits):
    """A table name or a SQL query, with optional credentials (``Source('table', creds)``).

    Raises ``ValueError`` for an empty source or one longer than ``MAX_SOURCE_LENGTH``
    characters; ``credentials`` go through ``as_credentials`` (a ``Credentials`` or a dict).
    """

    source = traitlets.Unicode(read_only=True)
    credentials = traitlets.Any(None, allow_none=True, read_only=True)

    def __init__(self, source, credentials=None):
        if not isinstance(source, str) or not source.strip():
            raise ValueError("`source` must be a table name or a SQL query.")
        if len(source) > MAX_SOURCE_LENGTH:
            raise ValueError(f"`source` is longer than {MAX_SOURCE_LENGTH} characters.")
        super().__init__()
        self.set_trait("source", source.strip())
        self.set_trait("credentials", None if credentials is None else as_credentials(credentials))

    @property
    def is_query(self):
        return is_sql_query(self.source)

    def __repr__(self):
        return "Source({!r}{})".format(
            self.source, ", credentials=…" if self.credentials is not None else ""
        )


class Layer(traitlets.HasTraits):
    """One map layer: ``Layer('table')``, ``Layer('SELECT …', credentials=c)``, ``Layer(Source)``.

    ``credentials`` given here win over a ``Source``'s own.
    """

    source = traitlets.Instance(Source, read_only=True)

    def __init__(self, source, credentials=None):
        if isinstance(source, Source):
            if credentials is None:
                credentials = source.credentials
            source = source.source
        super().__init__()
        self.set_trait("source", Source(source, credentials))

    @property
    def credentials(self):
        return self.source.credentials

    def state(self, ref):
        """This layer as the front end's state holds it (``ref``: ``None`` or an ``rt-`` id)."""
        return {
            "source": self.source.source,
            "is_query": self.source.is_query,
            "credentials_ref": ref,
        }

    def __repr__(self):
        return f"Layer({self.source!r})"


def layers_to_json(layers, widget=None):
    """The ``layers`` state: one ``Layer.state`` per layer, credentials by reference only.

    Credentials given in code are registered with JupyterLab on the way (``register_credentials``
    on every ``carto.credentials`` comm, now and later), which is what lets the view use them.
    """
    return [
        layer.state(
            None if layer.credentials is None else send_credentials_to_frontend(layer.credentials)
        )
        for layer in layers
    ]


class _Layers(traitlets.List):
    """A list of ``Layer``; also takes one Layer, a Source, a table/SQL string or a list of those.

    Raises ``ValueError`` for anything else, and ``NoCredentialsError`` when a layer without
    credentials of its own needs the default and there is none.
    """

    def __init__(self):
        super().__init__(traitlets.Instance(Layer))

    def validate(self, obj, value):
        layers = _as_layers(value)
        if any(layer.credentials is None for layer in layers) and get_default_credentials() is None:
            raise NoCredentialsError(kernel.missing_push_hint())
        return super().validate(obj, layers)


class _Height(traitlets.Int):
    """Pixels, an int from 100 to 4000; anything else is a ``ValueError`` that says so."""

    def validate(self, obj, value):
        return super().validate(obj, _check_height(value))


class Map(ipywidgets.DOMWidget):
    """A map of one or many layers, drawn by JupyterLab with each layer's own credentials.

    ``height`` is in pixels (100 to 4000). Raises ``ValueError`` for bad layers or height and
    ``NoCredentialsError`` (how to log in) when a layer needs the default credentials and there
    are none.
    """

    _model_name = traitlets.Unicode(MODEL_NAME).tag(sync=True)
    _model_module = traitlets.Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = traitlets.Unicode(MODULE_VERSION).tag(sync=True)
    _view_name = traitlets.Unicode(VIEW_NAME).tag(sync=True)
    _view_module = traitlets.Unicode(MODULE_NAME).tag(sync=True)
    _view_module_version = traitlets.Unicode(MODULE_VERSION).tag(sync=True)

    layers = _Layers().tag(sync=True, to_json=layers_to_json)
    height = _Height(DEFAULT_HEIGHT).tag(sync=True)

    def __init__(self, layers=None, height=DEFAULT_HEIGHT, **kwargs):
        super().__init__(layers=layers, height=height, **kwargs)

    def set_state(self, sync_data):
        """A front end's update: everything but the kernel-owned ``layers`` and ``height``."""
        ignored = [key for key in KERNEL_OWNED if key in sync_data]
        if ignored:
            log.warning("Ignored a front-end update of the map's %s.", ", ".join(ignored))
        super().set_state({k: v for k, v in sync_data.items() if k not in KERNEL_OWNED})

    def __repr__(self):
        return "Map([{}])".format(", ".join(repr(layer) for layer in self.layers))


def _as_layers(layers):
    if layers is None:
        return []
    if isinstance(layers, (Layer, Source, str)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise ValueError("`layers` must be a Layer or a list of Layers.")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"A map has at most {MAX_LAYERS} layers.")
    return [layer if isinstance(layer, Layer) else Layer(layer) for layer in layers]


def _check_height(height):
    if isinstance(height, bool) or not isinstance(height, int) or not 100 <= height <= 4000:
        raise ValueError("`height` must be an integer number of pixels between 100 and 4000.")
    return height
