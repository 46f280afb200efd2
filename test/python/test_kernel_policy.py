"""The kernel-access policy end to end (issue 10 kind 3a): the setting as JupyterLab saves it
through jupyterlab_server's settings API, in a user settings directory moved by configuration,
is what the kernel-side reader (``access.policy``) sees in the environment kernels inherit."""

import json
import os
import sys

import pytest
from conftest import carto_server_config

from carto_credentials import access
from carto_credentials.server import labsettings

PLUGIN = "jupyterlab-carto-credentials:plugin"


@pytest.fixture
def lab_dirs(tmp_path, monkeypatch):
    # Recorded, so whatever the extension puts in os.environ is undone after the test.
    for name in (labsettings.SETTINGS_ENV, labsettings.APP_SETTINGS_ENV, "JUPYTERLAB_DIR"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    return tmp_path / "lab-user-settings", tmp_path / "lab-app-settings"


@pytest.fixture
def jp_server_config(lab_dirs):
    config = carto_server_config()
    config.ServerApp.jpserver_extensions["jupyterlab"] = True
    config.LabApp.user_settings_dir = str(lab_dirs[0])
    config.LabApp.app_settings_dir = str(lab_dirs[1])
    # pytest-jupyter isolates the Jupyter paths: show it this environment's labextensions (ours
    # holds the settings schema).
    config.LabApp.extra_labextensions_path = [
        os.path.join(sys.prefix, "share", "jupyter", "labextensions")
    ]
    return config


async def test_the_policy_saved_through_jupyterlab_reaches_the_kernels_environment(
    jp_serverapp, jp_fetch, lab_dirs
):
    user_dir, app_dir = lab_dirs
    assert os.environ[labsettings.SETTINGS_ENV] == str(user_dir)
    assert os.environ[labsettings.APP_SETTINGS_ENV] == str(app_dir)
    assert access.policy() == "ask"
    for policy in ("never", "always"):
        raw = '{\n    // Kernel access to credentials\n    "kernelAccess": "%s"\n}' % policy
        response = await jp_fetch(
            "lab", "api", "settings", PLUGIN, method="PUT", body=json.dumps({"raw": raw})
        )
        assert response.code == 204
        assert access.policy() == policy
    # An administrator's default applies where the user has not chosen.
    os.remove(os.path.join(user_dir, "jupyterlab-carto-credentials", "plugin.jupyterlab-settings"))
    app_dir.mkdir(exist_ok=True)
    (app_dir / "overrides.json").write_text(json.dumps({PLUGIN: {"kernelAccess": "never"}}))
    assert access.policy() == "never"


def test_export_without_jupyterlab_changes_nothing():
    class Manager:
        extension_apps = {"carto_credentials": {object()}}

    class App:
        extension_manager = Manager()

    environ = {}
    assert labsettings.export_settings_dirs(App(), environ) is None and environ == {}


LAYOUTS = [
    {},
    {"app/overrides.json": "never"},
    {"app/overrides.json": "never", "app/overrides.json5": "always"},
    {"app/overrides.d/a.json": "never", "app/overrides.d/b.json5": "always"},
    {"app/overrides.d/z.json": "never", "app/overrides.json": "ask"},
    {"app/overrides.json": "always", "config/labconfig/default_setting_overrides.json": "never"},
]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_overrides_are_layered_as_jupyterlab_server_does(tmp_path, monkeypatch, layout):
    from jupyterlab_server.settings_utils import _get_overrides

    for name in (labsettings.SETTINGS_ENV, "JUPYTERLAB_DIR", "JUPYTER_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(labsettings.SETTINGS_ENV, str(tmp_path / "user"))
    monkeypatch.setenv(labsettings.APP_SETTINGS_ENV, str(tmp_path / "app"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    for name, policy in layout.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({PLUGIN: {"kernelAccess": policy}}))
    expected = _get_overrides(str(tmp_path / "app"))[0].get(PLUGIN, {}).get("kernelAccess")
    assert access.policy() == (expected or "ask")
