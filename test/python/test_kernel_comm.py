"""The kernel end of the ``carto.credentials`` comm, with a fake kernel/comm that records
messages; plus the messages checked against the JSON Schema exported from src/protocol.ts."""

import copy
import json
import os
import threading
import time

import pytest
from _carto_helpers import KEY, FakeKernel, isolated, push_message  # noqa: F401 (fixture)

from carto_credentials import (
    Credentials,
    NoCredentialsError,
    get_default_credentials,
    kernel,
    resolve_credentials,
    set_default_credentials,
    unset_default_credentials,
)

pytestmark = pytest.mark.usefixtures("isolated")

SCHEMA_PATH = os.path.join(os.path.dirname(kernel.__file__), "protocol.schema.json")


@pytest.fixture
def fake():
    fake_kernel = FakeKernel()
    assert kernel.register_target(fake_kernel) is True
    return fake_kernel


def test_register_target_registers_on_the_kernel_comm_manager(fake):
    assert set(fake.comm_manager.targets) == {"carto.credentials"}
    assert kernel.status()["registered"] is True


def test_register_target_outside_a_kernel_is_false_and_silent(capsys):
    assert kernel.register_target(object()) is False
    assert kernel.register_target() is False  # no IPython kernel in pytest
    assert capsys.readouterr() == ("", "")


def test_open_message_credentials_become_the_default(fake):
    comm = fake.comm_manager.open(push_message())
    assert get_default_credentials() == Credentials("alice", KEY, "https://alice.carto.com")
    status = kernel.status()
    assert status["state"] == "granted" and status["account_id"] == "acc-1"
    assert status["session_path"] == "work/map.ipynb" and status["kernel_id"] == "k-1"
    assert KEY not in json.dumps(status)
    assert comm.sent == []  # pushed credentials are never echoed back


def test_later_set_credentials_messages_replace_the_push(fake):
    comm = fake.comm_manager.open(push_message())
    comm.receive(
        push_message(
            state="public",
            username="bob",
            api_key="default_public",
            base_url="https://bob.carto.com/",
        )
    )
    assert get_default_credentials() == Credentials("bob")
    comm.receive(push_message(state="no_account"))
    assert get_default_credentials() is None
    assert kernel.status()["state"] == "no_account"


def test_http_base_url_is_accepted_from_the_push(fake):
    fake.comm_manager.open(push_message(username=None, base_url="http://127.0.0.1:8/user/u/"))
    c = get_default_credentials()
    assert (c.username, c.base_url, c.allow_non_secure) == (None, "http://127.0.0.1:8/user/u", True)


def _structural():
    """Messages that break the schema itself."""
    good = push_message(api_key="sentinel-secret-value")
    variants = [None, "text", [1], {}]
    for key, value in [
        ("version", 2),
        ("version", "1"),
        ("version", True),
        ("type", "other"),
        ("state", "maybe"),
        ("session_path", 3),
        ("kernel_id", None),
        ("extra", 1),
    ]:
        message = copy.deepcopy(good)
        message[key] = value
        variants.append(message)
    for key in ("session_path", "account"):
        message = copy.deepcopy(good)
        del message[key]
        variants.append(message)
    for key, value in [
        ("api_key", ""),
        ("api_key", 5),
        ("id", ""),
        ("label", None),
        ("username", ""),
        ("base_url", ""),
        ("more", 1),
    ]:
        message = copy.deepcopy(good)
        message["account"][key] = value
        variants.append(message)
    return variants


def _semantic():
    """Schema-valid messages that the contract still forbids."""
    good = push_message(api_key="sentinel-secret-value")
    variants = []
    for value in ("ftp://x/", "x.com", "https://u:sentinel-secret-value@x.com"):
        message = copy.deepcopy(good)
        message["account"]["base_url"] = value
        variants.append(message)
    public_with_key = copy.deepcopy(good)
    public_with_key["state"] = "public"
    variants.append(public_with_key)
    not_granted_with_account = copy.deepcopy(good)
    not_granted_with_account["state"] = "not_granted"
    variants.append(not_granted_with_account)
    return variants


@pytest.mark.parametrize("message", _structural() + _semantic())
def test_malformed_messages_are_ignored_and_logged_without_content(fake, caplog, message):
    comm = fake.comm_manager.open(push_message())
    with caplog.at_level("WARNING", logger="carto_credentials"):
        comm.receive(message)
        fake.comm_manager.open(message)
    assert get_default_credentials() == Credentials("alice", KEY, "https://alice.carto.com")
    assert "malformed" in caplog.text
    assert "sentinel" not in caplog.text and KEY not in caplog.text


