"""Map widgets as ipywidgets 8 models, with a fake comm where the front end would be: ``Map`` a
``DOMWidget`` whose ``layers`` reference ``Layer`` widgets, each referencing a ``Source`` widget
(``"IPY_MODEL_<id>"``, as ipyleaflet does); model/view names and state keys that
``src/widgets/`` expects, updates and ``request_state``, front-end updates of kernel-owned keys
ignored, no key in anything sent on ``jupyter.widget``, in ``embed_minimal_html`` or in the state
a front end saves; credentials given in code registered by reference on ``carto.credentials``;
the masked rich display of ``Credentials``."""

import json
import os
import re
import uuid

import pytest
from _carto_helpers import KEY, FakeKernel, isolated, push_message  # noqa: F401 (fixture)

from carto_credentials import (
    Credentials,
    NoCredentialsError,
    _frontend,
    kernel,
    set_default_credentials,
    unset_default_credentials,
    widgets,
)
from carto_credentials.widgets import Layer, Map, Source

pytestmark = pytest.mark.usefixtures("isolated")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY_B = "fedcba9876543210fedcba9876543210fedcba98"
SCHEMA_PATH = os.path.join(os.path.dirname(kernel.__file__), "protocol.schema.json")
SECRETS = ("alice-demo-key-0001", KEY_B, KEY)


class FakeWidgetComm:
    """What ``comm.create_comm`` returns in a kernel, as far as ipywidgets uses it; records what
    is opened and sent. ``receive`` plays the front end."""

    opened = []
    kernel = object()  # ipywidgets only sends when the comm has a kernel

    def __init__(self, target_name=None, data=None, metadata=None, buffers=None, comm_id=None):
        self.comm_id = comm_id or uuid.uuid4().hex
        self.target_name, self.data, self.metadata = target_name, data, metadata
        self.sent = []
        self.callback = None
        self.closed = False
        FakeWidgetComm.opened.append(self)

    def on_msg(self, callback):
        self.callback = callback

    def send(self, data=None, metadata=None, buffers=None):
        self.sent.append(data)

    def close(self, *args, **kwargs):
        self.closed = True

    def receive(self, data):
        self.callback({"content": {"comm_id": self.comm_id, "data": data}, "buffers": []})

    @property
    def state(self):
        """The state a front end holds: the opening state, then every update sent."""
        state = dict(self.data["state"])
        for sent in self.sent:
            if isinstance(sent, dict) and sent.get("method") == "update":
                state.update(sent["state"])
        return state


def everything(comms):
    return json.dumps([[c.target_name, c.data, c.metadata, c.sent] for c in comms], default=str)


@pytest.fixture(autouse=True)
def close_widgets():
    """Close every widget a test made: ipywidgets' ``__del__`` would otherwise run at interpreter
    exit, after its module globals are gone, and print "Exception ignored" noise."""
    yield
    import ipywidgets

    ipywidgets.Widget.close_all()


@pytest.fixture
def widget_comms(monkeypatch):
    """Every widget comm opened during the test (a map opens its Layout's too)."""
    import comm

    FakeWidgetComm.opened = []
    monkeypatch.setattr(comm, "create_comm", FakeWidgetComm)
    yield FakeWidgetComm.opened
    for c in FakeWidgetComm.opened:
        c.callback = None


def map_comms(opened):
    return [c for c in opened if c.data["state"].get("_model_name") == "CartoMapModel"]


def comm_of(opened, ref):
    """The comm of the widget that ``"IPY_MODEL_<id>"`` names (opened before the reference)."""
    assert isinstance(ref, str) and ref.startswith("IPY_MODEL_"), ref
    (comm,) = [c for c in opened if c.comm_id == ref[len("IPY_MODEL_") :]]
    return comm


def flat_layers(opened, layer_refs):
    """A map's ``layers`` state followed through its Layer and Source models, as the front end
    sees it: ``[{source, is_query, credentials_ref}]``."""
    flat = []
    for ref in layer_refs:
        layer = comm_of(opened, ref).state
        assert layer["_model_name"] == "CartoLayerModel"
        source = comm_of(opened, layer["source"]).state
        assert source["_model_name"] == "CartoSourceModel"
        flat.append({k: source[k] for k in ("source", "is_query", "credentials_ref")})
    return flat


