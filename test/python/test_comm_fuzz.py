"""Fuzz of the kernel end of ``carto.credentials`` (issue 10, "Done when"): thousands of generated
payloads, as open data and as messages on a live comm, never let an exception escape and never
change the kernel's state unless ``parse_set_credentials`` accepts them; then a short smoke of the
same generator against real kernels.

The generator is seeded (reproducible, no extra dependency): valid pushes of every state, mutated
one to three times (fields dropped, added, retyped, or given hostile strings: control and
bidirectional characters, URLs without host, huge or deeply nested values), and some arbitrary
JSON. ``parse_set_credentials`` is the oracle: what it accepts must become exactly the state,
what it rejects (``MalformedMessage``, nothing else) must leave everything as it was.
"""

import json
import random
import time

import pytest
from _carto_helpers import (  # noqa: F401 (fixture)
    KERNEL_PYTHONS,
    FakeKernel,
    Kernel,
    isolated,
    isolated_env,
    kernel_spec_manager,
    push_message,
)

from carto_credentials import defaults, kernel

pytestmark = pytest.mark.usefixtures("isolated")

SEED = 20261130
COUNT = 4000
TIME_BOUND_S = 60.0
SECRET = "fuzz-secret-0123456789abcdef"

STATES = ("granted", "public", "not_granted", "no_account")
FIELDS = ("version", "type", "session_path", "kernel_id", "state", "account")
ACCOUNT_FIELDS = ("id", "label", "username", "base_url", "api_key")


def _hostile_strings(rng):
    return [
        "",
        " ",
        "a" * rng.choice((199, 200, 201, 2048, 2049, 4096, 4097, 20000)),
        "alice\n",
        "alice\r\nX-Injected: 1",
        "nul\x00byte",
        "bidi\u202eevil",
        "tab\tsep",
        "\ud7ff\ue000\U0010ffff",
        "https:",
        "https://",
        "https:///user/x",
        "http://127.0.0.1:9/user/u/",
        "https://user:pw@host.example/",
        "https://host.example/?api_key=" + SECRET,
        "https://host.example/#frag",
        "ftp://host.example/",
        "javascript:alert(1)",
        "//host.example/",
        "https://ho st.example/",
        "https://host.example/u/alice/",
        "default_public",
        "default_public\n",
        SECRET,
        SECRET + " ",
        "work/../../etc/passwd",
        "/abs/path.ipynb",
        "acc-" + "x" * 300,
    ]


def _hostile_value(rng):
    pool = [
        None,
        True,
        False,
        0,
        1,
        1.0,
        1.5,
        -1,
        2,
        10**30,
        1e308,
        [],
        {},
        [1, "a", None],
        {"nested": {"deeper": [SECRET]}},
        _deep(rng.choice((10, 60, 400))),
    ]
    return rng.choice(pool + _hostile_strings(rng))


