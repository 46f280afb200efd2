"""Where the files this package reads and writes live.

Kept free of heavy imports: the kernel module imports it at notebook start.
"""

import os
import sys

STORE_DIRNAME = "carto_credentials"
STORE_FILENAME = "accounts.json"


def jupyter_data_dir():
    """Jupyter's per-user data directory, as ``jupyter_core.paths.jupyter_data_dir``."""
    try:
        from jupyter_core.paths import jupyter_data_dir as _data_dir
    except ImportError:  # a kernel environment without jupyter_core
        env = os.environ.get("JUPYTER_DATA_DIR")
        if env:
            return env
        return os.path.join(os.path.expanduser("~"), ".local", "share", "jupyter")
    return _data_dir()


def store_path():
    """The account store: the only file where keys rest (mode 0600)."""
    return os.path.join(jupyter_data_dir(), STORE_DIRNAME, STORE_FILENAME)


def cartoframes_config_dir():
    """``appdirs.user_config_dir('cartoframes')`` as cartoframes 1.x computes it."""
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/cartoframes")
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA", os.path.expanduser("~\\AppData\\Local"))
        return os.path.join(base, "cartoframes", "cartoframes")
    return os.path.join(
        os.getenv("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "cartoframes"
    )


def cartoframes_creds_path():
    """CARTOframes' default credentials file, ``creds.json``."""
    return os.path.join(cartoframes_config_dir(), "creds.json")


def jupyter_config_dir():
    """Jupyter's per-user config directory, as ``jupyter_core.paths.jupyter_config_dir``."""
    try:
        from jupyter_core.paths import jupyter_config_dir as _config_dir
    except ImportError:  # a kernel environment without jupyter_core
        return os.environ.get("JUPYTER_CONFIG_DIR") or os.path.join(
            os.path.expanduser("~"), ".jupyter"
        )
    return _config_dir()


def lab_user_settings_path(plugin_id):
    """Where jupyterlab_server keeps the user's settings of ``plugin_id`` (``package:plugin``)."""
    root = os.environ.get("JUPYTERLAB_SETTINGS_DIR") or os.path.join(
        jupyter_config_dir(), "lab", "user-settings"
    )
    package, _, plugin = plugin_id.partition(":")
    return os.path.join(root, *package.split("/"), plugin + ".jupyterlab-settings")


def lab_overrides_paths():
    """An administrator's defaults for JupyterLab settings, highest precedence first, as
    jupyterlab_server layers them (``settings_utils._get_overrides``): the application settings
    directory's ``overrides.d/*.json[5]`` (name order), ``overrides.json``, ``overrides.json5``,
    then ``labconfig/default_setting_overrides.json`` of each Jupyter config directory (the first
    directory of ``jupyter_config_path()`` on top). The application settings directory is
    ``$CARTO_CREDENTIALS_APP_SETTINGS_DIR`` (exported by the server extension,
    server/labsettings.py), else ``$JUPYTERLAB_DIR/settings``, else
    ``{sys.prefix}/share/jupyter/lab/settings``."""
    import glob

    settings = os.environ.get("CARTO_CREDENTIALS_APP_SETTINGS_DIR") or os.path.join(
        os.environ.get("JUPYTERLAB_DIR") or os.path.join(sys.prefix, "share", "jupyter", "lab"),
        "settings",
    )
    pattern = os.path.join(glob.escape(settings), "overrides.d", "*.json")
    lowest_first = sorted(glob.glob(pattern) + glob.glob(pattern + "5"))
    lowest_first += [
        os.path.join(settings, "overrides.json"),
        os.path.join(settings, "overrides.json5"),
    ]
    try:
        from jupyter_core.paths import jupyter_config_path

        config_dirs = jupyter_config_path()
    except ImportError:  # a kernel environment without jupyter_core
        config_dirs = [jupyter_config_dir()]
    lowest_first += [
        os.path.join(d, "labconfig", "default_setting_overrides.json") for d in config_dirs[::-1]
    ]
    return lowest_first[::-1]