@pytest.fixture
def frontend():
    """A registered ``carto.credentials`` target with one open comm (JupyterLab connected)."""
    fake_kernel = FakeKernel()
    kernel.register_target(fake_kernel)
    return fake_kernel.comm_manager.open(push_message())


ALICE = Credentials(
    base_url="http://127.0.0.1:9/user/alice", api_key="alice-demo-key-0001", allow_non_secure=True
)
BOB = Credentials("bob", KEY_B)


def test_frontend_module_version_matches_package_json():
    with open(os.path.join(REPO_ROOT, "package.json")) as f:
        package = json.load(f)
    assert _frontend.MODULE_NAME == package["name"] == "jupyterlab-carto-credentials"
    assert _frontend.MODULE_VERSION == "^" + package["version"]


def test_a_map_is_an_ipywidgets_8_dom_widget_with_the_frontends_names_and_keys(
    widget_comms, frontend
):
    import ipywidgets

    m = Map(Layer("alice_stores"))
    assert isinstance(m, ipywidgets.DOMWidget)
    assert ipywidgets.__version__.startswith("8.")
    (comm,) = map_comms(widget_comms)
    assert comm.target_name == "jupyter.widget"
    assert comm.metadata == {"version": "2.1.0"}
    state = comm.state
    assert comm.data["buffer_paths"] == []
    assert state["_model_name"] == "CartoMapModel" and state["_view_name"] == "CartoMapView"
    assert state["_model_module"] == state["_view_module"] == "jupyterlab-carto-credentials"
    assert state["_model_module_version"] == state["_view_module_version"] == "^0.1.0"
    # src/widgets/model.ts: layers are references to CartoLayerModel widgets, whose source is
    # a reference to a CartoSourceModel widget {source, is_query, credentials_ref}.
    (layer_ref,) = state["layers"]
    assert layer_ref == "IPY_MODEL_" + m.layers[0].model_id
    layer_comm = comm_of(widget_comms, layer_ref)
    source_comm = comm_of(widget_comms, layer_comm.state["source"])
    assert layer_comm.state["source"] == "IPY_MODEL_" + m.layers[0].source.model_id
    for c, name in ((layer_comm, "CartoLayerModel"), (source_comm, "CartoSourceModel")):
        assert c.target_name == "jupyter.widget" and c.metadata == {"version": "2.1.0"}
        assert c.state["_model_name"] == name
        assert c.state["_model_module"] == "jupyterlab-carto-credentials"
        assert c.state["_model_module_version"] == "^0.1.0"
        assert c.state["_view_name"] is None  # models only: a map shows them
    assert {k: source_comm.state[k] for k in ("source", "is_query", "credentials_ref")} == {
        "source": "alice_stores",
        "is_query": False,
        "credentials_ref": None,
    }
    # A front end can resolve every reference when it is read: sources, then layers, then map.
    assert widget_comms.index(source_comm) < widget_comms.index(layer_comm)
    assert widget_comms.index(layer_comm) < widget_comms.index(comm)
    assert state["height"] == 400
    assert m.model_id == comm.comm_id
    assert m.layers[0].source.source == "alice_stores"


def test_layer_and_source_are_view_less_widget_models(widget_comms, frontend):
    import ipywidgets

    layer = Layer("SELECT * FROM t")
    assert isinstance(layer, ipywidgets.Widget) and isinstance(layer.source, ipywidgets.Widget)
    assert not isinstance(layer, ipywidgets.DOMWidget)
    assert not isinstance(layer.source, ipywidgets.DOMWidget)
    # No Layout model per layer, no widget view to display on its own: text only.
    assert [c.state["_model_name"] for c in widget_comms] == [
        "CartoSourceModel",
        "CartoLayerModel",
    ]
    assert layer._repr_mimebundle_() is None and repr(layer) == "Layer(Source('SELECT * FROM t'))"
    assert layer.source.is_query is True