def test_malformed_open_still_registers_the_comm_for_later_messages(fake):
    comm = fake.comm_manager.open({"version": 9})
    assert kernel.pushed_credentials(wait=False) == (None, None)
    comm.receive(push_message())
    assert get_default_credentials().username == "alice"


def test_code_set_and_unset_are_sent_to_every_open_comm_with_the_key(fake):
    first = fake.comm_manager.open(push_message())
    second = fake.comm_manager.open(push_message())
    closed = fake.comm_manager.open(push_message())
    closed.close_from_frontend()
    set_default_credentials("bob", "bob-key")
    unset_default_credentials()
    expected = [
        {
            "version": 1,
            "type": "credentials_changed",
            "credentials": {
                "username": "bob",
                "base_url": "https://bob.carto.com/",
                "api_key": "bob-key",
            },
        },
        {"version": 1, "type": "credentials_changed", "credentials": None},
    ]
    assert first.sent == expected and second.sent == expected and closed.sent == []
    assert kernel.status()["open_comms"] == 2


def test_a_comm_opened_after_code_set_the_default_is_told_at_once(fake):
    set_default_credentials(base_url="https://onprem.example/user/u", api_key="k")
    comm = fake.comm_manager.open(push_message())
    assert comm.sent == [
        {
            "version": 1,
            "type": "credentials_changed",
            "credentials": {
                "username": None,
                "base_url": "https://onprem.example/user/u/",
                "api_key": "k",
            },
        }
    ]
    # code still wins over the push
    assert get_default_credentials().base_url == "https://onprem.example/user/u"


@pytest.mark.parametrize("how", ["earlier_push", "in_the_open"])
def test_no_key_is_replayed_to_a_comm_opened_after_not_granted(fake, how):
    """Issue 10 kind 12: keys set in code are replayed to later comms, except after
    not_granted; comms already open still get live broadcasts."""
    first = fake.comm_manager.open(push_message())
    set_default_credentials("bob", "bob-key")
    kernel.send_to_every_frontend(
        "rt-1", {"version": 1, "type": "register_credentials", "ref": "rt-1"}
    )
    if how == "earlier_push":
        first.receive(push_message(state="not_granted"))
        later = fake.comm_manager.open({"version": 9})  # malformed open: state unchanged
    else:
        later = fake.comm_manager.open(push_message(state="not_granted"))
    assert later.sent == []
    # The state is what counts: a notebook granted again gets the replay on its next comm.
    again = fake.comm_manager.open(push_message())
    assert [m["type"] for m in again.sent] == ["credentials_changed", "register_credentials"]
    assert "bob-key" in json.dumps(again.sent)


def test_a_failing_comm_send_does_not_break_set_default_credentials(fake, caplog):
    comm = fake.comm_manager.open(push_message())

    def broken(data):
        raise RuntimeError("socket gone " + KEY)

    comm.send = broken
    with caplog.at_level("WARNING", logger="carto_credentials"):
        set_default_credentials("u", KEY)
    assert get_default_credentials() == Credentials("u", KEY)
    assert KEY not in caplog.text and "RuntimeError" in caplog.text


# -- bounded wait ---------------------------------------------------------------------------------


@pytest.fixture
def short_wait(monkeypatch):
    monkeypatch.setattr(kernel, "PUSH_WAIT_SECONDS", 0.3)
    monkeypatch.setenv("JPY_SESSION_NAME", "work/map.ipynb")


def test_waits_once_a_bounded_time_when_a_push_is_expected(fake, short_wait):
    start = time.monotonic()
    assert get_default_credentials() is None
    assert 0.25 <= time.monotonic() - start < 2.0
    start = time.monotonic()
    with pytest.raises(NoCredentialsError) as info:
        resolve_credentials()
    assert time.monotonic() - start < 0.2  # never twice
    assert "did not send credentials to this kernel within 0.3 s" in str(info.value)


def test_a_push_arriving_during_the_wait_ends_it_early(fake, short_wait, monkeypatch):
    monkeypatch.setattr(kernel, "PUSH_WAIT_SECONDS", 5.0)
    timer = threading.Timer(0.05, fake.comm_manager.open, args=(push_message(),))
    start = time.monotonic()
    timer.start()
    try:
        assert get_default_credentials().username == "alice"
    finally:
        timer.cancel()
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize(
    "setup", ["no_session_env", "not_registered", "already_pushed", "code_set"]
)
def test_no_wait_when_no_push_is_expected(short_wait, monkeypatch, setup):
    monkeypatch.setattr(kernel, "PUSH_WAIT_SECONDS", 5.0)
    fake = FakeKernel()
    if setup != "not_registered":
        kernel.register_target(fake)
    if setup == "no_session_env":
        monkeypatch.delenv("JPY_SESSION_NAME")
    if setup == "already_pushed":
        fake.comm_manager.open(push_message(state="no_account"))
    if setup == "code_set":
        set_default_credentials("u")
    start = time.monotonic()
    get_default_credentials()
    assert time.monotonic() - start < 1.0


