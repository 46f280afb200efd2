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

CARTO 3 sources (``Layer('SELECT …' or 'project.dataset.table', connection='carto_dw')``, as
pydeck-carto's ``vector_query_source``/``vector_table_source`` name them) add ``connection`` and
``account_ref`` to the source's state: ``null`` for the notebook's CARTO 3 login, or the id of a
CARTO 3 account of the CARTO panel (``account='acc-…'``). The view takes that account's access
token from JupyterLab's in-memory token cache at render time; no token is ever in the state.

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

from . import carto3, kernel
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

# A CARTO 3 connection name and a stored account id (src/widgets/state.ts).
_CONNECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

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


def _carto3_reference(credentials, connection, account):
    """``(connection, account_ref)`` of a source, checked: ``(None, None)`` for an API-key one.

    A CARTO 3 source has a ``connection`` and draws with the notebook's CARTO 3 login
    (``credentials`` ``None`` or ``carto_credentials.carto_auth()``, which is that login) or the
    stored account ``account`` names; never with API-key credentials nor with a token given in
    code (it would have to enter the widget state or travel to JupyterLab).
    """
    if connection is None:
        if account is not None:
            raise ValueError(
                "`account` names a CARTO 3 account: give the layer's `connection` too "
                "(e.g. connection='carto_dw'), or pass API-key credentials with `credentials=`."
            )
        return None, None
    if not isinstance(connection, str) or not _CONNECTION.match(connection):
        raise ValueError(
            "`connection` must be the name of a CARTO 3 connection, e.g. 'carto_dw' "
            "(letters, digits, '_', '-', '.')."
        )
    if account is not None and (not isinstance(account, str) or not _ACCOUNT_ID.match(account)):
        raise ValueError(
            "`account` must be the id of a CARTO 3 account of the CARTO panel (e.g. 'acc-…'), "
            "or None for this notebook's CARTO 3 login."
        )
    if credentials is not None and not isinstance(credentials, carto3.SharedLogin):
        if account is not None:
            raise ValueError("Give either `credentials` or `account` for a layer, not both.")
        raise ValueError(
            "A CARTO 3 source (`connection=`) draws with a CARTO 3 login of the CARTO panel, "
            "never with credentials given in code (an API key, or a token that would end up in "
            "the notebook): leave out `credentials` for this notebook's login, pass "
            "`account='acc-…'` for another account of the panel, or drop `connection` to draw "
            "a CARTO 2 table with these credentials."
        )
    return connection, account


class Source(_ModelOnly):
    """A table name or a SQL query, with optional credentials (``Source('table', creds)``).

    A widget model (``CartoSourceModel``) without a view of its own. Its synced state is
    ``source``, ``is_query``, ``credentials_ref`` (``None``, or the ``rt-`` reference under
    which the credentials were registered with JupyterLab), ``connection`` and ``account_ref``;
    the credentials themselves stay in the kernel (``credentials``, not synced). All read-only:
    make a new ``Source`` instead. Raises ``ValueError`` for an empty source or one longer than
    ``MAX_SOURCE_LENGTH`` characters; ``credentials`` go through ``as_credentials`` (a
    ``Credentials`` or a dict).

    CARTO 3: ``Source(query_or_table, connection='carto_dw')`` queries that connection with the
    notebook's CARTO 3 login, or with the panel's account ``account='acc-…'``; ``ValueError``
    (what to do) for API-key credentials or a token with a connection, or ``account`` without one.
    """

    _model_name = traitlets.Unicode(SOURCE_MODEL_NAME).tag(sync=True)

    source = traitlets.Unicode(read_only=True).tag(sync=True)
    is_query = traitlets.Bool(False, read_only=True).tag(sync=True)
    credentials_ref = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    connection = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    account_ref = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    credentials = traitlets.Any(None, allow_none=True, read_only=True)  # never synced

    _kernel_owned = ("source", "is_query", "credentials_ref", "connection", "account_ref")

    def __init__(self, source, credentials=None, connection=None, account=None, **kwargs):
        if not isinstance(source, str) or not source.strip():
            raise ValueError("`source` must be a table name or a SQL query.")
        if len(source) > MAX_SOURCE_LENGTH:
            raise ValueError(f"`source` is longer than {MAX_SOURCE_LENGTH} characters.")
        connection, account = _carto3_reference(credentials, connection, account)
        if connection is not None:
            credentials = None  # the notebook's CARTO 3 login: nothing to register
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
        self.set_trait("connection", connection)
        self.set_trait("account_ref", account)
        super().__init__(**kwargs)

    @property
    def is_carto3(self):
        return self.connection is not None

    def _same_origin(self, source):
        """A new ``Source`` for ``source`` drawn with this one's credentials or CARTO 3 login."""
        return Source(
            source, self.credentials, connection=self.connection, account=self.account_ref
        )

    def __repr__(self):
        extra = ""
        if self.connection is not None:
            extra = f", connection={self.connection!r}"
            if self.account_ref is not None:
                extra += f", account={self.account_ref!r}"
        elif self.credentials is not None:
            extra = ", credentials=…"
        return f"Source({self.source!r}{extra})"


class _SourceTrait(traitlets.Instance):
    """A ``Source``; a table name or SQL query becomes a ``Source`` with the credentials (or the
    CARTO 3 connection and account) of the layer's current one (none at first)."""

    def __init__(self):
        super().__init__(Source)

    def validate(self, obj, value):
        if isinstance(value, str):
            current = obj._trait_values.get(self.name)
            value = current._same_origin(value) if current is not None else Source(value)
        return super().validate(obj, value)


class Layer(_ModelOnly):
    """One map layer: ``Layer('table')``, ``Layer('SELECT …', credentials=c)``, ``Layer(Source)``,
    and CARTO 3: ``Layer('SELECT …' or 'project.dataset.table', connection='carto_dw')``
    (``account='acc-…'`` for a CARTO 3 account other than the notebook's).

    A widget model (``CartoLayerModel``) without a view of its own, whose ``source`` is a
    ``Source`` widget (``"IPY_MODEL_<id>"`` in its state). ``credentials`` (or ``connection`` /
    ``account``) given here win over a ``Source``'s own (the layer then gets a new ``Source``).
    Kernel code may assign ``source``: a ``Source``, or a table name or query (which keeps the
    layer's credentials or CARTO 3 connection); the maps showing the layer redraw it.
    """

    _model_name = traitlets.Unicode(LAYER_MODEL_NAME).tag(sync=True)

    source = _SourceTrait().tag(sync=True, **ipywidgets.widget_serialization)

    _kernel_owned = ("source",)

    def __init__(self, source, credentials=None, connection=None, account=None, **kwargs):
        if isinstance(source, Source):
            if credentials is not None or connection is not None or account is not None:
                source = Source(source.source, credentials, connection=connection, account=account)
        else:
            source = Source(source, credentials, connection=connection, account=account)
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
        api_key = [layer for layer in layers if not layer.source.is_carto3]
        if (
            any(layer.credentials is None for layer in api_key)
            and get_default_credentials() is None
        ):
            raise NoCredentialsError(kernel.missing_push_hint())
        if any(layer.source.is_carto3 and layer.source.account_ref is None for layer in layers):
            _check_carto3_login()
        return super().validate(obj, layers)


def _check_carto3_login():
    """A CARTO 3 layer of the notebook's login needs one (an expired one is drawn as "log in
    again" by the map); none raises carto-auth's ``CredentialsError`` saying what to do."""
    login, problem = carto3.current_login()
    if login is None and kernel.carto3_push(wait=False).state != kernel.LOGIN_REQUIRED:
        raise carto3._error(
            (problem or "This notebook has no CARTO 3 login.")
            + " A layer with `connection=` draws with a CARTO 3 login: log in to CARTO 3 from "
            "the CARTO panel, or pass `account='acc-…'`."
        )


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