def test_display_bundle_names_the_model_and_has_a_text_fallback(widget_comms, frontend):
    m = Map([Layer("a"), Layer("SELECT * FROM b")])
    bundle = m._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"] == {
        "version_major": 2,
        "version_minor": 0,
        "model_id": map_comms(widget_comms)[0].comm_id,
    }
    assert bundle["text/plain"] == "Map([Layer(Source('a')), Layer(Source('SELECT * FROM b'))])"


def test_sql_sources_are_flagged_as_queries(widget_comms, frontend):
    Map(
        [
            Layer("SELECT * FROM t"),
            Layer("  with x as (select 1) select * from x"),
            Layer("selections"),
        ]
    )
    layers = flat_layers(widget_comms, map_comms(widget_comms)[0].state["layers"])
    assert [layer["is_query"] for layer in layers] == [True, True, False]


def test_request_state_is_answered_with_a_full_update(widget_comms, frontend):
    Map(Layer("alice_stores"))
    comm = map_comms(widget_comms)[0]
    comm.receive({"method": "request_state"})
    (update,) = comm.sent
    assert update["method"] == "update" and update["buffer_paths"] == []
    assert update["state"] == comm.state


def test_changing_layers_or_height_sends_an_update(widget_comms, frontend):
    m = Map(Layer("a"))
    comm = map_comms(widget_comms)[0]
    m.layers = [Layer("b"), "c"]
    m.height = 600
    assert [u["method"] for u in comm.sent] == ["update", "update"]
    layers = flat_layers(widget_comms, comm.sent[0]["state"]["layers"])
    assert [layer["source"] for layer in layers] == ["b", "c"]
    assert comm.sent[1]["state"] == {"height": 600}


def test_changing_a_layers_source_updates_that_layer_only(widget_comms, frontend):
    m = Map(Layer("a", credentials=BOB))
    comm = map_comms(widget_comms)[0]
    layer = m.layers[0]
    layer_comm = comm_of(widget_comms, "IPY_MODEL_" + layer.model_id)
    layer.source = "SELECT * FROM b"  # a string keeps the layer's credentials
    assert comm.sent == []
    (update,) = layer_comm.sent
    assert update["method"] == "update"
    assert update["state"] == {"source": "IPY_MODEL_" + layer.source.model_id}
    (flat,) = flat_layers(widget_comms, comm.state["layers"])
    assert flat == {
        "source": "SELECT * FROM b",
        "is_query": True,
        "credentials_ref": widgets.credentials_ref(BOB),
    }
    layer.source = Source("c")
    assert layer.source.credentials is None and len(layer_comm.sent) == 2
    with pytest.raises(Exception, match="read-only"):
        layer.source.source = "d"
    with pytest.raises(Exception, match="read-only"):
        layer.source.credentials_ref = "rt-0000000000000000"


def test_a_source_is_shared_and_layer_credentials_win(widget_comms, frontend):
    shared = Source("bob_parks", BOB)
    a, b = Layer(shared), Layer(shared)
    assert a.source is b.source is shared
    c = Layer(shared, credentials=ALICE)
    assert c.source is not shared and c.source.source == "bob_parks"
    assert c.source.credentials_ref == widgets.credentials_ref(ALICE)
    assert shared.credentials_ref == widgets.credentials_ref(BOB)
    sources = [w for w in widget_comms if w.state["_model_name"] == "CartoSourceModel"]
    assert len(sources) == 2


