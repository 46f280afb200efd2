"""Kernels learn where this server's JupyterLab keeps its settings (the kernel-access policy).

The policy ``kernelAccess`` is a JupyterLab setting that jupyterlab_server persists in its user
settings directory, which an administrator or a test harness may move with
``--LabApp.user_settings_dir`` (no environment variable then tells a kernel). At load, the
extension puts this server's directories in the environment that every kernel it starts
inherits (jupyter_server starts kernels with ``os.environ``):

- ``JUPYTERLAB_SETTINGS_DIR``: JupyterLab's own variable for that directory, set to the value
  the running LabApp (else Notebook 7's app) really uses;
- ``CARTO_CREDENTIALS_APP_SETTINGS_DIR``: its application settings directory, where an
  administrator's ``overrides.json`` lives.

``carto_credentials.access`` reads them (``paths.lab_user_settings_path``,
``paths.lab_overrides_paths``). Standard library only.
"""

import os

SETTINGS_ENV = "JUPYTERLAB_SETTINGS_DIR"
APP_SETTINGS_ENV = "CARTO_CREDENTIALS_APP_SETTINGS_DIR"


def export_settings_dirs(serverapp, environ=None):
    """Set both variables from this server's JupyterLab (else Notebook 7) app; returns
    ``(user_settings_dir, app_settings_dir)``, or None when neither app runs here."""
    environ = os.environ if environ is None else environ
    try:
        apps = serverapp.extension_manager.extension_apps
    except Exception:
        return None
    for name in ("jupyterlab", "notebook"):
        for app in sorted(apps.get(name) or (), key=lambda a: type(a).__name__):
            user_dir = getattr(app, "user_settings_dir", None)
            if not isinstance(user_dir, str) or not user_dir:
                continue
            environ[SETTINGS_ENV] = os.path.abspath(user_dir)
            app_dir = getattr(app, "app_settings_dir", None)
            if isinstance(app_dir, str) and app_dir:
                environ[APP_SETTINGS_ENV] = os.path.abspath(app_dir)
            return environ[SETTINGS_ENV], environ.get(APP_SETTINGS_ENV)
    return None
