"""Map widgets that never hold a key: ``Map``, ``Layer`` and ``Source``, as in cartoframes.

``Map(Layer('table'))``, ``Map([Layer('a', credentials=ca), Layer('SELECT …', credentials=cb)])``
and ``Layer(Source('table', credentials))``. All three are ipywidgets 8 models of the front-end
module ``jupyterlab-carto-credentials`` (``src/widgets/``), laid out as ipywidgets-ecosystem map
libraries do (ipyleaflet): ``Map`` is a ``DOMWidget`` (``CartoMapModel``/``CartoMapView``) whose
synced ``layers`` are references (``"IPY_MODEL_<id>"``) to ``Layer`` widgets
(``CartoLayerModel``), each referencing a ``Source`` widget (``CartoSourceModel``: ``source``,
``is_query``, ``credentials_ref``). ``Layer`` and ``Source`` are plain ``Widget``s: models without
a view, as they are never shown on their own. Embedding, saved widget state, Voilà and other
front ends therefore work as for any widget.

``credentials_ref`` is ``null`` for "this notebook's context", or the id under which credentials
given in code were registered with JupyterLab over the ``carto.credentials`` comm
(``register_credentials``). The view resolves the key at render time; widget state, which
notebooks and ``embed_minimal_html`` may save, never contains it.

The kernel owns the state: front-end updates of ``layers``/``height`` and of the layers' and
sources' state are ignored. This module imports ipywidgets; ``carto_credentials`` imports it only
when ``Map``, ``Layer`` or ``Source`` is first used.
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
LAYER_MODEL_NAME = "CartoLayerModel"
SOURCE_MODEL_NAME = "CartoSourceModel"
DEFAULT_HEIGHT = 400
MAX_SOURCE_LENGTH = 100_000
MAX_LAYERS = 50  # src/widgets/state.ts

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
    kernel.send_to_every_frontend(ref, register_message(ref, credentials))
    return ref


class _KernelOwned:
    """Mixin for the widgets here: the kernel owns their state, a front end's update of it is
    ignored (with a warning); ipywidgets handles the rest of the update as usual."""

    _kernel_owned = ()

    def set_state(self, sync_data):
        ignored = [key for key in self._kernel_owned if key in sync_data]
        if ignored:
            log.warning(
                "Ignored a front-end update of the %s's %s.",
                type(self).__name__.lower(),
                ", ".join(ignored),
            )
        super().set_state({k: v for k, v in sync_data.items() if k not in self._kernel_owned})


class _ModelOnly(_KernelOwned, ipywidgets.Widget):
    """A model of our front-end module with no view: it is part of a ``Map``, not shown alone
    (displaying one shows its text form)."""

    _model_module = traitlets.Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = traitlets.Unicode(MODULE_VERSION).tag(sync=True)


class Source(_ModelOnly):
    """A table name or a SQL query, with optional credentials (``Source('table', creds)``).

    A widget model (``CartoSourceModel``) without a view of its own. Its synced state is
    ``source``, ``is_query`` and ``credentials_ref`` (``None``, or the ``rt-`` reference under
    which the credentials were registered with JupyterLab); the credentials themselves stay in
    the kernel (``credentials``, not synced). All read-only: make a new ``Source`` instead.
    Raises ``ValueError`` for an empty source or one longer than ``MAX_SOURCE_LENGTH``
    characters; ``credentials`` go through ``as_credentials`` (a ``Credentials`` or a dict).
    """

    _model_name = traitlets.Unicode(SOURCE_MODEL_NAME).tag(sync=True)

    source = traitlets.Unicode(read_only=True).tag(sync=True)
    is_query = traitlets.Bool(False, read_only=True).tag(sync=True)
    credentials_ref = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    credentials = traitlets.Any(None, allow_none=True, read_only=True)  # never synced

    _kernel_owned = ("source", "is_query", "credentials_ref")

    def __init__(self, source, credentials=None, **kwargs):
        if not isinstance(source, str) or not source.strip():
            raise ValueError("`source` must be a table name or a SQL query.")
        if len(source) > MAX_SOURCE_LENGTH:
            raise ValueError(f"`source` is longer than {MAX_SOURCE_LENGTH} characters.")
        credentials = None if credentials is None else as_credentials(credentials)
        # Set before ipywidgets opens the comm, so the front end's first state is complete, and
        # the credentials are registered before any view can ask for them.
        self.set_trait("source", source.strip())
        self.set_trait("is_query", is_sql_query(source))
        self.set_trait("credentials", credentials)
        self.set_trait(
            "credentials_ref",
            None if credentials is None else send_credentials_to_frontend(credentials),
        )
        super().__init__(**kwargs)

    def __repr__(self):
        return "Source({!r}{})".format(
            self.source, ", credentials=…" if self.credentials is not None else ""
        )


class _SourceTrait(traitlets.Instance):
    """A ``Source``; a table name or SQL query becomes a ``Source`` with the credentials of the
    layer's current one (none at first)."""

    def __init__(self):
        super().__init__(Source)

    def validate(self, obj, value):
        if isinstance(value, str):
            current = obj._trait_values.get(self.name)
            value = Source(value, current.credentials if current is not None else None)
        return super().validate(obj, value)


class Layer(_ModelOnly):
    """One map layer: ``Layer('table')``, ``Layer('SELECT …', credentials=c)``, ``Layer(Source)``.

    A widget model (``CartoLayerModel``) without a view of its own, whose ``source`` is a
    ``Source`` widget (``"IPY_MODEL_<id>"`` in its state). ``credentials`` given here win over a
    ``Source``'s own (the layer then gets a new ``Source``). Kernel code may assign ``source``: a
    ``Source``, or a table name or query (which keeps the layer's credentials); the maps showing
    the layer redraw it.
    """

    _model_name = traitlets.Unicode(LAYER_MODEL_NAME).tag(sync=True)

    source = _SourceTrait().tag(sync=True, **ipywidgets.widget_serialization)

    _kernel_owned = ("source",)

    def __init__(self, source, credentials=None, **kwargs):
        if isinstance(source, Source):
            if credentials is not None:
                source = Source(source.source, credentials)
        else:
            source = Source(source, credentials)
        super().__init__(source=source, **kwargs)

    @property
    def credentials(self):
        return self.source.credentials

    def __repr__(self):
        return f"Layer({self.source!r})"


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


class Map(_KernelOwned, ipywidgets.DOMWidget):
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

    layers = _Layers().tag(sync=True, **ipywidgets.widget_serialization)
    height = _Height(DEFAULT_HEIGHT).tag(sync=True)

    _kernel_owned = ("layers", "height")

    def __init__(self, layers=None, height=DEFAULT_HEIGHT, **kwargs):
        super().__init__(layers=layers, height=height, **kwargs)

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
