"""The pieces a pip install puts in place exist, agree with each other, and the frontend's silent
bootstrap calls a function the kernel module really has."""

import json
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = json.loads((ROOT / "package.json").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LABEXTENSION = ROOT / "carto_credentials" / "labextension"


def test_built_labextension_has_build_metadata():
    built = json.loads((LABEXTENSION / "package.json").read_text())
    assert built["name"] == "jupyterlab-carto-credentials"
    build = built["jupyterlab"]["_build"]
    assert (LABEXTENSION / build["load"]).is_file()
    assert build["extension"] == "./extension"
    assert (LABEXTENSION / "schemas" / "jupyterlab-carto-credentials" / "plugin.json").is_file()


def test_every_shared_data_source_exists():
    shared = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["carto_credentials/labextension"] == (
        "share/jupyter/labextensions/jupyterlab-carto-credentials"
    )
    assert shared["carto_credentials/startup/zz-carto-credentials.py"] == (
        "etc/ipython/startup/zz-carto-credentials.py"
    )
    for source in shared:
        assert (ROOT / source).exists(), source


def test_server_extension_is_enabled_by_its_config_file():
    config = json.loads(
        (
            ROOT / "jupyter-config" / "server-config" / "jupyterlab-carto-credentials.json"
        ).read_text()
    )
    assert config == {"ServerApp": {"jpserver_extensions": {"carto_credentials": True}}}
    import carto_credentials

    points = carto_credentials._jupyter_server_extension_points()
    assert points == [{"module": "carto_credentials.server"}]
    import importlib

    server = importlib.import_module(points[0]["module"])
    assert callable(server._load_jupyter_server_extension)


def test_labextension_paths_point_at_the_build():
    import carto_credentials

    (entry,) = carto_credentials._jupyter_labextension_paths()
    assert entry["dest"] == PACKAGE_JSON["name"]
    assert (Path(carto_credentials.__file__).parent / entry["src"] / "package.json").is_file()


def test_install_json_names_the_python_package():
    install = json.loads((ROOT / "install.json").read_text())
    assert install["packageManager"] == "python"
    assert install["packageName"] == PYPROJECT["project"]["name"]


def test_version_comes_from_package_json():
    version = PYPROJECT["tool"]["hatch"]["version"]
    text = (ROOT / version["path"]).read_text()
    assert re.search(version["pattern"], text).group("version") == PACKAGE_JSON["version"]


def _jupyter(*args: str) -> str:
    """Output of the development environment's own ``jupyter`` command (``.venv/bin``)."""
    import subprocess
    import sys

    jupyter = Path(sys.executable).with_name("jupyter")
    result = subprocess.run(
        [str(jupyter), *args], capture_output=True, text=True, timeout=120, check=True
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_development_install_lists_the_labextension_enabled():
    line = next(
        ln for ln in _jupyter("labextension", "list").splitlines() if PACKAGE_JSON["name"] in ln
    )
    assert "enabled" in line and "OK" in line, line


def test_development_install_lists_the_server_extension_enabled():
    text = _jupyter("server", "extension", "list")
    assert re.search(r"carto_credentials\s+enabled", text), text
    assert re.search(r"carto_credentials\s+\S+\s+OK", text), text
