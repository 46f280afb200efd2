"""Real kernels started through jupyter_client with the startup file in an isolated IPYTHONDIR,
on both ipykernel lines users have: ``.venv`` (ipykernel 7, the default) and ``.venv-ipykernel6``
(6.29). The comm target exists before the first cell, the credentials of the open message reach
the first cell, a restart works after a re-push, code-set defaults come back on IOPub, malformed
messages are ignored, a cell queued before the push still gets it without later cells running
nested (the selective pump of ``_ipykernel_compat``), the wait is bounded, and the package
imports fast."""

import json
import os
import subprocess
import sys
import time

import pytest
from _carto_helpers import (
    KERNEL_PYTHONS,
    REPO,
    STARTUP,
    TARGET,
    Kernel,
    kernel_spec_manager,
)
from _carto_helpers import isolated_env as _isolated_env

KEY = "0123456789abcdef0123456789abcdef01234567"
PYTHON = sys.executable


def push(username="alice", api_key=KEY, state="granted"):
    return {
        "version": 1,
        "type": "set_credentials",
        "session_path": "work/map.ipynb",
        "kernel_id": "k-int",
        "state": state,
        "account": {
            "id": "acc-" + username,
            "label": username,
            "username": username,
            "base_url": f"https://{username}.carto.com/",
            "api_key": api_key,
        },
    }


@pytest.fixture(scope="module", params=sorted(KERNEL_PYTHONS, reverse=True))
def kernel(request, tmp_path_factory):
    python = KERNEL_PYTHONS[request.param]
    if not os.path.exists(python):
        pytest.skip(f"{python} is missing: run scripts/dev_install.py")
    tmp = tmp_path_factory.mktemp("kernel")
    k = Kernel(
        _isolated_env(tmp, {"JPY_SESSION_NAME": "work/map.ipynb"}),
        kernel_spec_manager(tmp, python),
    )
    k.line = request.param
    yield k
    k.stop()


def test_each_kernel_runs_the_ipykernel_line_it_stands_for(kernel):
    kernel.fresh()
    out = kernel.run("import ipykernel\nprint(ipykernel.__version__.split('.')[0])")
    assert out["stdout"] == kernel.line[-1] + "\n", out


SHOW = (
    "import carto_credentials as cc\n"
    "c = cc.get_default_credentials()\n"
    "print(c.username if c else None, c.base_url if c else None)"
)


def test_first_cell_sees_the_credentials_of_the_open_message(kernel):
    kernel.fresh()
    comm_id = kernel.open_comm(push())
    out = kernel.run(SHOW)  # sent right after comm_open: no round trip in between
    assert out["stdout"] == "alice https://alice.carto.com\n"
    assert out["errors"] == "" and comm_id not in out["comm_close"]
    assert KEY not in json.dumps(out)


def test_target_is_registered_before_any_cell_and_survives_restart(kernel):
    kernel.fresh()
    # Nothing has run yet in this kernel: only the startup file could have registered it.
    reply = kernel.kc.comm_info(target_name=TARGET, reply=True)
    assert reply["content"]["status"] == "ok"
    kernel.open_comm(push("bob", api_key="default_public", state="public"))
    out = kernel.run(SHOW + "\nprint(cc.get_default_credentials().api_key)")
    assert out["stdout"] == "bob https://bob.carto.com\ndefault_public\n"
    # ipykernel 7: the startup file also wrapped the main shell stream (no wait has run yet).
    out = kernel.run(
        "from carto_credentials import _ipykernel_compat as c\n"
        "print(c.installed(get_ipython().kernel), sum(c.handled.values()))"
    )
    assert out["stdout"] == ("True 0\n" if kernel.line == "ipykernel7" else "False 0\n"), out