def test_frontend_updates_of_kernel_owned_keys_are_ignored(widget_comms, frontend):
    m = Map(Layer("a"))
    comm = map_comms(widget_comms)[0]
    comm.receive(
        {
            "method": "update",
            "state": {"layers": [], "height": 900, "tooltip": "hi"},
            "buffer_paths": [],
        }
    )
    assert [layer.source.source for layer in m.layers] == ["a"] and m.height == 400
    assert m.tooltip == "hi"  # the rest is ipywidgets' usual business, echoed as usual
    assert [u["method"] for u in comm.sent] == ["echo_update"]
    assert comm.sent[0]["state"] == {"tooltip": "hi"}
    # Nor can a front end swap a layer's source or rewrite a source (e.g. point it elsewhere).
    layer = m.layers[0]
    layer_comm = comm_of(widget_comms, comm.state["layers"][0])
    source_comm = comm_of(widget_comms, layer_comm.state["source"])
    other = Source("evil")
    layer_comm.receive(
        {
            "method": "update",
            "state": {"source": "IPY_MODEL_" + other.model_id},
            "buffer_paths": [],
        }
    )
    source_comm.receive(
        {
            "method": "update",
            "state": {"source": "evil", "is_query": True, "credentials_ref": "rt-0123456789abcdef"},
            "buffer_paths": [],
        }
    )
    assert layer.source.source == "a" and layer.source.model_id == source_comm.comm_id
    assert layer.source.is_query is False and layer.source.credentials_ref is None
    assert layer_comm.sent == [] and source_comm.sent == []


def test_malformed_and_unknown_widget_messages_are_ignored(widget_comms, frontend):
    m = Map(Layer("a"))
    comm = map_comms(widget_comms)[0]
    comm.receive("not a dict")
    comm.receive({"method": "frobnicate"})
    comm.receive({"method": "custom", "content": {}})
    assert comm.sent == [] and m.layers[0].source.source == "a"


def test_code_credentials_are_registered_by_reference_never_in_widget_state(widget_comms, frontend):
    m = Map(
        [
            Layer("alice_stores", credentials=ALICE),
            Layer("SELECT * FROM bob_parks", credentials=BOB),
        ]
    )
    comm = map_comms(widget_comms)[0]
    comm.receive({"method": "request_state"})
    m.height = 500
    refs = [layer["credentials_ref"] for layer in flat_layers(widget_comms, comm.state["layers"])]
    assert all(re.fullmatch(r"rt-[0-9a-f]{16}", ref) for ref in refs) and refs[0] != refs[1]
    sent_widget = everything(widget_comms)
    for secret in SECRETS:
        assert secret not in sent_widget
    registrations = [m for m in frontend.sent if m["type"] == "register_credentials"]
    assert {m["ref"]: m["credentials"] for m in registrations} == {
        refs[0]: {
            "username": None,
            "base_url": "http://127.0.0.1:9/user/alice/",
            "api_key": "alice-demo-key-0001",
        },
        refs[1]: {"username": "bob", "base_url": "https://bob.carto.com/", "api_key": KEY_B},
    }


def test_embedded_html_holds_references_and_no_key(widget_comms, frontend, tmp_path):
    from ipywidgets.embed import embed_minimal_html

    m = Map([Layer("alice_stores", credentials=ALICE), Layer("bob_parks", credentials=BOB)])
    path = tmp_path / "map.html"
    embed_minimal_html(str(path), views=[m], title="map")
    html = path.read_text()
    for name in ("CartoMapModel", "CartoLayerModel", "CartoSourceModel"):
        assert name in html
    assert widgets.credentials_ref(BOB) in html and widgets.credentials_ref(ALICE) in html
    assert "IPY_MODEL_" + m.layers[1].source.model_id in html
    for secret in SECRETS:
        assert secret not in html


def test_the_state_a_front_end_saves_holds_no_key(widget_comms, frontend):
    import ipywidgets

    set_default_credentials(BOB)  # code-set default: the layer without credentials uses it
    m = Map([Layer("alice_stores", credentials=ALICE), Layer("bob_parks")])
    manager_state = ipywidgets.Widget.get_manager_state()
    states = manager_state["state"]
    assert states[m.model_id]["state"]["layers"] == ["IPY_MODEL_" + x.model_id for x in m.layers]
    sources = [states[layer.source.model_id]["state"] for layer in m.layers]
    assert [s["credentials_ref"] for s in sources] == [widgets.credentials_ref(ALICE), None]
    parts = [m, *m.layers, *(layer.source for layer in m.layers)]
    for saved in (
        manager_state,
        *(w.get_state() for w in parts),
        *(w.get_state(drop_defaults=True) for w in parts),
    ):
        text = json.dumps(saved, default=str)
        for secret in SECRETS:
            assert secret not in text
    unset_default_credentials()