def _deep(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def _valid(rng):
    state = rng.choice(STATES)
    if state == "public":
        return push_message(state=state, username="bob", api_key="default_public")
    return push_message(
        state=state,
        username=rng.choice(("alice", None)),
        base_url=rng.choice(("https://alice.carto.com/", "https://onprem.example/user/alice/")),
        api_key=SECRET,
        account_id="acc-%d" % rng.randrange(1000),
    )


def _mutate(rng, message):
    message = json.loads(json.dumps(message))
    account = message.get("account") if isinstance(message.get("account"), dict) else None
    # Mostly field values (what a validation can get wrong); envelope fields less often.
    kind = rng.choices(range(9), weights=(1, 1, 1, 2, 3, 5, 1, 0.5, 0.5))[0]
    if kind == 0:
        message.pop(rng.choice(FIELDS), None)
    elif kind == 1 and account is not None:
        account.pop(rng.choice(ACCOUNT_FIELDS), None)
    elif kind == 2:
        message[rng.choice(("extra", "api_key", "__proto__", "Version"))] = _hostile_value(rng)
    elif kind == 3:
        message[rng.choice(FIELDS)] = _hostile_value(rng)
    elif kind == 4 and account is not None:
        account[rng.choice(ACCOUNT_FIELDS)] = _hostile_value(rng)
    elif kind == 5 and account is not None:
        account[rng.choice(ACCOUNT_FIELDS)] = rng.choice(_hostile_strings(rng))
    elif kind == 6:
        message["state"] = rng.choice(STATES)  # a state that may not match the account
    elif kind == 7:
        message["version"] = rng.choice((1, 1.0, "1", True, 2, 0, None, [1]))
    elif kind == 8:
        message["type"] = rng.choice(("set_credentials", "credentials_changed", "", None, 1))
    else:  # an account field of a message without one: give it an account
        message["account"] = {f: rng.choice(_hostile_strings(rng)) for f in ACCOUNT_FIELDS}
    return message


def payloads(seed=SEED, count=COUNT):
    rng = random.Random(seed)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            yield _valid(rng)
        elif roll < 0.12:
            yield _hostile_value(rng)  # not an object at all, or an arbitrary one
        else:
            message = _valid(rng)
            for _ in range(rng.randint(1, 3)):
                message = _mutate(rng, message)
            yield message


def _state():
    bridge = kernel._bridge
    with bridge.lock:
        return (
            bridge.pushed,
            bridge.state,
            bridge.account_id,
            bridge.session_path,
            bridge.kernel_id,
            dict(bridge.replayed_messages),
            defaults.code_default(),
        )


def _expected(before, push):
    if push is None:
        return before
    return (
        push.credentials,
        push.state,
        push.account_id,
        push.session_path,
        push.kernel_id,
    ) + before[5:]


def _oracle(payload):
    try:
        return kernel.parse_set_credentials(payload)
    except kernel.MalformedMessage:
        return None


def _shown(payload):
    return json.dumps(payload, default=repr)[:300].replace(SECRET, "***")


def test_generated_payloads_never_escape_and_rejected_ones_change_nothing():
    fake = FakeKernel()
    kernel.register_target(fake)
    live = fake.comm_manager.open(push_message())
    start = time.monotonic()
    accepted = rejected = 0
    for n, payload in enumerate(payloads()):
        push = _oracle(payload)  # any exception but MalformedMessage escapes: a failure
        accepted, rejected = accepted + (push is not None), rejected + (push is None)
        for deliver in ("open", "message"):
            before = _state()
            try:
                if deliver == "open":
                    comm = fake.comm_manager.open(payload)
                    sent = comm.sent
                else:
                    live.sent.clear()
                    live.receive(payload)
                    sent = live.sent
            except Exception as exc:  # pragma: no cover - the failure report
                pytest.fail(f"#{n} ({deliver}) raised {type(exc).__name__} for {_shown(payload)}")
            after = _state()
            assert after == _expected(before, push), f"#{n} ({deliver}): {_shown(payload)}"
            assert sent == [], f"#{n} ({deliver}) answered a push: {_shown(payload)}"
        if n % 500 == 0:  # comms opened here close again: the list stays short
            for comm in list(kernel._bridge.comms):
                if comm is not live:
                    kernel._forget(comm)
    elapsed = time.monotonic() - start
    assert elapsed < TIME_BOUND_S
    # The generator reaches both sides of the oracle, in earnest.
    assert accepted > COUNT // 50 and rejected > COUNT // 2, (accepted, rejected)


@pytest.mark.parametrize(
    "msg",
    [
        None,
        [],
        "x",
        {},
        {"content": None},
        {"content": []},
        {"content": {"comm_id": "c"}},
        {"content": {"data": None}},
        {"content": {"data": _deep(2000)}},
    ],
)
def test_malformed_comm_envelopes_change_nothing(msg):
    fake = FakeKernel()
    kernel.register_target(fake)
    live = fake.comm_manager.open(push_message())
    before = _state()
    kernel._on_msg(msg)
    live.msg_callback(msg)
    assert _state() == before and live.sent == []


def test_rejected_pushes_keep_a_code_set_default_and_its_replay():
    fake = FakeKernel()
    kernel.register_target(fake)
    defaults.set_default_credentials("coder", "code-key")
    for payload in list(payloads(seed=7, count=300)):
        if _oracle(payload) is None:
            comm = fake.comm_manager.open(payload)
            assert [m["type"] for m in comm.sent] == ["credentials_changed"]
    assert defaults.get_default_credentials().username == "coder"


# -- a short smoke on real kernels ---------------------------------------------------------------

SMOKE_COUNT = 150
STATUS = (
    "import json\nfrom carto_credentials import kernel as k\ns = k.status()\n"
    "print(json.dumps([s[f] for f in ('state', 'account_id', 'username', 'base_url', "
    "'session_path', 'kernel_id')]))"
)


def _json_safe(payload):
    try:
        json.dumps(payload, allow_nan=False)
    except (ValueError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("line", sorted(KERNEL_PYTHONS, reverse=True))
def test_real_kernel_survives_generated_payloads_and_keeps_the_last_accepted(tmp_path, line):
    python = KERNEL_PYTHONS[line]
    import os

    if not os.path.exists(python):
        pytest.skip(f"{python} is missing")
    k = Kernel(isolated_env(tmp_path), kernel_spec_manager(tmp_path, python))
    try:
        k.fresh()
        last = kernel.parse_set_credentials(push_message())
        comm_id = k.open_comm(push_message())
        sent = 0
        for n, payload in enumerate(payloads(seed=SEED + 1, count=SMOKE_COUNT * 2)):
            if sent == SMOKE_COUNT:
                break
            if not _json_safe(payload):
                continue
            sent += 1
            if n % 10 == 0:
                k.open_comm(payload)
            else:
                k.comm_msg(comm_id, payload)
            last = _oracle(payload) or last
        out = k.run(STATUS, timeout=30)
        assert out["errors"] == "", out["errors"][-2000:].replace(SECRET, "***")
        expected = [
            last.state,
            last.account_id,
            last.credentials.username if last.credentials else None,
            last.credentials.base_url if last.credentials else None,
            last.session_path,
            last.kernel_id,
        ]
        assert json.loads(out["stdout"]) == expected
        assert SECRET not in json.dumps(out)
    finally:
        k.stop()
