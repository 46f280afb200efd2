"""``cartoframes.auth`` follows the kernel's effective credentials (carto_credentials/_cartoframes.py).

Real kernels of the real cartoframes 1.2.5 (ipykernel 7.4): ``ours`` is ``.venv-cartoframes-ours``
(the ``python3-cartoframes`` kernelspec: our package and its IPython startup file), ``bare`` is
``.venv-cartoframes`` (``python3-cartoframes-bare``: no package; the comm is closed straight back,
the frontend's silent bootstrap loads the server's copy by path, then pushes again). Each level of
the precedence chain is read through ``cartoframes.auth.get_default_credentials()``; the seeds'
``read_carto`` / ``to_carto`` / ``Map(Layer(...))`` run against the local CARTO API with no key in
the code. Kernels print key fingerprints, never keys.

The in-process tests at the end use a tiny stand-in for cartoframes' ``auth`` package (same module
layout and name bindings as 1.2.5) on the test runner's Python.
"""

import hashlib
import json
import os
import sys
import uuid

import pytest
from _carto_helpers import (  # noqa: F401 (isolated: fixture)
    KEY,
    FakeKernel,
    Kernel,
    isolated,
    isolated_env,
    kernel_spec_manager,
    push_message,
)

from carto_credentials.server.bootstrap import bootstrap_code

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHONS = {
    "ours": os.path.join(REPO, ".venv-cartoframes-ours", "bin", "python"),
    "bare": os.path.join(REPO, ".venv-cartoframes", "bin", "python"),
}
BOB_KEY = "fedcba9876543210fedcba9876543210fedcba98"
ENV_KEY = "env0123456789abcdef0123456789abcdef0123"
STORE_KEY = "store456789abcdef0123456789abcdef012345"
CODE_KEY = "code89abcdef0123456789abcdef0123456789ab"
DEMO_KEY = "alice-demo-key-0001"  # tools/carto_api


def fingerprint(key):
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# Defined in the kernel by the first cell; importing cartoframes happens only when it is called.
PROBE = """
def _probe(label):
    import hashlib, json
    from cartoframes.auth import Credentials, get_default_credentials
    c = get_default_credentials()
    value = None if c is None else {
        "real": type(c) is Credentials, "username": c.username, "base_url": c.base_url,
        "non_secure": c.allow_non_secure,
        "key": hashlib.sha256(c.api_key.encode()).hexdigest()[:12]}
    print("PROBE " + json.dumps([label, value]))
"""


def probes(out):
    assert out["errors"] == "", out["errors"][-3000:]
    found = {}
    for line in out["stdout"].splitlines():
        if line.startswith("PROBE "):
            label, value = json.loads(line[len("PROBE ") :])
            found[label] = value
    return found


def expect(username, base_url, key, non_secure=False):
    return {
        "real": True,
        "username": username,
        "base_url": base_url,
        "non_secure": non_secure,
        "key": fingerprint(key),
    }


def write_store(tmp_path, key=STORE_KEY):
    path = tmp_path / "data" / "carto_credentials" / "accounts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    account = {
        "id": "acc-store",
        "label": "stored",
        "username": "stored",
        "base_url": "https://stored.carto.com/",
        "api_key": key,
        "user_info": None,
        "created_at": "2024-01-01T00:00:00Z",
    }
    store = {"version": 1, "default_account": "acc-store", "accounts": [account], "grants": {}}
    path.write_text(json.dumps(store))
    path.chmod(0o600)


