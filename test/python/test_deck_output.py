"""pydeck maps drawing with a CARTO 3 login: masked in what the kernel sends, plus the bundle the
front end shows with the login's current token (carto_credentials/_deck_output.py)."""

import html
import json
import os

import pytest
from test_output_masking import FakeSession

from carto_credentials import _masking
from carto_credentials._deck_output import DECK_MIME, DECK_NOTICE, PLACEHOLDER_PREFIX
from carto_credentials.rules import mask_key

TOKEN_A = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWRlY2stMDAwMDE"
TOKEN_B = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWRlY2stMDAwMDI"
API_KEY = "0123456789abcdef0123456789abcdef01234567"


def pydeck_page(*tokens):
    """What pydeck 0.9's ``Deck._repr_html_`` gives: its page, escaped into an iframe srcdoc."""
    layers = [
        {"@@type": "VectorTileLayer", "data": {"@@function": "vectorQuerySource", "accessToken": t}}
        for t in tokens
    ]
    page = (
        f"<script>const jsonInput = {json.dumps({'layers': layers})};\ncreateDeck({{}});</script>"
    )
    return f'<iframe width="100%" srcdoc="{html.escape(page)}"></iframe>'


@pytest.fixture
def send():
    saved = _masking._keys.copy(), _masking._masker, dict(_masking._token_accounts)
    _masking.remember(TOKEN_A, "acc-alice")
    _masking.remember(TOKEN_B, "acc-bob")
    _masking.remember(API_KEY)  # an API key: masked, never put back
    session = FakeSession()
    send_filter = _masking.SendFilter(session.send, session, lambda comm_id: False)
    send_filter.sent_messages = session.sent
    yield send_filter
    _masking._keys, _masking._masker = saved[0], saved[1]
    _masking._token_accounts.clear()
    _masking._token_accounts.update(saved[2])


def _display(send, text_html, msg_type="display_data"):
    send(None, msg_type, {"data": {"text/html": text_html, "text/plain": "<Deck>"}, "metadata": {}})
    return send.sent_messages[-1]["content"]["data"]


def test_a_pydeck_map_is_masked_and_gets_placeholders_for_each_login(send):
    data = _display(send, pydeck_page(TOKEN_A, TOKEN_B, TOKEN_A))
    shown = json.dumps(data)
    assert TOKEN_A not in shown and TOKEN_B not in shown
    assert data["text/html"].startswith(DECK_NOTICE) and mask_key(TOKEN_A) in data["text/html"]
    bundle = data[DECK_MIME]
    assert sorted(bundle["logins"].values()) == ["acc-alice", "acc-bob"]
    restored = bundle["html"]
    for placeholder, account in bundle["logins"].items():
        assert placeholder.startswith(PLACEHOLDER_PREFIX)
        restored = restored.replace(
            placeholder, {"acc-alice": TOKEN_A, "acc-bob": TOKEN_B}[account]
        )
    assert restored == pydeck_page(TOKEN_A, TOKEN_B, TOKEN_A)


def test_html_lists_and_updates_are_handled_as_text(send):
    page = pydeck_page(TOKEN_A)
    data = _display(send, [page[:40], page[40:]], msg_type="update_display_data")
    assert data[DECK_MIME]["logins"] == {PLACEHOLDER_PREFIX + "0": "acc-alice"}


@pytest.mark.parametrize(
    "text_html",
    [
        f"<b>{TOKEN_A}</b>",  # not a pydeck page: shown masked, never put back
        pydeck_page(API_KEY),  # an API key in a pydeck page is no CARTO 3 login
        pydeck_page(),  # a pydeck page without any token
    ],
)
def test_other_outputs_get_no_bundle(send, text_html):
    data = _display(send, text_html)
    assert DECK_MIME not in data
    assert TOKEN_A not in json.dumps(data) and API_KEY not in json.dumps(data)


def test_a_token_remembered_without_an_account_is_only_masked(send):
    other = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYXJvbCJ9.c2lnbmF0dXJlLWRlY2stMDAwMDM"
    _masking.remember(other)
    data = _display(send, pydeck_page(other))
    assert DECK_MIME not in data and other not in json.dumps(data)


def test_the_bundle_is_valid_for_the_front_ends_schema(send):
    import jsonschema

    with open(os.path.join(os.path.dirname(_masking.__file__), "protocol.schema.json")) as f:
        schema = json.load(f)["deck_output"]["schema"]
    bundle = _display(send, pydeck_page(TOKEN_B, TOKEN_A))[DECK_MIME]
    jsonschema.validate(bundle, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(bundle, logins={"not-a-placeholder": "acc-bob"}), schema)
