"""A JupyterLab server for tests and the demo (not product code).

Serves the JupyterLab 4.6 front end built by ``tools/lab/build.sh`` (in
``tools/lab/build/``) with Debian's ``jupyterlab_server`` on ``jupyter_server``,
and loads prebuilt (federated) extensions from the labextensions path exactly
as a pip-installed JupyterLab does.

Run from the repository root::

    tools/lab/build.sh
    .venv/bin/python -m tools.lab.server --ServerApp.ip=127.0.0.1 --ServerApp.port=8888

Any ``jupyter_server`` flag works (``--ServerApp.base_url=/user/me/`` etc.).
Other server extensions are enabled the usual way: ``jupyter_server_config.d``
files on the Jupyter config path, or ``--ServerApp.jpserver_extensions``.
"""

from __future__ import annotations

import json
import os
import sys

from jupyter_core.paths import jupyter_config_dir, jupyter_path
from jupyter_server._version import version_info as server_version_info
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.zmqhandlers import WebSocketMixin
from jupyterlab_server import LabServerApp
from jupyterlab_server.handlers import LabHandler, NotFoundHandler
from tornado import web, websocket
from traitlets import default

HERE = os.path.dirname(os.path.abspath(__file__))
#: The built application directory (layout of a pip install's share/jupyter/lab).
APP_DIR = os.environ.get("CARTO_LAB_APP_DIR", os.path.join(HERE, "build"))
VERSION = "4.6.4"


class FixedNotFoundHandler(NotFoundHandler):
    """``NotFoundHandler`` that does not leak ``notFoundUrl`` into later pages.

    jupyterlab_server 2.16.5 writes ``notFoundUrl`` into the page-config dict
    shared by every handler, so after one unknown ``/lab/...`` URL every page
    shows "Path Not Found". Work on a copy instead (as later releases do).
    """

    def get_page_config(self):
        page_config = dict(LabHandler.get_page_config(self))
        page_config["notFoundUrl"] = self.request.path
        return page_config


class MeHandler(APIHandler):
    """``GET /api/me`` (jupyter_server >= 2): the identity and permissions asked."""

    @web.authenticated
    def get(self):
        user = self.current_user
        name = user if isinstance(user, str) else getattr(user, "username", "anonymous")
        identity = {
            "username": name,
            "name": name,
            "display_name": name,
            "initials": (name[:1] or "A").upper(),
            "avatar_url": None,
            "color": None,
        }
        permissions = {}
        raw = self.get_argument("permissions", None)
        if raw:
            try:
                asked = json.loads(raw)
            except ValueError:
                raise web.HTTPError(400, "permissions must be JSON") from None
            if not isinstance(asked, dict):
                raise web.HTTPError(400, "permissions must be a JSON object")
            permissions = {
                resource: list(actions) if isinstance(actions, list) else []
                for resource, actions in asked.items()
            }
        self.finish(json.dumps({"identity": identity, "permissions": permissions}))


class EventsHandler(APIHandler):
    """``POST /api/events``: accepted and dropped (no event bus here)."""

    @web.authenticated
    def post(self):
        self.set_status(204)
        self.finish()


class EventsSocketHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """``/api/events/subscribe``: an open socket that never sends anything."""

    def get(self, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403)
        return super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class LspStatusHandler(APIHandler):
    """``GET /lsp/status``: no language servers."""

    @web.authenticated
    def get(self):
        self.finish(json.dumps({"version": 2, "sessions": {}, "specs": {}}))


class ExtensionsListHandler(APIHandler):
    """``GET /lab/api/extensions``: the read-only extension manager's list."""

    @web.authenticated
    def get(self):
        self.finish("[]")