def test_a_reconnected_client_keeps_the_credentials_and_can_push_on_the_live_comm(kernel):
    # A websocket reconnect: same kernel process, new connection; the kernel-side comm survives.
    kernel.fresh()
    comm_id = kernel.open_comm(push())
    assert kernel.run(SHOW)["stdout"] == "alice https://alice.carto.com\n"
    from jupyter_client import BlockingKernelClient

    # Its own Session (own id): km.client() would share ours, and with it the socket identity.
    other = BlockingKernelClient(connection_file=kernel.km.connection_file)
    other.load_connection_file()
    other.start_channels()
    try:
        other.wait_for_ready(timeout=30)
        other.shell_channel.send(
            other.session.msg("comm_msg", {"comm_id": comm_id, "data": push("frank")})
        )
        reply = other.execute_interactive(SHOW, timeout=30, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok"
    finally:
        other.stop_channels()
    assert kernel.run(SHOW)["stdout"] == "frank https://frank.carto.com\n"


def test_code_set_defaults_come_back_on_iopub_and_malformed_messages_are_ignored(kernel):
    kernel.fresh()
    comm_id = kernel.open_comm(push())
    out = kernel.run(
        "import carto_credentials as cc\n"
        "cc.set_default_credentials('bob', 'bob-key')\n"
        "cc.unset_default_credentials()"
    )
    assert out["errors"] == ""
    assert [(m["comm_id"], m["data"]) for m in out["comm"]] == [
        (
            comm_id,
            {
                "version": 1,
                "type": "credentials_changed",
                "credentials": {
                    "username": "bob",
                    "base_url": "https://bob.carto.com/",
                    "api_key": "bob-key",
                },
            },
        ),
        (comm_id, {"version": 1, "type": "credentials_changed", "credentials": None}),
    ]
    for bad in ({"version": 2}, "nope", dict(push(), state="maybe"), dict(push(), extra=1)):
        kernel.comm_msg(comm_id, bad)
    kernel.open_comm([1, 2])
    out = kernel.run(SHOW)
    assert out["stdout"] == "alice https://alice.carto.com\n" and out["errors"] == ""
    # a valid later message still applies
    kernel.comm_msg(comm_id, push("carol"))
    assert kernel.run(SHOW)["stdout"] == "carol https://carol.carto.com\n"


WAITING_CELL = (
    "import time\nt0 = time.monotonic()\n" + SHOW + "\nprint(round(time.monotonic() - t0, 2) < 1.5)"
)


def test_a_cell_queued_before_the_push_waits_for_it_without_running_later_cells_nested(kernel):
    kernel.fresh()
    first = kernel.execute(WAITING_CELL)
    other = kernel.open_comm({}, target="not.ours")  # queued too: must wait for the cell
    second = kernel.execute("print('second')")
    time.sleep(0.3)  # the first cell is now blocked in get_default_credentials()
    comm_id = kernel.open_comm(push())
    kernel.comm_msg(comm_id, push("carol"))  # on the comm the pump just opened
    events = kernel.events_until_idle(second)
    assert events.index(("idle", first)) < events.index(("execute_input", second))
    # The unknown target is answered (closed) after the first cell, in its place in the queue.
    closed = events.index(("comm_close", other))
    assert events.index(("idle", first)) < closed < events.index(("execute_input", second))
    out = kernel.run("import carto_credentials as cc\nprint(cc.kernel.status()['username'])")
    assert out["stdout"] == "carol\n"
    # The pump may take the comm_msg in the same round as the open: the cell then sees carol.
    assert kernel.stdout_of(first, events) in (
        "alice https://alice.carto.com\nTrue\n",
        "carol https://carol.carto.com\nTrue\n",
    ), events
    assert kernel.stdout_of(second, events) == "second\n"


@pytest.mark.parametrize("round_", range(3))
def test_a_cell_and_the_push_arriving_together_after_a_restart(kernel, round_):
    # What services does after an auto-restart: the cell held in its pending queue, then the push,
    # back to back. The push may be read by the kernel before the cell blocks (ipykernel 7: a task
    # that cannot run) or after (still in the socket): both must reach the waiting cell.
    kernel.fresh()
    first = kernel.execute(WAITING_CELL)
    kernel.open_comm(push())
    second = kernel.execute("print('second')")
    events = kernel.events_until_idle(second)
    assert kernel.stdout_of(first, events) == "alice https://alice.carto.com\nTrue\n", events
    assert events.index(("idle", first)) < events.index(("execute_input", second))
    out = kernel.run(
        "from carto_credentials import _ipykernel_compat as c\n"
        "print(c.installed(get_ipython().kernel), c.handled)"
    )
    print(kernel.line, out["stdout"])  # which queue the push waited in (-s shows it)
    assert out["stdout"].startswith("True" if kernel.line == "ipykernel7" else "False")


def test_ipykernel7_with_comms_over_subshells_a_push_on_a_subshell_ends_the_wait(kernel):
    # JupyterLab's commsOverSubshells (perCommTarget) sends a comm's later messages on a kernel
    # subshell: a thread of its own, so the handler runs while the main shell's cell waits.
    if kernel.line != "ipykernel7":
        pytest.skip("ipykernel 6 has no subshells")
    kernel.fresh()
    kc = kernel.kc
    request = kc.session.msg("create_subshell_request", {})
    kc.control_channel.send(request)
    reply = kc.control_channel.get_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != request["header"]["msg_id"]:
        reply = kc.control_channel.get_msg(timeout=30)  # e.g. the restart's shutdown_reply
    assert reply["content"]["status"] == "ok", reply
    subshell_id = reply["content"]["subshell_id"]
    comm_id = kernel.open_comm({"version": 1})  # malformed: ignored, nothing applied yet
    first = kernel.execute(WAITING_CELL)
    time.sleep(0.3)  # the cell waits
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": push("erin")})
    msg["header"]["subshell_id"] = subshell_id
    kc.shell_channel.send(msg)
    out = kernel.collect(first)
    assert out["stdout"] == "erin https://erin.carto.com\nTrue\n", out


def test_ipykernel7_a_push_read_just_before_the_cell_blocked_is_not_lost(kernel):
    # On ipykernel 7 the main shell stream may read the push right after the cell, before the
    # cell blocks: it then waits as a task that the blocked loop cannot run. Reproduced here by
    # doing, inside the cell, what the stream does when it reads a message.
    if kernel.line != "ipykernel7":
        pytest.skip("ipykernel 6 queues every message in msg_queue")
    kernel.fresh()
    out = kernel.run(
        "import uuid, zmq\n"
        "import carto_credentials as cc\n"
        "from carto_credentials import _ipykernel_compat as compat, kernel as bridge\n"
        "k = get_ipython().kernel\n"
        "stream = compat._recorders[id(k)].stream\n"
        "msg = k.session.msg('comm_open', {'comm_id': uuid.uuid4().hex,\n"
        "    'target_name': 'carto.credentials', 'data': %r})\n"
        "frames = [zmq.Frame(f) for f in k.session.serialize(msg, ident=[b'client'])]\n"
        "stream._run_callback(stream._recv_callback, frames)\n"
        "print(cc.get_default_credentials().username, compat.handled['read_not_dispatched'])"
        % push("dave")
    )
    assert out["stdout"] == "dave 1\n", out
    # The task the stream started ran after the cell and skipped the message: one comm, not two.
    out = kernel.run("print(bridge.status()['open_comms'], bridge.status()['username'])")
    assert out["stdout"] == "1 dave\n", out


def test_without_a_push_the_wait_is_bounded_and_the_error_says_why(kernel):
    kernel.fresh()
    start = time.monotonic()
    out = kernel.run("import carto_credentials as cc\ncc.sql('select 1')")
    assert 1.5 < time.monotonic() - start < 6
    assert "NoCredentialsError" in out["errors"]
    assert "did not send credentials to this kernel within 2 s" in out["errors"]


def test_a_map_with_code_credentials_is_an_ipywidget_whose_state_holds_no_key(kernel):
    kernel.fresh()
    comm_id = kernel.open_comm(push())
    key_b = "fedcba9876543210fedcba9876543210fedcba98"
    msg_id = kernel.execute(
        "from carto_credentials import Credentials, Layer, Map\n"
        f"m = Map([Layer('alice_stores'), Layer('bob_parks', credentials=Credentials('bob', {key_b!r}))])\n"
        "m"
    )
    widget_opens, registrations, displays = [], [], []
    while True:
        msg = kernel.kc.get_iopub_msg(timeout=10)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "comm_open" and content["target_name"] == "jupyter.widget":
            widget_opens.append(content)
        elif kind == "comm_msg" and content["comm_id"] == comm_id:
            registrations.append(content["data"])
        elif kind == "execute_result":
            displays.append(content["data"])
        elif kind == "error":
            pytest.fail("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            if msg["parent_header"].get("msg_id") == msg_id:
                break
    (map_open,) = [o for o in widget_opens if o["data"]["state"]["_model_name"] == "CartoMapModel"]
    # The map's layers reference Layer widgets, each referencing its Source widget.
    states = {o["comm_id"]: o["data"]["state"] for o in widget_opens}
    refs = map_open["data"]["state"]["layers"]
    layer_states = [states[ref.removeprefix("IPY_MODEL_")] for ref in refs]
    layers = [states[layer["source"].removeprefix("IPY_MODEL_")] for layer in layer_states]
    assert [layer["credentials_ref"] is None for layer in layers] == [True, False]
    assert KEY not in json.dumps(widget_opens) and key_b not in json.dumps(widget_opens)
    # The key reaches JupyterLab only on the credentials comm, as code set it, by reference.
    assert [(r["type"], r["ref"]) for r in registrations] == [
        ("register_credentials", layers[1]["credentials_ref"])
    ]
    view = displays[0]["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == map_open["comm_id"]


# -- outside a kernel, and cost -----------------------------------------------------------------


def test_startup_file_is_silent_in_terminal_ipython_with_or_without_the_package(tmp_path):
    env = _isolated_env(tmp_path)
    for pythonpath in (REPO, str(tmp_path / "empty")):
        env["PYTHONPATH"] = pythonpath
        result = subprocess.run(
            [
                PYTHON,
                "-m",
                "IPython",
                "--no-banner",
                "--colors=NoColor",
                "--TerminalInteractiveShell.term_title=False",
                "-c",
                "print('ok', [n for n in dir() if 'carto' in n])",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        # A failing startup file would print a traceback; ours leaves no name behind either.
        assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "ok []", "")


def _installed_like_env(tmp_path):
    """Bytecode cached as after ``pip install`` (the CI env sets PYTHONDONTWRITEBYTECODE, which
    would make every run compile the sources), in a cache outside the repository."""
    env = _isolated_env(tmp_path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    return env


# How long the startup file and the import take is measured by the benchmark (npm run bench,
# docs/benchmarks.md), not here: these check what makes them cheap, whatever the machine's load.
HEAVY = ("ipywidgets", "requests", "jupyter_server", "cartoframes", "jsonschema")


def _heavy_modules_after(code, tmp_path):
    env = _installed_like_env(tmp_path)
    probe = (
        code
        + "\nimport sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (HEAVY,)
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_startup_file_registers_the_target_and_loads_nothing_heavy(tmp_path):
    code = (
        "import ipykernel.ipkernel, IPython\n"
        "before = set(__import__('sys').modules)\n"
        "class M:\n"
        "    targets = {}\n"
        "    def register_target(self, name, cb): self.targets[name] = cb\n"
        "class K: comm_manager = M()\n"
        "class Shell: kernel = K()\n"
        "exec(open(%r).read(), {'get_ipython': lambda: Shell()})\n"
        "assert list(K.comm_manager.targets) == ['carto.credentials']\n" % STARTUP
    )
    assert _heavy_modules_after(code, tmp_path) == "[]"


def test_import_loads_nothing_heavy(tmp_path):
    assert _heavy_modules_after("import carto_credentials", tmp_path) == "[]"
