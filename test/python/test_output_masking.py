"""The kernel masks every known key in everything it sends (``carto_credentials._masking``).

In-process: the one masking rule, nested values, the stream hold-back of a key split across two
writes, our own protocol messages left alone, the no-key fast path. Real kernels on both ipykernel
lines (startup file in an isolated IPYTHONDIR): streams, every rich output kind, verbose
tracebacks and ``execute_reply``, other targets' comm messages, keys from each source. Headless:
``jupyter nbconvert --execute`` of a notebook on the ``python3`` kernelspec against the local CARTO
API, and the same with a real cartoframes ``Map`` on ``python3-cartoframes``.
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from _carto_helpers import KERNEL_PYTHONS, REPO, TARGET, Kernel, kernel_spec_manager
from _carto_helpers import isolated_env as _isolated_env

from carto_credentials import _http, _masking, credentials

KEY = "0123456789abcdef0123456789abcdef01234567"
# One key per source a kernel learns keys from; each ends differently so masks tell them apart.
KEYS = {
    "env": "e" * 36 + "0001",
    "store": "s" * 36 + "0002",
    "file": "f" * 36 + "0003",
    "push": "p" * 36 + "0004",
    "code": "c" * 36 + "0005",
    "explicit": "x" * 36 + "0006",
}
UNKNOWN = "u" * 36 + "0009"


# -- the rule and the filter, in process --------------------------------------------------------


def test_one_masking_rule_for_repr_error_texts_and_outputs():
    assert credentials.mask_key is _masking.mask_key
    assert _masking.mask_key(KEY) == "***4567" and _masking.mask_key("short-key") == "***"
    assert _masking.mask_key("default_public") == "default_public"
    odd = "ab+cd/ef==0123456789"  # URL- and HTML-encoded forms differ from the raw key
    assert _http.scrub(f"a {odd} b ab%2Bcd%2Fef%3D%3D0123456789", odd) == "a *** b ***"
    html_form = "<i>" + odd + "&lt;&amp;</i>"  # the key odd + "<&" as HTML shows it
    assert _masking.Masker([odd + "<&"]).text(html_form)[0] == "<i>***89<&</i>"
    masker = _masking.Masker([KEY])
    assert masker.text(f"url?api_key={KEY}&x")[0] == "url?api_key=***4567&x"
    # default_public and short strings are never masked in outputs (src/redact.ts does the same)
    assert not _masking.qualifies("default_public") and not _masking.qualifies("1234567")


@pytest.mark.parametrize("user", ["", "a", "al", "alice", "bob-the-builder"])
def test_a_key_inside_base64_is_masked_at_every_alignment(user):
    # An HTTP Basic header, as http.client's debug output prints it: base64("user:key").
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        header = "Basic " + alphabet((user + ":" + KEY + "\n").encode()).decode()
        masked, changed = _masking.Masker([KEY]).text(header)
        assert changed and "***4567" in masked
        # Nothing left from which the key could be read back.
        tail = masked.split("***4567")[-1]
        assert len(tail) <= 4, masked
        for start in range(len(masked)):
            for end in range(start + 8, len(masked) + 1):
                piece = masked[start:end]
                try:
                    decoded = base64.b64decode(piece + "=" * (-len(piece) % 4), validate=False)
                except ValueError:
                    continue
                assert KEY[:8].encode() not in decoded and KEY[-8:].encode() not in decoded


def test_nested_json_values_and_names_are_masked_and_untouched_values_are_kept():
    masker = _masking.Masker([KEY])
    value = {"a": [{"b": ("x", KEY + "!")}], KEY: 1, "n": 3}
    masked, changed = masker.value(value)
    assert changed and masked == {"a": [{"b": ("x", "***4567!")}], "***4567": 1, "n": 3}
    clean = {"a": [1, "two"]}
    assert masker.value(clean) == (clean, False) and masker.value(clean)[0] is clean


def test_a_key_cut_by_a_shortened_repr_is_masked_in_tracebacks():
    masker = _masking.Masker([KEY])
    assert masker.cut(f"a='{KEY[:28]}...{KEY[30:]}'") == "a='***...***'"
    assert masker.cut("pandas ... 0123") == "pandas ... 0123"


class FakeSession:
    def __init__(self):
        self.sent = []
        self.ids = iter(range(1_000_000))

    def msg(self, msg_type, content=None, parent=None, header=None, metadata=None):
        return {
            "header": header or {"msg_type": msg_type, "msg_id": f"m{next(self.ids)}"},
            "parent_header": parent or {},
            "metadata": metadata or {},
            "content": content or {},
        }

    def send(self, stream, msg_or_type, content=None, parent=None, ident=None, *args, **kw):
        msg = (
            msg_or_type if isinstance(msg_or_type, dict) else self.msg(msg_or_type, content, parent)
        )
        self.sent.append(msg)
        return msg


@pytest.fixture
def send():
    """A ``SendFilter`` over a recording session, with ``KEY`` known; ``send.sent`` the output."""
    saved = _masking._keys.copy(), _masking._masker
    _masking.remember(KEY)
    session = FakeSession()
    send_filter = _masking.SendFilter(session.send, session, lambda comm_id: comm_id == "ours")
    send_filter.sent_messages = session.sent
    yield send_filter
    _masking._keys, _masking._masker = saved


def _stream(send, text, name="stdout", parent="cell-1"):
    send(None, "stream", {"name": name, "text": text}, {"msg_id": parent})


def _text(send, name="stdout"):
    return "".join(
        m["content"]["text"]
        for m in send.sent_messages
        if m["header"]["msg_type"] == "stream" and m["content"]["name"] == name
    )


def test_a_key_split_across_two_writes_is_masked(send):
    _stream(send, "key: " + KEY[:17])
    assert _text(send) == "key: ", "the start of the key waits for the next write"
    _stream(send, KEY[17:] + " end\n")
    assert _text(send) == "key: ***4567 end\n"


def test_a_held_tail_goes_out_before_the_next_message_and_the_rest_is_still_masked(send):
    _stream(send, "0")
    send(None, "status", {"execution_state": "idle"}, {"msg_id": "cell-1"})
    assert [m["header"]["msg_type"] for m in send.sent_messages] == ["stream", "status"]
    assert _text(send) == "0"
    _stream(send, "012")
    send(None, "display_data", {"data": {"text/plain": "x"}}, {"msg_id": "cell-1"})
    _stream(send, KEY[3:] + "\n")
    assert KEY[3:] not in _text(send) and _text(send).endswith("***4567\n")


def test_our_protocol_messages_keep_their_key_other_comms_do_not(send):
    data = {"type": "credentials_changed", "credentials": {"api_key": KEY}}
    send(None, "comm_msg", {"comm_id": "ours", "data": data})
    send(None, "comm_msg", {"comm_id": "widget", "data": {"state": {"value": KEY}}})
    ours, widget = send.sent_messages
    assert ours["content"]["data"]["credentials"]["api_key"] == KEY
    assert widget["content"]["data"]["state"]["value"] == "***4567"


def test_without_a_known_key_messages_pass_through_untouched():
    saved = _masking._keys.copy(), _masking._masker
    _masking._keys, _masking._masker = set(), None
    try:
        session = FakeSession()
        send = _masking.SendFilter(session.send, session, lambda comm_id: False)
        msg = session.msg("stream", {"name": "stdout", "text": KEY})
        assert send(None, msg) is msg and session.sent == [msg]
    finally:
        _masking._keys, _masking._masker = saved


def test_a_masked_cartoframes_map_says_it_needs_a_re_run(send):
    html = f"<iframe srcdoc=\"&lt;script src=carto-vl.js&gt; apiKey: '{KEY}'\"></iframe>"
    send(None, "display_data", {"data": {"text/html": html, "text/plain": "<Map>"}, "metadata": {}})
    shown = send.sent_messages[0]["content"]["data"]["text/html"]
    assert KEY not in shown and shown.startswith(_masking.MAP_NOTICE)
    assert "needs a re-run" in shown


# -- real kernels -------------------------------------------------------------------------------


def _write_sources(tmp):
    """The account store (JUPYTER_DATA_DIR) and CARTOframes' creds.json (XDG_CONFIG_HOME)."""
    store = tmp / "data" / "carto_credentials" / "accounts.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(
        json.dumps(
            {
                "version": 1,
                "default_account": "acc-s",
                "accounts": [
                    {
                        "id": "acc-s",
                        "label": "s",
                        "username": "sam",
                        "base_url": "https://sam.carto.com/",
                        "api_key": KEYS["store"],
                    }
                ],
            }
        )
    )
    creds = tmp / "config" / "cartoframes" / "creds.json"
    creds.parent.mkdir(parents=True, exist_ok=True)
    creds.write_text(json.dumps({"username": "fay", "api_key": KEYS["file"]}))