class LabHostApp(LabServerApp):
    """JupyterLab served from the locally built front end."""

    name = "lab"
    app_name = "JupyterLab"
    description = "JupyterLab (test/demo host of jupyterlab-carto-credentials)"
    extension_url = "/lab"
    file_url_prefix = "/lab/tree"
    # Enable other server extensions found in jupyter_server_config.d, as
    # `jupyter lab` does.
    load_other_extensions = True

    @classmethod
    def get_extension_package(cls):
        # This module holds _jupyter_server_extension_points (the default
        # would be the top-level package, "tools").
        return "tools.lab.server"

    @classmethod
    def get_extension_point(cls):
        return "tools.lab.server"

    @classmethod
    def launch_instance(cls, argv=None, **kwargs):
        args = list(sys.argv[1:] if argv is None else argv)
        # A --ServerApp.jpserver_extensions flag replaces the dict that enables
        # this app ("KeyError: 'lab'"); add this app's own entry to it.
        if any(a.startswith("--ServerApp.jpserver_extensions") for a in args):
            args.append(f"--ServerApp.jpserver_extensions={cls.get_extension_package()}=True")
        return super().launch_instance(args, **kwargs)

    @default("app_version")
    def _default_app_version(self):
        return VERSION

    @default("static_dir")
    def _default_static_dir(self):
        return os.path.join(APP_DIR, "static")

    @default("templates_dir")
    def _default_templates_dir(self):
        return os.path.join(APP_DIR, "static")

    @default("schemas_dir")
    def _default_schemas_dir(self):
        return os.path.join(APP_DIR, "schemas")

    @default("themes_dir")
    def _default_themes_dir(self):
        return os.path.join(APP_DIR, "themes")

    @default("app_settings_dir")
    def _default_app_settings_dir(self):
        return os.path.join(APP_DIR, "settings")

    @default("user_settings_dir")
    def _default_user_settings_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "user-settings")

    @default("workspaces_dir")
    def _default_workspaces_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "workspaces")

    @default("labextensions_path")
    def _default_labextensions_path(self):
        # Includes sys.prefix/share/jupyter/labextensions, where a pip install
        # (or scripts/setup.sh's link) puts jupyterlab-carto-credentials.
        return jupyter_path("labextensions")

    @default("cache_files")
    def _default_cache_files(self):
        return False

    def initialize_settings(self):
        super().initialize_settings()
        index = os.path.join(self.templates_dir, "index.html")
        if not os.path.isfile(index):
            raise SystemExit(
                f"JupyterLab front end not built: {index} is missing. Run tools/lab/build.sh first."
            )
        server = self.serverapp
        page_config = server.web_app.settings.setdefault("page_config_data", {})
        page_config.update(
            {
                "appName": "JupyterLab",
                "appVersion": VERSION,
                "buildAvailable": False,
                "buildCheck": False,
                "devMode": False,
                "exposeAppInBrowser": True,
                "token": server.token,
                "quitButton": server.quit_button,
                "allow_hidden_files": bool(getattr(server.contents_manager, "allow_hidden", False)),
                "notebookVersion": json.dumps(list(server_version_info)),
                "news": {"disabled": True},
                "extensionManager": {
                    "name": "read-only",
                    "can_install": False,
                    "install_path": None,
                },
            }
        )

    def initialize_handlers(self):
        super().initialize_handlers()
        # Swap the buggy fall-through handler for the fixed one.
        self.handlers[:] = [
            (h[0], FixedNotFoundHandler, *h[2:]) if h[1] is NotFoundHandler else h
            for h in self.handlers
        ]
        # Endpoints the 4.6 front end calls that jupyter_server 1.23 lacks.
        # Patterns get base_url prepended by ExtensionApp. They go first so
        # /lab/api/extensions wins over the /lab/.* fall-through; on a
        # jupyter_server that has them, its own handlers come first anyway.
        self.handlers[:0] = [
            (r"/lab/api/extensions/?", ExtensionsListHandler),
            (r"/api/me", MeHandler),
            (r"/api/events", EventsHandler),
            (r"/api/events/subscribe", EventsSocketHandler),
            (r"/lsp/status", LspStatusHandler),
        ]


def _jupyter_server_extension_points():
    return [{"module": "tools.lab.server", "app": LabHostApp}]


def main(argv=None):
    LabHostApp.launch_instance(argv)


if __name__ == "__main__":
    # Run through the importable module so the extension point is
    # tools.lab.server rather than __main__.
    from tools.lab.server import main as _main

    _main()