def test_source_credentials_apply_to_the_layer(widget_comms, frontend):
    Map(Layer(Source("bob_parks", BOB)))
    (layer,) = flat_layers(widget_comms, map_comms(widget_comms)[0].state["layers"])
    assert layer["credentials_ref"] == widgets.credentials_ref(BOB)
    assert frontend.sent[-1]["ref"] == layer["credentials_ref"]


def test_rerunning_a_cell_reuses_the_reference(widget_comms, frontend):
    Map(Layer("a", credentials=BOB))
    Map(Layer("a", credentials=Credentials("bob", KEY_B)))
    refs = [
        flat_layers(widget_comms, c.state["layers"])[0]["credentials_ref"]
        for c in map_comms(widget_comms)
    ]
    assert refs[0] == refs[1]
    assert widgets.credentials_ref(Credentials("bob", "other-key")) != refs[0]


def test_the_reference_is_not_a_plain_hash_of_the_key():
    import hashlib

    plain = hashlib.sha256(f"bob|https://bob.carto.com/|{KEY_B}".encode()).hexdigest()
    assert widgets.credentials_ref(BOB) != "rt-" + plain[:16]


def test_registrations_reach_frontends_that_connect_later(widget_comms):
    fake_kernel = FakeKernel()
    kernel.register_target(fake_kernel)
    Map(Layer("bob_parks", credentials=BOB))
    late = fake_kernel.comm_manager.open(push_message())
    assert [m["ref"] for m in late.sent if m["type"] == "register_credentials"] == [
        widgets.credentials_ref(BOB)
    ]


def test_layers_without_credentials_need_a_default(widget_comms):
    with pytest.raises(NoCredentialsError, match="No CARTO credentials"):
        Map(Layer("alice_stores"))
    assert map_comms(widget_comms) == []  # nothing was opened
    m = Map(Layer("bob_parks", credentials=BOB))  # explicit credentials need nothing else
    with pytest.raises(NoCredentialsError):
        m.layers = [Layer("alice_stores")]
    assert [layer.source.source for layer in m.layers] == ["bob_parks"]
    set_default_credentials(BOB)
    Map(Layer("alice_stores"))
    unset_default_credentials()


def test_a_map_outside_a_kernel_is_still_a_widget(frontend):
    m = Map(Layer("a"))  # the real comm package: no IPython kernel in pytest
    bundle = m._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == m.model_id
    assert bundle["text/plain"] == "Map([Layer(Source('a'))])"


@pytest.mark.parametrize("bad", [None, "", "   ", 3])
def test_bad_sources_are_refused(bad):
    with pytest.raises(ValueError, match="table name or a SQL query"):
        Layer(bad)


def test_bad_height_and_layers_are_refused(widget_comms, frontend):
    with pytest.raises(ValueError, match="height"):
        Map(Layer("a"), height="tall")
    with pytest.raises(ValueError, match="height"):
        Map(Layer("a"), height=50)
    with pytest.raises(ValueError, match="list of Layers"):
        Map(3)
    with pytest.raises(ValueError, match="at most 50 layers"):
        Map(["t"] * 51)
    m = Map(Layer("a"))
    with pytest.raises(ValueError, match="height"):
        m.height = True
    assert m.height == 400


def test_register_message_is_valid_for_the_exported_schema():
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)["kernel_to_frontend"]
    validator = jsonschema.validators.validator_for(schema)(schema)
    for creds in (ALICE, BOB, Credentials("carol")):
        message = widgets.register_message(widgets.credentials_ref(creds), creds)
        assert validator.is_valid(message)
    assert not validator.is_valid(dict(message, ref="acc-1"))


# -- Credentials rich display ----------------------------------------------------------------


def test_credentials_html_is_masked_and_shows_account_server_state():
    html = BOB._repr_html_()
    assert KEY_B not in html
    assert "bob" in html and "https://bob.carto.com" in html
    assert "***" + KEY_B[-4:] in html
    assert "KEY_B" not in repr(BOB) and KEY_B not in repr(BOB)


