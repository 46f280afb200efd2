"""The silent bootstrap the frontend runs in a kernel that closed the credentials comm straight
back: it registers the comm target whether or not the kernel's environment has the package.
"Another environment" is ``.venv-kernel-bare`` (ipykernel 6.29, no carto_credentials), created by
scripts/dev_install.py."""

import json
import os
import subprocess

import pytest
from _carto_helpers import BARE_PYTHON, KEY, TARGET, Kernel, isolated_env, kernel_spec_manager

from carto_credentials.server.bootstrap import PACKAGE_DIR, bootstrap_code

pytestmark = pytest.mark.skipif(
    not os.path.exists(BARE_PYTHON), reason=f"{BARE_PYTHON} is missing: run scripts/dev_install.py"
)

REPO_ROOT = os.path.dirname(PACKAGE_DIR)

# What a kernel of another environment sees after the bootstrap: where the package came from, and
# that the notebook API works.
PROBE = (
    """
import sys
import carto_credentials
from carto_credentials import get_default_credentials
print(carto_credentials.__file__)
print(get_default_credentials())
print(any(p.rstrip('/') == %r for p in sys.path))
"""
    % REPO_ROOT
)


def run_isolated(code, tmp_path):
    """A Python that cannot import carto_credentials: the bare venv, isolated mode, empty cwd,
    clean HOME."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    return subprocess.run(
        [BARE_PYTHON, "-I", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_python_without_the_package_cannot_import_it(tmp_path):
    result = run_isolated("import carto_credentials", tmp_path)
    assert "ModuleNotFoundError" in result.stderr


def test_loads_this_servers_copy_by_path_without_touching_sys_path(tmp_path):
    result = run_isolated(bootstrap_code() + PROBE, tmp_path)
    assert result.stderr == ""
    file, default, on_path = result.stdout.splitlines()
    assert file == os.path.join(PACKAGE_DIR, "__init__.py")
    assert default == "None"
    assert on_path == "False"


def test_is_silent_and_leaves_nothing_half_loaded_when_the_copy_is_missing(tmp_path):
    code = bootstrap_code(str(tmp_path / "nowhere")) + (
        "\nimport sys\nprint('carto_credentials' in sys.modules, '_carto_credentials_bootstrap' in dir())"
    )
    result = run_isolated(code, tmp_path)
    assert (result.stdout, result.stderr) == ("False False\n", "")


def test_uses_the_kernels_own_package_when_it_has_one(monkeypatch):
    import carto_credentials.kernel as kernel

    calls = []
    monkeypatch.setattr(kernel, "register_target", lambda *args: calls.append(args) or True)
    exec(compile(bootstrap_code("/elsewhere"), "<bootstrap>", "exec"), {})
    assert calls == [()]


def test_a_bare_kernel_gets_credentials_after_the_bootstrap(tmp_path):
    """The frontend's path end to end on a real kernel of the bare venv: the comm is closed
    straight back, the silent bootstrap registers the target, the next push reaches the cell."""
    env = isolated_env(
        tmp_path, {"JPY_SESSION_NAME": "work/map.ipynb"}, startup=False, pythonpath=""
    )
    kernel = Kernel(env, kernel_spec_manager(tmp_path, BARE_PYTHON))
    try:
        message = {
            "version": 1,
            "type": "set_credentials",
            "session_path": "work/map.ipynb",
            "kernel_id": "k-bare",
            "state": "granted",
            "account": {
                "id": "acc-1",
                "label": "alice",
                "username": "alice",
                "base_url": "https://alice.carto.com/",
                "api_key": KEY,
            },
        }
        first = kernel.open_comm(message)
        closed = kernel.run("1")["comm_close"]
        assert first in closed  # no target: the kernel closes the comm
        silent = kernel.kc.execute(bootstrap_code(), silent=True, store_history=False)
        kernel.collect(silent)
        kernel.open_comm(message)
        out = kernel.run(
            "import carto_credentials as cc\n"
            "c = cc.get_default_credentials()\n"
            "print(cc.__file__, c.username)\n"
            "print(cc.kernel.status()['registered'])"
        )
        assert out["errors"] == "", out
        assert out["stdout"] == f"{os.path.join(PACKAGE_DIR, '__init__.py')} alice\nTrue\n"
        assert KEY not in json.dumps(out)
        reply = kernel.kc.comm_info(target_name=TARGET, reply=True)
        assert len(reply["content"]["comms"]) == 1
    finally:
        kernel.stop()
