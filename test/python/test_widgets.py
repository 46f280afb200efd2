"""Map widgets over widget protocol 2.1 with a fake comm: messages on open, update and
request_state; no key in anything sent on ``jupyter.widget``; credentials given in code registered
by reference on ``carto.credentials``; the masked rich display of ``Credentials``."""

import json
import os
import re

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


class FakeWidgetComm:
    """Records what a widget opens and sends; ``receive`` plays the frontend."""

    opened = []

    def __init__(self, target_name, data, metadata):
        self.comm_id = f"w-{len(FakeWidgetComm.opened) + 1}"
        self.target_name, self.data, self.metadata = target_name, data, metadata
        self.sent = []
        self.callback = None
        self.closed = False
        FakeWidgetComm.opened.append(self)

    def on_msg(self, callback):
        self.callback = callback

    def send(self, data):
        self.sent.append(data)

    def close(self):
        self.closed = True

    def receive(self, data):
        self.callback({"content": {"comm_id": self.comm_id, "data": data}})

    def everything(self):
        return json.dumps([self.target_name, self.data, self.metadata, self.sent])


@pytest.fixture
def widget_comms(monkeypatch):
    FakeWidgetComm.opened = []
    monkeypatch.setattr(Map, "_comm_factory", FakeWidgetComm)
    return FakeWidgetComm.opened


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


def test_open_message_follows_protocol_2_1(widget_comms, frontend):
    m = Map(Layer("alice_stores"))
    (comm,) = widget_comms
    assert comm.target_name == "jupyter.widget"
    assert comm.metadata == {"version": "2.1.0"}
    state = comm.data["state"]
    assert comm.data["buffer_paths"] == []
    assert state["_model_name"] == "CartoMapModel" and state["_view_name"] == "CartoMapView"
    assert state["_model_module"] == state["_view_module"] == "jupyterlab-carto-credentials"
    assert state["_model_module_version"] == state["_view_module_version"] == "^0.1.0"
    assert state["layers"] == [
        {"source": "alice_stores", "is_query": False, "credentials_ref": None}
    ]
    assert state["height"] == 400
    assert m.model_id == comm.comm_id


def test_display_bundle_names_the_model_and_has_a_text_fallback(widget_comms, frontend):
    m = Map([Layer("a"), Layer("SELECT * FROM b")])
    bundle = m._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"] == {
        "version_major": 2,
        "version_minor": 0,
        "model_id": widget_comms[0].comm_id,
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
    layers = widget_comms[0].data["state"]["layers"]
    assert [layer["is_query"] for layer in layers] == [True, True, False]


def test_request_state_is_answered_with_a_full_update(widget_comms, frontend):
    Map(Layer("alice_stores"))
    comm = widget_comms[0]
    comm.receive({"method": "request_state"})
    (update,) = comm.sent
    assert update["method"] == "update" and update["buffer_paths"] == []
    assert update["state"] == comm.data["state"]


def test_changing_layers_or_height_sends_an_update(widget_comms, frontend):
    m = Map(Layer("a"))
    comm = widget_comms[0]
    m.layers = [Layer("b"), Layer("c")]
    m.height = 600
    assert [u["method"] for u in comm.sent] == ["update", "update"]
    assert [layer["source"] for layer in comm.sent[0]["state"]["layers"]] == ["b", "c"]
    assert comm.sent[1]["state"]["height"] == 600


def test_frontend_updates_are_echoed_with_the_kernel_state(widget_comms, frontend):
    Map(Layer("a"))
    comm = widget_comms[0]
    comm.receive({"method": "update", "state": {"layers": []}, "buffer_paths": []})
    (echo,) = comm.sent
    assert echo["method"] == "echo_update"
    assert echo["state"]["layers"][0]["source"] == "a"


def test_malformed_and_unknown_widget_messages_are_ignored(widget_comms, frontend, caplog):
    Map(Layer("a"))
    comm = widget_comms[0]
    comm.receive("not a dict")
    comm.receive({"method": "frobnicate"})
    comm.receive({"method": "custom", "content": {}})
    assert comm.sent == []


def test_code_credentials_are_registered_by_reference_never_in_widget_state(widget_comms, frontend):
    Map(
        [
            Layer("alice_stores", credentials=ALICE),
            Layer("SELECT * FROM bob_parks", credentials=BOB),
        ]
    )
    comm = widget_comms[0]
    comm.receive({"method": "request_state"})
    refs = [layer["credentials_ref"] for layer in comm.data["state"]["layers"]]
    assert all(re.fullmatch(r"rt-[0-9a-f]{16}", ref) for ref in refs) and refs[0] != refs[1]
    sent_widget = comm.everything()
    for secret in ("alice-demo-key-0001", KEY_B, KEY):
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


def test_source_credentials_apply_to_the_layer(widget_comms, frontend):
    Map(Layer(Source("bob_parks", BOB)))
    (layer,) = widget_comms[0].data["state"]["layers"]
    assert layer["credentials_ref"] == widgets.credentials_ref(BOB)
    assert frontend.sent[-1]["ref"] == layer["credentials_ref"]


def test_rerunning_a_cell_reuses_the_reference(widget_comms, frontend):
    Map(Layer("a", credentials=BOB))
    Map(Layer("a", credentials=Credentials("bob", KEY_B)))
    refs = [c.data["state"]["layers"][0]["credentials_ref"] for c in widget_comms]
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
    Map(Layer("bob_parks", credentials=BOB))  # explicit credentials need nothing else
    set_default_credentials(BOB)
    Map(Layer("alice_stores"))
    unset_default_credentials()


def test_a_map_outside_a_kernel_displays_as_text(frontend):
    m = Map(Layer("a"))  # the real comm factory, no IPython kernel in pytest
    assert m.model_id is None
    assert m._repr_mimebundle_() == {"text/plain": "Map([Layer(Source('a'))])"}


@pytest.mark.parametrize("bad", [None, "", "   ", 3])
def test_bad_sources_are_refused(bad):
    with pytest.raises(ValueError, match="table name or a SQL query"):
        Layer(bad)


def test_bad_height_is_refused(widget_comms, frontend):
    with pytest.raises(ValueError, match="height"):
        Map(Layer("a"), height="tall")


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
    html = Credentials(base_url="https://h.example/user/<b>x</b>")._repr_html_()
    assert "<b>x</b>" not in html and "&lt;b&gt;" in html


def test_map_layer_source_are_importable_from_the_package_lazily():
    import subprocess
    import sys

    code = (
        "import sys, carto_credentials\n"
        "print('carto_credentials.widgets' in sys.modules)\n"
        "from carto_credentials import Map, Layer, Source\n"
        "import carto_credentials.widgets as w\n"
        "print(Map is w.Map and Layer is w.Layer and Source is w.Source)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
        check=True,
    ).stdout
    assert out.split() == ["False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Mapp'"):
        _ = __import__("carto_credentials").Mapp