def test_credentials_html_public_and_origin(frontend):
    assert "public data only" in Credentials("carol")._repr_html_()
    from carto_credentials import get_default_credentials

    pushed = get_default_credentials()
    assert "from JupyterLab" in pushed._repr_html_()
    assert KEY not in pushed._repr_html_()
    set_default_credentials(BOB)
    assert "set by code" in BOB._repr_html_()


def test_credentials_html_escapes_markup():
    # The shared rules refuse '<' in a base URL; the renderer escapes whatever it is given anyway.
    credentials = Credentials(base_url="https://h.example/user/x")
    credentials._base_url = "https://h.example/user/<b>x</b>"
    html = credentials._repr_html_()
    assert "<b>x</b>" not in html and "&lt;b&gt;" in html


def test_map_layer_source_are_importable_from_the_package_lazily():
    import subprocess
    import sys

    code = (
        "import sys, carto_credentials\n"
        "print('carto_credentials.widgets' in sys.modules, 'ipywidgets' in sys.modules)\n"
        "from carto_credentials import Map, Layer, Source\n"
        "import carto_credentials.widgets as w\n"
        "print(Map is w.Map and Layer is w.Layer and Source is w.Source)\n"
        "print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
        check=True,
    ).stdout
    assert out.split() == ["False", "False", "True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Mapp'"):
        _ = __import__("carto_credentials").Mapp


def test_without_ipywidgets_the_widgets_say_what_to_install():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['ipywidgets'] = None  # as in a kernel env without it\n"
        "import carto_credentials\n"
        "try:\n"
        "    carto_credentials.Map\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
        check=True,
    ).stdout
    assert "needs ipywidgets 8 in this kernel's environment, which does not have it" in out
    # Not "use a kernel where the package is installed": it is, here, without ipywidgets.
    assert "use a kernel where" not in out and "restart the kernel" in out


# -- CARTO 3 sources (issue 11 part 4) ------------------------------------------------------------

C3_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlLTAwMDE"
C3_API = "https://gcp-us-east1.api.carto.com"


def carto3_push(state="granted"):
    import time

    account = None
    if state == "granted":
        account = {
            "id": "acc-0123456789abcdef",
            "label": "alice (M2M)",
            "kind": "m2m",
            "api_base_url": C3_API,
            "access_token": C3_TOKEN,
            "expires_at": int(time.time()) + 3600,
        }
    return {
        "version": 2,
        "type": "set_credentials",
        "session_path": "work/map.ipynb",
        "kernel_id": "k-1",
        "state": state,
        "account": account,
    }


@pytest.fixture
def carto3_frontend():
    """JupyterLab connected and the notebook's account a CARTO 3 (M2M) login."""
    fake_kernel = FakeKernel()
    kernel.register_target(fake_kernel)
    return fake_kernel.comm_manager.open(carto3_push())


def source_states(opened, m):
    comm = [c for c in map_comms(opened) if c.comm_id == m.model_id][0]
    states = []
    for ref in comm.state["layers"]:
        states.append(comm_of(opened, comm_of(opened, ref).state["source"]).state)
    return states


OWN_KEYS = ("source", "is_query", "credentials_ref", "connection", "account_ref")


def test_a_carto3_layer_holds_the_connection_and_account_reference_only(
    widget_comms, carto3_frontend
):
    import ipywidgets

    from carto_credentials import carto_auth

    m = Map(
        [
            Layer("SELECT * FROM demo_points", connection="carto_dw"),
            Layer("carto-demo-data.demo_tables.stores", connection="carto-dw", account="acc-b"),
            Layer("SELECT 1", connection="carto_dw", credentials=carto_auth()),
        ]
    )
    states = source_states(widget_comms, m)
    assert [{k: s[k] for k in OWN_KEYS} for s in states] == [
        {
            "source": "SELECT * FROM demo_points",
            "is_query": True,
            "credentials_ref": None,
            "connection": "carto_dw",
            "account_ref": None,
        },
        {
            "source": "carto-demo-data.demo_tables.stores",
            "is_query": False,
            "credentials_ref": None,
            "connection": "carto-dw",
            "account_ref": "acc-b",
        },
        {
            "source": "SELECT 1",
            "is_query": True,
            "credentials_ref": None,
            "connection": "carto_dw",
            "account_ref": None,
        },
    ]
    # Nothing was registered with JupyterLab: the front end has the login already.
    assert [x for x in carto3_frontend.sent if x.get("type") == "register_credentials"] == []
    manager_state = ipywidgets.Widget.get_manager_state()
    for text in (everything(widget_comms), json.dumps(manager_state, default=str)):
        assert C3_TOKEN not in text and "access_token" not in text
    assert repr(m.layers[1]) == (
        "Layer(Source('carto-demo-data.demo_tables.stores', connection='carto-dw', "
        "account='acc-b'))"
    )


