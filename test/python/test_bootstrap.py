"""The silent bootstrap the frontend runs in a kernel that closed the credentials comm straight
back: it registers the comm target whether or not the kernel's environment has the package."""

import os
import subprocess
import sys

from carto_credentials.server.bootstrap import PACKAGE_DIR, bootstrap_code

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
    """A Python that cannot import carto_credentials: isolated mode, empty cwd, clean HOME."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-I", "-c", code],
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