# -- the exported JSON Schema (single source: src/protocol.ts) -------------------------------------


@pytest.fixture(scope="module")
def schema():
    if not os.path.exists(SCHEMA_PATH):
        pytest.skip("carto_credentials/protocol.schema.json not generated (npm run build:schema)")
    with open(SCHEMA_PATH) as f:
        return json.load(f)


def _valid(schema_part, message):
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema_part)
    return validator_cls(schema_part).is_valid(message)


def test_schema_names_our_target_and_version(schema):
    assert schema["comm_target"] == kernel.TARGET
    assert schema["version"] == kernel.PROTOCOL_VERSION


@pytest.mark.parametrize(
    "message",
    [
        push_message(),
        push_message(username=None),
        push_message(state="public", api_key="default_public"),
        push_message(state="not_granted"),
        push_message(state="no_account"),
    ],
)
def test_messages_we_accept_are_valid_for_the_schema(schema, message):
    assert _valid(schema["frontend_to_kernel"], message)
    kernel.parse_set_credentials(message)  # and our own checks accept them


@pytest.mark.parametrize("message", _structural())
def test_messages_we_reject_are_rejected_by_the_schema_too(schema, message):
    assert not _valid(schema["frontend_to_kernel"], message)
    with pytest.raises(kernel.MalformedMessage):
        kernel.parse_set_credentials(message)


@pytest.mark.parametrize(
    "credentials",
    [
        None,
        Credentials("bob", "k"),
        Credentials(base_url="https://onprem.example/user/u"),
        Credentials("", "", base_url="https://h.example"),
        Credentials(123, None, base_url="https://h.example"),
    ],
)
def test_messages_we_send_are_valid_for_the_schema(schema, credentials):
    assert _valid(schema["kernel_to_frontend"], kernel.changed_message(credentials))


# -- a real kernel whose push never comes (issue 10 kind 3a) --------------------------------------


def test_real_kernel_without_a_push_honours_deny_never_and_a_late_not_granted(tmp_path):
    from _carto_helpers import KERNEL_PYTHONS, Kernel, isolated_env, kernel_spec_manager

    python = KERNEL_PYTHONS["ipykernel7"]
    store = tmp_path / "data" / "carto_credentials" / "accounts.json"
    store.parent.mkdir(parents=True)
    account = {"id": "acc-s", "username": "stored", "base_url": "https://stored.carto.com/"}

    def write_store(grants):
        content = {"version": 1, "default_account": "acc-s", "grants": grants}
        content["accounts"] = [dict(account, api_key="store-key-0123456789")]
        store.write_text(json.dumps(content))

    write_store({"work/map.ipynb": "deny"})
    settings = tmp_path / "lab" / "jupyterlab-carto-credentials" / "plugin.jupyterlab-settings"
    env = isolated_env(
        tmp_path,
        {
            # What jupyter_server sets for a session named map.ipynb under work/: an OS path.
            "JPY_SESSION_NAME": str(tmp_path / "srv" / "work" / "map.ipynb"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab"),
            "JUPYTERLAB_DIR": str(tmp_path / "labapp"),
        },
    )
    k = Kernel(env, kernel_spec_manager(tmp_path, python))
    show = (
        "import carto_credentials as cc, time\nt = time.monotonic()\n"
        "c = cc.get_default_credentials()\nprint(c.username if c else None, "
        "round(time.monotonic() - t))"
    )
    try:
        k.fresh()
        # No push: the bounded wait, then nothing from the store (deny).
        assert k.run(show, timeout=30)["stdout"] == "None 2\n"
        out = k.run("cc.resolve_credentials()")
        assert "denied access" in out["errors"] and "store-key" not in out["errors"]
        write_store({})  # undecided: the store's default
        assert k.run(show)["stdout"] == "stored 0\n"
        settings.parent.mkdir(parents=True)
        settings.write_text('{\n    // policy\n    "kernelAccess": "never"\n}')
        assert k.run(show)["stdout"] == "None 0\n"
        settings.unlink()
        assert k.run(show)["stdout"] == "stored 0\n"
        k.open_comm(push_message(state="not_granted"))  # late: revokes the fallback
        assert k.run(show)["stdout"] == "None 0\n"
    finally:
        k.stop()
