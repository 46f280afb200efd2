"""The users' path, as the README gives it: ``pip install jupyterlab-carto-credentials`` (here: the
wheel built from this checkout) next to ``jupyterlab`` in a fresh virtual environment, then
``jupyter lab``. Checks what that install puts in place, with the environment's own ``jupyter``
commands, and that a kernel of that environment receives credentials over the comm before its first
cell, with nothing of this checkout on its path.

Slow (a venv and a pip install, about a minute): it runs once per pytest session.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
TARGET = "carto.credentials"
KEY = "wheel-test-key-0123456789abcdef"


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (args, result.stdout, result.stderr)
    return result.stdout


def _clean_env(tmp: Path) -> dict:
    """No trace of this checkout or of the development environment: only the new venv counts."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CARTO_", "JPY_", "JUPYTER", "IPYTHON", "PYTHON", "VIRTUAL_ENV"))
    }
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(tmp / "xdg"),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
    )
    return env


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The wheel built from this checkout, as ``python -m build`` makes it."""
    dist = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)]
    _run(build + [str(ROOT)])
    (built,) = dist.glob("jupyterlab_carto_credentials-*.whl")
    return built


@pytest.fixture(scope="session")
def user_venv(tmp_path_factory, wheel):
    """``(venv, env)``: a fresh venv where ``pip install <our wheel> jupyterlab`` ran."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    # The Python this .venv was made from: a user's ordinary interpreter.
    _run([sys._base_executable, "-m", "venv", str(venv)])
    env = _clean_env(tmp)
    _run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        + ["-c", str(CONSTRAINTS), str(wheel), "jupyterlab"],
        env=env,
        cwd=str(tmp),
    )
    return venv, env


def test_pip_install_enables_the_labextension(user_venv):
    venv, env = user_venv
    listing = subprocess.run(
        [str(venv / "bin" / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = listing.stdout + listing.stderr
    line = next(ln for ln in text.splitlines() if "jupyterlab-carto-credentials" in ln)
    assert "enabled" in line and "OK" in line and str(venv) in text, text


def test_pip_install_enables_the_server_extension(user_venv):
    venv, env = user_venv
    listing = subprocess.run(
        [str(venv / "bin" / "jupyter"), "server", "extension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = listing.stdout + listing.stderr
    assert "carto_credentials enabled" in " ".join(text.replace("\x1b[32m", "").split()), text
    assert "carto_credentials" in text and "OK" in text, text


def test_pip_install_puts_the_ipython_startup_file_in_the_environment(user_venv):
    venv, _ = user_venv
    startup = venv / "etc" / "ipython" / "startup" / "zz-carto-credentials.py"
    assert startup.is_file()
    assert (
        startup.read_text() == (ROOT / "carto_credentials" / "startup" / startup.name).read_text()
    )


CARTOFRAMES_VENV = ROOT / ".venv-cartoframes"


@pytest.fixture(scope="session")
def cartoframes_venv(tmp_path_factory, wheel):
    """``(venv, env)``: a kernel environment with cartoframes 1.2.5 (jinja2<3) where the README's
    ``pip install --no-deps jupyterlab-carto-credentials`` ran. To save a cartoframes install, the
    venv sees the packages of ``.venv-cartoframes`` through a .pth line; the wheel goes into its own
    site-packages and prefix."""
    if not (CARTOFRAMES_VENV / "bin" / "python").exists():
        pytest.skip(".venv-cartoframes is missing: run python3 scripts/dev_install.py")
    tmp = tmp_path_factory.mktemp("cartoframes-wheel")
    venv = tmp / "venv"
    _run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)])
    purelib = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ]
    ).strip()
    base = _run(
        [
            str(CARTOFRAMES_VENV / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ]
    ).strip()
    Path(purelib, "base_environment.pth").write_text(base + "\n")
    env = _clean_env(tmp)
    _run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
        + ["--quiet", "--disable-pip-version-check", "--no-deps", str(wheel)],
        env=env,
        cwd=str(tmp),
    )
    return venv, env


def test_a_kernel_of_that_environment_gets_credentials_pushed_before_its_first_cell(user_venv):
    venv, env = user_venv
    assert _first_cell(venv, env, SHOW_PUSHED) == "alice True True\n"


def test_no_deps_install_in_a_cartoframes_environment_gives_cartoframes_the_pushed_account(
    cartoframes_venv,
):
    venv, env = cartoframes_venv
    assert (venv / "etc" / "ipython" / "startup" / "zz-carto-credentials.py").is_file()
    code = (
        "import jinja2\n"
        "from cartoframes.auth import get_default_credentials\n"
        "c = get_default_credentials()\n"
        "print(c.username, c.api_key == %r, jinja2.__version__.split('.')[0])" % KEY
    )
    assert _first_cell(venv, env, code) == "alice True 2\n"


SHOW_PUSHED = (
    "import carto_credentials, sys\n"
    "c = carto_credentials.get_default_credentials()\n"
    "print(c.username, c.api_key == %r, carto_credentials.__file__.startswith(sys.prefix))" % KEY
)


def _first_cell(venv: Path, env: dict, code: str) -> str:
    """stdout of CODE run as the first cell of a kernel on VENV's Python, right after a push of
    alice's account in the comm open (no round trip in between), as JupyterLab does."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    # The kernel runs on the new venv's Python, as JupyterLab started from that venv would run it.
    km.kernel_spec.argv = [
        str(venv / "bin" / "python"),
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    km.start_kernel(env=env, cwd=env["HOME"])
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        push = {
            "version": 1,
            "type": "set_credentials",
            "session_path": "wheel.ipynb",
            "kernel_id": "k-wheel",
            "state": "granted",
            "account": {
                "id": "acc-alice",
                "label": "alice",
                "username": "alice",
                "base_url": "https://alice.carto.com/",
                "api_key": KEY,
            },
        }
        comm_open = {"comm_id": uuid.uuid4().hex, "target_name": TARGET, "data": push}
        kc.shell_channel.send(kc.session.msg("comm_open", comm_open))
        # Sent right after the open, with no round trip in between: the first cell of a notebook.
        msg_id = kc.execute(code, store_history=False)
        stdout, errors = "", ""
        deadline = time.monotonic() + 30
        while True:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content = msg["content"]
            if msg["msg_type"] == "stream":
                stdout += content["text"]
            elif msg["msg_type"] == "error":
                errors += "\n".join(content["traceback"])
            elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
                break
        assert errors == "", errors
        assert KEY not in json.dumps(stdout)
        return stdout
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
