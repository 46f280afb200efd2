"""The Jupyter server extension: the CARTO account store and its REST API.

Only the Jupyter server loads the extension; kernels import ``carto_credentials`` alone (they may
use ``carto_credentials.server.fileid``: importing this package does not import jupyter_server).
"""

from .config import CartoCredentials
from .store import AccountStore

__all__ = ["AccountStore", "CartoCredentials"]


def _jupyter_server_extension_points():
    return [{"module": "carto_credentials.server"}]


def _load_jupyter_server_extension(serverapp):
    """Called by jupyter_server 2 (``carto_credentials._jupyter_server_extension_points``)."""
    from tornado.ioloop import PeriodicCallback

    from .errors import CredentialsError
    from .fileio import Offloader
    from .grants import follow_contents_events
    from .handlers import handlers
    from .tokens import Tokens

    settings = CartoCredentials(parent=serverapp)
    store = AccountStore(
        settings.resolved_store_path(), log=serverapp.log, lock_timeout=settings.io_timeout
    )
    # Lock waits end at io_timeout (503 store_busy); a whole operation at twice that (504).
    offloader = Offloader(2 * settings.io_timeout)
    try:
        for path in store.remove_temp_files(timeout=min(settings.io_timeout, 2.0)):
            serverapp.log.warning("carto-credentials: removed %s, left by a stopped server", path)
    except CredentialsError as err:
        serverapp.log.warning("carto-credentials: temp files not cleaned up: %s", err.message)
    tokens = Tokens(
        store,
        settings,
        lambda method, *args: offloader.run(store.path, method, *args),
        serverapp.log,
    )
    web_app = serverapp.web_app
    web_app.add_handlers(
        ".*$", handlers(web_app.settings["base_url"], store, settings, offloader, tokens)
    )
    # Machine-to-machine tokens are renewed before they expire, also when no one asks for them
    # (a headless kernel reads the store itself).
    PeriodicCallback(tokens.renew_due, settings.token_renew_interval * 1000).start()
    follow_contents_events(
        getattr(serverapp, "event_logger", None), store, offloader, serverapp.log
    )
    serverapp.log.info("carto-credentials: account store at %s", store.path)
    # Kernels read the kernel-access policy where this server's JupyterLab keeps its settings.
    from .labsettings import export_settings_dirs

    export_settings_dirs(serverapp)