def start(flavour, tmp_path, extra=None):
    """A kernel of ``flavour``; no cartoframes metrics; the store default and ``extra`` env."""
    python = PYTHONS[flavour]
    if not os.path.exists(python):
        pytest.skip(f"{python} is missing: see requirements/README.md")
    metrics = tmp_path / "config" / "cartoframes" / "metrics.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"uuid": str(uuid.uuid4()), "enabled": False}))
    # Both venvs' own path setup only: `ours` finds the checkout through its .pth file and runs
    # the startup file from {sys.prefix}/etc/ipython/startup, as the kernelspec does.
    env = isolated_env(
        tmp_path,
        dict({"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}, **(extra or {})),
        startup=False,
        pythonpath="",
    )
    return Kernel(env, kernel_spec_manager(tmp_path, python))


def connect(kernel, flavour, message):
    """What the frontend does on kernel start: open the comm with the push in it; in ``bare`` the
    comm is closed straight back, so run the server's bootstrap silently and push again."""
    comm = kernel.open_comm(message)
    closed = kernel.run("pass")["comm_close"]
    if flavour == "bare":
        assert comm in closed
        kernel.collect(kernel.kc.execute(bootstrap_code(), silent=True, store_history=False))
        comm = kernel.open_comm(message)
        assert kernel.run("pass")["comm_close"] == []
    else:
        assert comm not in closed
    return comm


def alice(**kw):
    return push_message(
        **dict({"username": "alice", "api_key": KEY, "account_id": "acc-alice"}, **kw)
    )


def bob():
    return push_message(
        username="bob", base_url="https://bob.carto.com/", api_key=BOB_KEY, account_id="acc-bob"
    )


FLAVOURS = pytest.mark.parametrize("flavour", ["ours", "bare"])


@FLAVOURS
def test_precedence_switch_code_set_unset_and_denied_through_cartoframes(flavour, tmp_path):
    write_store(tmp_path)
    kernel = start(flavour, tmp_path)
    try:
        # No JPY_SESSION_NAME: no push expected, nothing waits. A first push says "no account"
        # (what JupyterLab sends when nobody is logged in), so the lower levels answer.
        comm = connect(kernel, flavour, push_message(state="no_account"))
        out = kernel.run(
            PROBE + "import sys\n"
            "print('loaded', 'cartoframes' in sys.modules)\n"
            "_probe('store')\n"
            "import os\n"
            "os.environ.update(CARTO_USERNAME='envuser', CARTO_API_KEY=%r)\n"
            "_probe('environment')\n" % ENV_KEY,
            timeout=60,
        )
        assert "loaded False" in out["stdout"]  # nothing imported cartoframes before the probe
        seen = probes(out)
        assert seen["store"] == expect("stored", "https://stored.carto.com", STORE_KEY)
        assert seen["environment"] == expect("envuser", "https://envuser.carto.com", ENV_KEY)

        # cartoframes imported before this push; the push wins over env and store.
        kernel.comm_msg(comm, alice())
        seen = probes(kernel.run("_probe('pushed')"))
        assert seen["pushed"] == expect("alice", "https://alice.carto.com", KEY)

        # The user switches the notebook's account in the toolbar: JupyterLab pushes again.
        kernel.comm_msg(comm, bob())
        seen = probes(kernel.run("_probe('switched')"))
        assert seen["switched"] == expect("bob", "https://bob.carto.com", BOB_KEY)

        # cartoframes' own set_default_credentials is code-set: it wins, JupyterLab is told, and
        # the object it was given comes back as is.
        out = kernel.run(
            "from cartoframes.auth import Credentials, set_default_credentials, "
            "get_default_credentials, unset_default_credentials\n"
            "mine = Credentials('coder', %r)\n"
            "set_default_credentials(mine)\n"
            "print('same', get_default_credentials() is mine)\n"
            "_probe('code')\n" % CODE_KEY
        )
        seen = probes(out)
        assert "same True" in out["stdout"]
        assert seen["code"] == expect("coder", "https://coder.carto.com", CODE_KEY)
        changed = [m["data"] for m in out["comm"] if m["comm_id"] == comm]
        assert [m["type"] for m in changed] == ["credentials_changed"]
        assert changed[0]["credentials"]["username"] == "coder"
        # A push does not override code-set credentials.
        kernel.comm_msg(comm, alice())
        assert probes(kernel.run("_probe('code')"))["code"]["username"] == "coder"
        # A string form, as in the seeds' first cell.
        out = kernel.run("set_default_credentials('coder2', %r)\n_probe('code2')" % CODE_KEY)
        assert probes(out)["code2"] == expect("coder2", "https://coder2.carto.com", CODE_KEY)

        # unset: back to the notebook's JupyterLab account; JupyterLab is told.
        out = kernel.run("unset_default_credentials()\n_probe('unset')")
        assert probes(out)["unset"] == expect("alice", "https://alice.carto.com", KEY)
        changed = [m["data"] for m in out["comm"] if m["comm_id"] == comm]
        assert changed == [{"version": 1, "type": "credentials_changed", "credentials": None}]

        # A denied notebook gets nothing through cartoframes (the store is skipped too).
        kernel.run("del os.environ['CARTO_USERNAME'], os.environ['CARTO_API_KEY']")
        kernel.comm_msg(comm, push_message(state="not_granted"))
        out = kernel.run(
            "_probe('denied')\n"
            "from cartoframes import read_carto\n"
            "try:\n"
            "    read_carto('alice_stores')\n"
            "except ValueError as e:\n"
            "    print('error', e)\n",
            timeout=30,
        )
        assert probes(out)["denied"] is None
        assert "error Credentials attribute is required" in out["stdout"]
        assert KEY not in json.dumps(out) and BOB_KEY not in json.dumps(out)
    finally:
        kernel.stop()


@FLAVOURS
def test_cartoframes_imported_after_the_push_on_the_first_cell(flavour, tmp_path):
    write_store(tmp_path)  # the push wins over the store
    kernel = start(flavour, tmp_path, {"JPY_SESSION_NAME": "work/map.ipynb"})
    try:
        connect(kernel, flavour, alice())
        out = kernel.run(
            PROBE + "import cartoframes.io.managers.context_manager as cm\n"
            "import cartoframes.auth as auth\n"
            "print('bound', cm.get_default_credentials is auth.get_default_credentials)\n"
            "_probe('first')\n",
            timeout=60,
        )
        assert "bound True" in out["stdout"]
        assert probes(out)["first"] == expect("alice", "https://alice.carto.com", KEY)
    finally:
        kernel.stop()


@FLAVOURS
def test_cartoframes_save_writes_a_private_file(flavour, tmp_path):
    # cartoframes 1.2.5 leaves the key in a 0644 file; through our hook it is 0600, same content.
    kernel = start(flavour, tmp_path)
    explicit = tmp_path / "work" / "creds.json"
    explicit.parent.mkdir(parents=True, exist_ok=True)
    try:
        connect(kernel, flavour, alice())
        out = kernel.run(
            "import os\n"
            "from cartoframes.auth import Credentials\n"
            "from cartoframes.auth.credentials import DEFAULT_CREDS_FILENAME\n"
            "from cartoframes.utils.utils import default_config_path\n"
            f"Credentials('alice', {KEY!r}).save()\n"
            f"Credentials('alice', {KEY!r}).save({str(explicit)!r})\n"
            "default = default_config_path(DEFAULT_CREDS_FILENAME)\n"
            f"for path in (default, {str(explicit)!r}):\n"
            "    print('mode', oct(os.stat(path).st_mode & 0o777))\n",
            timeout=60,
        )
        assert out["stdout"].count("mode 0o600") == 2, out
        assert "successfully saved to" in out["stdout"]  # cartoframes' own message, as before
        assert json.loads(explicit.read_text()) == {
            "username": "alice",
            "api_key": KEY,
            "base_url": "https://alice.carto.com",
            "allow_non_secure": False,
        }
        assert KEY not in json.dumps(out)
    finally:
        kernel.stop()


@FLAVOURS
def test_the_seeds_run_with_no_credentials_in_code(flavour, tmp_path, carto_api):
    server, base = carto_api
    base_url = base + "user/alice/"
    table = "cf_context_%s_%s" % (flavour, uuid.uuid4().hex[:8])
    kernel = start(flavour, tmp_path, {"JPY_SESSION_NAME": "work/seeds.ipynb"})
    try:
        connect(kernel, flavour, alice(base_url=base_url, api_key=DEMO_KEY))
        start_at = len(server.requests)
        out = kernel.run(
            "import warnings\n"
            "warnings.simplefilter('ignore')\n"
            "from cartoframes import read_carto, to_carto\n"
            "from cartoframes.viz import Map, Layer\n"
            "gdf = read_carto('alice_stores')\n"
            "print('read', type(gdf).__name__, len(gdf), list(gdf['name'])[:2])\n"
            "print('wrote', to_carto(gdf, %r))\n"
            "print('back', len(read_carto(%r)))\n"
            "html = Map(Layer('alice_stores'))._repr_html_()\n"
            "print('map', len(html) > 1000, %r in html)\n" % (table, table, base_url[7:-1]),
            timeout=120,
        )
        assert out["errors"] == "", out["errors"][-3000:]
        lines = out["stdout"].splitlines()
        assert "read GeoDataFrame 5 ['Sol', 'Gran Via']" in lines
        assert f"wrote {table}" in lines
        assert "back 5" in lines
        assert "map True True" in lines
        called = server.requests[start_at:]
        # Every call carried the pushed key; /api/v3/me (to_carto's quota check) is at the root.
        assert called and all(r["has_key"] for r in called)
        assert all(r["user"] == "alice" for r in called if r["path"] != "/api/v3/me")
        assert ("POST", "/user/alice/api/v2/sql/copyfrom") in [
            (r["method"], r["path"]) for r in called
        ]
        assert DEMO_KEY not in out["stdout"]
    finally:
        kernel.stop()


# -- in process: the finder, on a stand-in with cartoframes 1.2.5's layout -------------------------

STAND_IN = {
    "cartoframes/__init__.py": "from .io.managers.context_manager import ContextManager\n",
    "cartoframes/io/__init__.py": "",
    "cartoframes/io/managers/__init__.py": "",
    "cartoframes/io/managers/context_manager.py": (
        "from ...auth.defaults import get_default_credentials\n"
        "class ContextManager:\n"
        "    def __init__(self, credentials=None):\n"
        "        self.credentials = credentials or get_default_credentials()\n"
    ),
    "cartoframes/auth/__init__.py": (
        "from .credentials import Credentials\n"
        "from .defaults import get_default_credentials, set_default_credentials, "
        "unset_default_credentials\n"
    ),
    "cartoframes/auth/credentials.py": (
        "class Credentials:\n"
        "    def __init__(self, username=None, api_key='default_public', base_url=None,\n"
        "                 session=None, allow_non_secure=False):\n"
        "        if base_url and not base_url.startswith('https') and not allow_non_secure:\n"
        "            raise ValueError('`base_url`s need to be over `https`.')\n"
        "        self.username, self.api_key, self.session = username, api_key, session\n"
        "        self.base_url = (base_url or f'https://{username}.carto.com').strip('/')\n"
        "        self.allow_non_secure = allow_non_secure\n"
    ),
    "cartoframes/auth/defaults.py": (
        "from .credentials import Credentials\n"
        "_default_credentials = None\n"
        "def set_default_credentials(first=None, second=None, credentials=None, **kw):\n"
        "    global _default_credentials\n"
        "    _default_credentials = _set_credentials(first, second, credentials)\n"
        "def get_default_credentials():\n"
        "    return _default_credentials\n"
        "def unset_default_credentials():\n"
        "    global _default_credentials\n"
        "    _default_credentials = None\n"
        "def _set_credentials(first=None, second=None, credentials=None):\n"
        "    if isinstance(first or credentials, Credentials):\n"
        "        return first or credentials\n"
        "    return Credentials(first, second or 'default_public')\n"
    ),
}


@pytest.fixture
def stand_in(isolated, monkeypatch):
    from carto_credentials import _cartoframes

    for name, text in STAND_IN.items():
        path = isolated / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(isolated / "site"))
    meta_path = list(sys.meta_path)
    # Another test of this process may have installed the hook (kernel.register_target does):
    # each test here starts from a kernel where it is not installed yet.
    sys.meta_path[:] = [f for f in meta_path if not isinstance(f, _cartoframes._Finder)]
    yield _cartoframes
    sys.meta_path[:] = meta_path
    _cartoframes._forget_cache()
    for name in [n for n in sys.modules if n == "cartoframes" or n.startswith("cartoframes.")]:
        del sys.modules[name]


def _push(**kw):
    from carto_credentials import kernel

    fake = FakeKernel()
    kernel.register_target(fake)
    return fake.comm_manager.open(push_message(**kw))


def test_install_imports_nothing_and_patches_on_import(stand_in):
    stand_in.install()
    stand_in.install()  # idempotent
    assert sum(isinstance(f, stand_in._Finder) for f in sys.meta_path) == 1
    assert "cartoframes" not in sys.modules
    comm = _push(api_key=KEY)
    import cartoframes.io.managers.context_manager as cm
    from cartoframes import auth

    assert cm.get_default_credentials is auth.get_default_credentials
    c = cm.ContextManager().credentials
    assert type(c) is auth.Credentials and (c.username, c.api_key) == ("alice", KEY)
    assert auth.get_default_credentials() is c  # one object per value
    comm.receive(push_message(username="bob", base_url="https://bob.carto.com/", api_key=BOB_KEY))
    assert cm.ContextManager().credentials.username == "bob"


def test_install_after_import_rebinds_names_already_bound(stand_in):
    import cartoframes.io.managers.context_manager as cm
    from cartoframes import auth

    original = auth.get_default_credentials
    main = sys.modules["__main__"]
    main._cf_get = original  # like `from cartoframes.auth import get_default_credentials`
    try:
        stand_in.install()
        assert cm.get_default_credentials is not original
        assert main._cf_get is auth.get_default_credentials
        _push(api_key=KEY)
        assert main._cf_get().username == "alice"
    finally:
        del main._cf_get


def test_code_set_through_cartoframes_is_ours_and_unset_falls_back(stand_in):
    from carto_credentials import defaults

    stand_in.install()
    comm = _push(api_key=KEY)
    from cartoframes import auth

    mine = auth.Credentials("coder", CODE_KEY)
    auth.set_default_credentials(mine)
    assert auth.get_default_credentials() is mine
    assert defaults.default_credentials_source() == "code"
    assert comm.sent[-1]["credentials"]["username"] == "coder"
    auth.unset_default_credentials()
    assert auth.get_default_credentials().username == "alice"
    assert comm.sent[-1]["credentials"] is None
    # http base URLs keep allow_non_secure in the converted object.
    comm.receive(push_message(base_url="http://127.0.0.1:1/user/alice/", api_key=KEY))
    c = auth.get_default_credentials()
    assert (c.base_url, c.allow_non_secure) == ("http://127.0.0.1:1/user/alice", True)
    comm.receive(push_message(state="not_granted"))
    assert auth.get_default_credentials() is None


# -- both ipykernel lines: the stand-in in real kernels of .venv (7.x) and .venv-ipykernel6 -------


@pytest.mark.parametrize("line", ["ipykernel7", "ipykernel6"])
def test_switch_and_code_set_on_both_ipykernel_lines(line, tmp_path):
    from _carto_helpers import KERNEL_PYTHONS

    python = KERNEL_PYTHONS[line]
    if not os.path.exists(python):
        pytest.skip(f"{python} is missing: run scripts/dev_install.py")
    for name, text in STAND_IN.items():
        path = tmp_path / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = isolated_env(tmp_path, pythonpath=f"{REPO}{os.pathsep}{tmp_path / 'site'}")
    kernel = Kernel(env, kernel_spec_manager(tmp_path, python))
    probe = (
        "import hashlib\n"
        "c = auth.get_default_credentials()\n"
        "print('WHO', None if c is None else "
        "(c.username, hashlib.sha256(c.api_key.encode()).hexdigest()[:12]))\n"
    )
    try:
        out = kernel.run("import cartoframes.auth as auth\n" + probe)  # before any push
        assert "WHO None" in out["stdout"], out
        comm = kernel.open_comm(alice())
        assert f"WHO ('alice', '{fingerprint(KEY)}')" in kernel.run(probe)["stdout"]
        kernel.comm_msg(comm, bob())
        assert f"WHO ('bob', '{fingerprint(BOB_KEY)}')" in kernel.run(probe)["stdout"]
        out = kernel.run("auth.set_default_credentials('coder', %r)\n" % CODE_KEY + probe)
        assert f"WHO ('coder', '{fingerprint(CODE_KEY)}')" in out["stdout"], out
        assert [m["data"]["credentials"]["username"] for m in out["comm"]] == ["coder"]
        out = kernel.run("auth.unset_default_credentials()\n" + probe)
        assert f"WHO ('bob', '{fingerprint(BOB_KEY)}')" in out["stdout"], out
    finally:
        kernel.stop()