@pytest.fixture(scope="module", params=sorted(KERNEL_PYTHONS, reverse=True))
def kernel(request, tmp_path_factory):
    python = KERNEL_PYTHONS[request.param]
    if not os.path.exists(python):
        pytest.skip(f"{python} is missing: run scripts/dev_install.py")
    tmp = tmp_path_factory.mktemp("masking")
    _write_sources(tmp)
    env = _isolated_env(
        tmp,
        {
            "CARTO_USERNAME": "erin",
            "CARTO_API_KEY": KEYS["env"],
            # Not CARTO_* names: the kernel only learns these when code uses them.
            "T_KEYS": json.dumps(KEYS),
            "T_UNKNOWN": UNKNOWN,
        },
    )
    k = Kernel(env, kernel_spec_manager(tmp, python))
    k.line = request.param
    run(k, "import os, sys, json, time\nK = json.loads(os.environ['T_KEYS'])")
    yield k
    k.stop()


def run(k, code, timeout=20):
    """``(iopub messages of the request, execute_reply)``: each message is (type, content)."""
    msg_id = k.kc.execute(code, store_history=False)
    messages, deadline = [], time.monotonic() + timeout
    while True:
        msg = k.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            if msg["msg_type"] in ("comm_open", "comm_msg"):
                messages.append((msg["msg_type"], msg["content"]))
            continue
        messages.append((msg["msg_type"], msg["content"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:
        reply = k.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return messages, reply["content"]


def _emitted(messages, reply=None):
    """Everything the client received, as one string (the code echo aside: it is the cell)."""
    return json.dumps([m for m in messages if m[0] != "execute_input"] + [reply])


def _stdout(messages, name="stdout"):
    return "".join(c["text"] for t, c in messages if t == "stream" and c["name"] == name)


def _assert_clean(text, *sources):
    for source in sources or KEYS:
        assert KEYS[source] not in text, source
    assert KEY not in text


def test_keys_from_the_environment_store_and_creds_json_are_masked_before_any_use(kernel):
    messages, reply = run(
        kernel,
        "from carto_credentials import paths\n"
        "print(os.environ['CARTO_API_KEY'])\n"
        "print(open(paths.store_path()).read())\n"
        "print(open(paths.cartoframes_creds_path()).read(), file=sys.stderr)",
    )
    out = _emitted(messages, reply)
    _assert_clean(out, "env", "store", "file")
    assert "***0001" in out and "***0002" in out and "***0003" in out


def test_pushed_code_set_and_explicit_keys_are_masked_but_our_protocol_carries_code_set_ones(
    kernel,
):
    push = {
        "version": 1,
        "type": "set_credentials",
        "session_path": "work/m.ipynb",
        "kernel_id": "k-1",
        "state": "granted",
        "account": {
            "id": "acc-p",
            "label": "p",
            "username": "pia",
            "base_url": "https://pia.carto.com/",
            "api_key": KEYS["push"],
        },
    }
    comm_id = kernel.open_comm(push, TARGET)
    messages, reply = run(
        kernel,
        "from carto_credentials import Credentials, set_default_credentials, unset_default_credentials\n"
        "print(K['push'])\n"
        "c = Credentials('xia', K['explicit']); print(K['explicit'])\n"
        "set_default_credentials('cai', K['code']); print(K['code'])\n"
        "print(os.environ['T_UNKNOWN'])",
    )
    run(kernel, "unset_default_credentials()")
    out = _stdout(messages)
    assert out == "***0004\n***0006\n***0005\n" + UNKNOWN + "\n", "an unknown key is not masked"
    ours = [c for t, c in messages if t == "comm_msg" and c["comm_id"] == comm_id]
    assert ours and ours[0]["data"]["credentials"]["api_key"] == KEYS["code"], (
        "credentials_changed keeps the key code set (DESIGN: Kernel→frontend messages)"
    )
    kernel.kc.shell_channel.send(kernel.kc.session.msg("comm_close", {"comm_id": comm_id}))


def test_a_key_split_across_two_flushed_writes_is_masked(kernel):
    messages, reply = run(
        kernel,
        "sys.stdout.write('key=' + K['env'][:21]); sys.stdout.flush(); time.sleep(0.4)\n"
        "sys.stdout.write(K['env'][21:] + ' end\\n'); sys.stdout.flush()\n"
        "sys.stderr.write(K['env'][:5]); sys.stderr.flush(); time.sleep(0.3)\n"
        "sys.stderr.write(K['env'][5:] + '\\n')",
    )
    assert _stdout(messages) == "key=***0001 end\n"
    assert _stdout(messages, "stderr") == "***0001\n"
    _assert_clean(_emitted(messages, reply))


def test_every_rich_output_kind_and_mime_type_is_masked(kernel):
    messages, reply = run(
        kernel,
        "from IPython.display import display\n"
        "k = K['env']\n"
        "bundle = {'text/plain': k, 'text/html': '<b>' + k + '</b>',\n"
        "          'application/json': {'a': {'b': [1, {'c': k}]}, k: True},\n"
        "          'application/javascript': 'var key = \"' + k + '\";',\n"
        "          'text/markdown': '`' + k + '`', 'image/svg+xml': '<svg><!--' + k + '--></svg>',\n"
        "          'application/vnd.custom+json': {'deep': [[k]]}}\n"
        "display(bundle, raw=True, metadata={'note': k})\n"
        "h = display({'text/plain': 'first'}, raw=True, display_id=True)\n"
        "h.update({'text/html': '<i>' + k + '</i>'}, raw=True)\n"
        "{'key': k, 'nested': [k]}",
    )
    kinds = [t for t, _ in messages]
    assert {"display_data", "update_display_data", "execute_result"} <= set(kinds), kinds
    out = _emitted(messages, reply)
    _assert_clean(out)
    data = next(c for t, c in messages if t == "display_data")
    assert data["data"]["application/json"] == {"a": {"b": [1, {"c": "***0001"}]}, "***0001": True}
    assert data["metadata"] == {"note": "***0001"}
    result = next(c for t, c in messages if t == "execute_result")
    assert "***0001" in result["data"]["text/plain"]


def test_http_client_debug_output_shows_no_basic_header_key(kernel):
    # A common way to debug HTTP: http.client prints each request, Authorization header included.
    messages, reply = run(
        kernel,
        "import base64\n"
        "for user in ('alice', 'bo', 'x'):\n"
        "    print('send: Authorization: Basic '\n"
        "          + base64.b64encode((user + ':' + K['env']).encode()).decode())",
    )
    out = _emitted(messages, reply)
    for user in ("alice", "bo", "x"):
        header = base64.b64encode((user + ":" + KEYS["env"]).encode()).decode()
        assert header not in out
    assert out.count("***0001") == 3, out


def test_verbose_tracebacks_and_the_execute_reply_are_masked(kernel):
    run(kernel, "%xmode Verbose")
    messages, reply = run(
        kernel,
        "def fail(url, params, long_text):\n"
        "    secret = params['api_key']\n"
        "    raise ValueError('rejected ' + secret)\n"
        "fail('https://h/api?api_key=' + K['env'], {'api_key': K['env']},\n"
        "     'x' * 20 + K['env'] + 'y' * 200)",
    )
    run(kernel, "%xmode Context")
    error = next(c for t, c in messages if t == "error")
    tb = "\n".join(error["traceback"])
    assert "***0001" in tb and "params=" in tb, "verbose mode shows the (masked) arguments"
    assert reply["status"] == "error" and "***0001" in "\n".join(reply["traceback"])
    out = _emitted(messages, reply)
    _assert_clean(out)
    assert KEYS["env"][:12] not in out, "a key cut in two by a shortened repr is masked too"


def test_comm_messages_of_other_targets_are_masked(kernel):
    messages, reply = run(
        kernel,
        "import comm\n"
        "c = comm.create_comm(target_name='test.masking', data={'state': {'value': K['env']}})\n"
        "c.send({'method': 'update', 'state': {'nested': [K['env']]}})",
    )
    opened = [c for t, c in messages if t == "comm_open" and c["target_name"] == "test.masking"]
    sent = [c for t, c in messages if t == "comm_msg" and c["comm_id"] == opened[0]["comm_id"]]
    assert opened[0]["data"]["state"]["value"] == "***0001"
    assert sent[0]["data"]["state"]["nested"] == ["***0001"]


def test_masking_can_be_turned_off_for_a_kernel(tmp_path):
    python = KERNEL_PYTHONS["ipykernel7"]
    env = _isolated_env(tmp_path, {"CARTO_API_KEY": KEYS["env"], _masking.SWITCH_ENV: "0"})
    k = Kernel(env, kernel_spec_manager(tmp_path, python))
    try:
        messages, _ = run(k, "import os; print(os.environ['CARTO_API_KEY'])")
    finally:
        k.stop()
    assert _stdout(messages) == KEYS["env"] + "\n"


def test_the_silent_bootstrap_installs_the_masking_in_a_kernel_without_the_package(tmp_path):
    from _carto_helpers import BARE_PYTHON

    from carto_credentials.server.bootstrap import bootstrap_code

    if not os.path.exists(BARE_PYTHON):
        pytest.skip(f"{BARE_PYTHON} is missing: run scripts/dev_install.py")
    env = _isolated_env(tmp_path, {"CARTO_API_KEY": KEYS["env"]}, startup=False, pythonpath="")
    k = Kernel(env, kernel_spec_manager(tmp_path, BARE_PYTHON))
    try:
        code = "import os; print(os.environ['CARTO_API_KEY'])"
        before, _ = run(k, code)
        silent = k.kc.execute(bootstrap_code(), silent=True, store_history=False)
        k.collect(silent)
        after, _ = run(k, code)
    finally:
        k.stop()
    assert _stdout(before) == KEYS["env"] + "\n", "no masking before the bootstrap"
    assert _stdout(after) == "***0001\n"


# -- headless: nbconvert --execute --------------------------------------------------------------

NBCONVERT = os.path.join(REPO, ".venv", "bin", "jupyter-nbconvert")


def _notebook(path, cells, kernel_name):
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "id": uuid.uuid4().hex[:8],
                        "execution_count": None,
                        "metadata": {},
                        "outputs": [],
                        "source": source,
                    }
                    for source in cells
                ],
                "metadata": {
                    "kernelspec": {
                        "name": kernel_name,
                        "display_name": kernel_name,
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


def _headless_env(tmp, base_url, store_key):
    """A user's headless run: HOME/Jupyter dirs of its own, env credentials for alice, the account
    store's default is bob (the kernelspec's own environment runs the startup file)."""
    (tmp / "home").mkdir(exist_ok=True)
    store = tmp / "data" / "carto_credentials" / "accounts.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(
        json.dumps(
            {
                "version": 1,
                "default_account": "acc-bob",
                "accounts": [
                    {
                        "id": "acc-bob",
                        "label": "bob",
                        "username": "bob",
                        "base_url": base_url + "user/bob/",
                        "api_key": store_key,
                    }
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTO_", "JPY_", "JUPYTER_"))}
    env.pop("IPYTHONDIR", None)
    env.update(
        HOME=str(tmp / "home"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        CARTO_USERNAME="alice",
        CARTO_API_KEY="alice-demo-key-0001",
        CARTO_BASE_URL=base_url + "user/alice",
        CARTO_ALLOW_NON_SECURE="1",
        PYTHONPATH=REPO,
    )
    return env


def _nbconvert(notebook, env, allow_errors=True, timeout=240):
    args = [NBCONVERT, "--to", "notebook", "--execute", str(notebook)]
    args += ["--output", notebook.stem + ".out", "--ExecutePreprocessor.timeout=120"]
    if allow_errors:
        args.append("--allow-errors")
    return subprocess.run(
        args, env=env, cwd=notebook.parent, capture_output=True, text=True, timeout=timeout
    )


HEADLESS_CELLS = [
    "%xmode Verbose",
    "from carto_credentials import get_default_credentials, sql\n"
    "from carto_credentials.defaults import default_credentials_source\n"
    "print(default_credentials_source(), get_default_credentials().api_key)",
    "sql('SELECT * FROM no_such_table')",
    "import os\n"
    "for name in ('CARTO_USERNAME', 'CARTO_API_KEY', 'CARTO_BASE_URL'):\n"
    "    os.environ.pop(name)\n"
    "print(default_credentials_source(), get_default_credentials().api_key)\n"
    "get_default_credentials()",
    "sql('SELECT * FROM no_such_table')",
]


@pytest.mark.skipif(not os.path.exists(NBCONVERT), reason="nbconvert is not installed")
def test_headless_nbconvert_run_leaves_no_key_in_the_notebook_or_stderr(tmp_path, carto_api):
    _, base_url = carto_api
    keys = ("alice-demo-key-0001", "bob-demo-key-0002")
    env = _headless_env(tmp_path, base_url, keys[1])
    notebook = tmp_path / "headless.ipynb"
    _notebook(notebook, HEADLESS_CELLS, "python3")
    done = _nbconvert(notebook, env)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = (tmp_path / "headless.out.ipynb").read_text()
    for key in keys:
        assert key not in saved and key not in done.stderr
    outputs = [c["outputs"] for c in json.loads(saved)["cells"]]
    assert "environment ***0001" in "".join(outputs[1][0]["text"]), outputs[1]
    assert outputs[2][0]["output_type"] == "error" and "***0001" in json.dumps(outputs[2])
    assert "account store ***0002" in "".join(outputs[3][0]["text"]), outputs[3]
    assert outputs[4][0]["ename"] in ("QueryError", "NotFoundError"), outputs[4]
    # Without --allow-errors nbconvert stops at the failing cell and prints its traceback.
    failed = _nbconvert(notebook, env, allow_errors=False)
    assert failed.returncode != 0 and "no_such_table" in failed.stderr
    for key in keys:
        assert key not in failed.stderr


CARTOFRAMES_CELLS = [
    "%xmode Verbose",
    # No credentials in the notebook: cartoframes follows the environment (CARTO_*).
    "from cartoframes.viz import Map, Layer\nMap(Layer('alice_stores'))",
    "from cartoframes.auth import get_default_credentials\nget_default_credentials().api_key",
    "from cartoframes import read_carto\nread_carto('no_such_table')",
]


@pytest.mark.skipif(not os.path.exists(NBCONVERT), reason="nbconvert is not installed")
def test_headless_cartoframes_map_is_masked_and_says_it_needs_a_re_run(tmp_path, carto_api):
    python = os.path.join(REPO, ".venv-cartoframes-ours", "bin", "python")
    if not os.path.exists(python):
        pytest.skip("the cartoframes kernel environment is missing")
    _, base_url = carto_api
    env = _headless_env(tmp_path, base_url, "bob-demo-key-0002")
    # cartoframes' usage metrics stay off (offline)
    metrics = tmp_path / "config" / "cartoframes" / "metrics.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"uuid": str(uuid.uuid4()), "enabled": False}))
    notebook = tmp_path / "cf.ipynb"
    _notebook(notebook, CARTOFRAMES_CELLS, "python3-cartoframes")
    done = _nbconvert(notebook, env)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = (tmp_path / "cf.out.ipynb").read_text()
    assert "alice-demo-key-0001" not in saved and "alice-demo-key-0001" not in done.stderr
    cells = json.loads(saved)["cells"]
    result = next(o for o in cells[1]["outputs"] if o["output_type"] == "execute_result")
    html = "".join(result["data"]["text/html"])
    assert "srcdoc" in html.lower() and html.startswith(_masking.MAP_NOTICE), html[:300]
    assert "***0001" in json.dumps(cells[2]["outputs"])
    error = cells[3]["outputs"][-1]
    assert error["output_type"] == "error" and "api_key=***0001" in json.dumps(error), (
        "cartoframes puts the key in its URLs: the verbose traceback shows them masked"
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
