"""The Jupyter server extension: the CARTO account store and its REST API.

Only the Jupyter server loads the extension; kernels import ``carto_credentials`` alone (they may
read the store with ``carto_credentials.server.store``: importing this package does not import
jupyter_server).
"""

from .config import CartoCredentials
from .store import AccountStore

__all__ = ["AccountStore", "CartoCredentials"]


def _jupyter_server_extension_points():
    return [{"module": "carto_credentials.server"}]


def _load_jupyter_server_extension(serverapp):
    """Called by jupyter_server 2 (``carto_credentials._jupyter_server_extension_points``)."""
    from .handlers import handlers

    settings = CartoCredentials(parent=serverapp)
    store = AccountStore(settings.resolved_store_path(), log=serverapp.log)
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], store, settings))
    serverapp.log.info("carto-credentials: account store at %s", store.path)