def test_api_key_layers_keep_their_state_with_null_carto3_keys(widget_comms, frontend):
    m = Map(Layer("bob_parks", credentials=BOB))
    (state,) = source_states(widget_comms, m)
    assert state["connection"] is None and state["account_ref"] is None
    assert state["credentials_ref"] == widgets.credentials_ref(BOB)


def test_assigning_a_query_keeps_the_layers_connection_and_account(widget_comms, carto3_frontend):
    layer = Layer("SELECT 1", connection="carto_dw", account="acc-b")
    layer.source = "SELECT 2"
    assert (layer.source.source, layer.source.connection, layer.source.account_ref) == (
        "SELECT 2",
        "carto_dw",
        "acc-b",
    )
    wrapped = Layer(Source("t", connection="carto_dw"), connection="carto-dw")
    assert wrapped.source.connection == "carto-dw"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"connection": "carto_dw", "credentials": BOB}, "never with credentials given in code"),
        (
            {"connection": "carto_dw", "credentials": {"username": "bob", "api_key": KEY_B}},
            "leave out `credentials`",
        ),
        ({"connection": "carto_dw", "credentials": BOB, "account": "acc-b"}, "not both"),
        ({"account": "acc-b"}, "give the layer's `connection` too"),
        ({"connection": ""}, "name of a CARTO 3 connection"),
        ({"connection": "carto dw"}, "name of a CARTO 3 connection"),
        ({"connection": "../v2"}, "name of a CARTO 3 connection"),
        ({"connection": 3}, "name of a CARTO 3 connection"),
        ({"connection": "carto_dw", "account": "acc b"}, "id of a CARTO 3 account"),
        ({"connection": "carto_dw", "account": 7}, "id of a CARTO 3 account"),
    ],
)
def test_wrong_carto3_combinations_are_refused_with_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Layer("SELECT 1", **kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        Source("SELECT 1", **kwargs)


def test_a_token_given_in_code_never_reaches_the_widget(widget_comms, carto3_frontend):
    class CartoAuth:  # carto-auth's own object holds its token: refused, not sent anywhere
        _access_token = C3_TOKEN

    with pytest.raises(ValueError, match="never with credentials given in code") as info:
        Layer("SELECT 1", connection="carto_dw", credentials=CartoAuth())
    assert C3_TOKEN not in str(info.value)
    assert widget_comms == []


def test_a_carto3_layer_of_the_notebooks_login_needs_one(widget_comms, frontend):
    # The notebook's account is an API-key one (version 1 push): no CARTO 3 login.
    from carto_credentials import carto3

    with pytest.raises(carto3.Carto3LoginError, match="log in to CARTO 3 from the CARTO panel"):
        Map(Layer("SELECT 1", connection="carto_dw"))
    assert map_comms(widget_comms) == []
    # A named account of the panel needs no login in the kernel: the front end resolves it.
    Map(Layer("SELECT 1", connection="carto_dw", account="acc-0123456789abcdef"))


def test_an_expired_carto3_login_still_makes_the_map(widget_comms):
    # The map then says "log in again from the CARTO panel" (src/widgets/view.ts).
    fake_kernel = FakeKernel()
    kernel.register_target(fake_kernel)
    fake_kernel.comm_manager.open(carto3_push("login_required"))
    Map(Layer("SELECT 1", connection="carto_dw"))
