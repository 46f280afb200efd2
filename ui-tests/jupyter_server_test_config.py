"""jupyter_server configuration for the galata UI tests (see playwright.config.js).

Galata's standard test setup (no token, no XSRF check, its helper labextension, the app exposed
as window.jupyterapp), on 127.0.0.1 only, with every directory inside the run's temp dir.
"""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821
configure_jupyter_server(c)

root = os.environ["CARTO_UI_ROOT"]
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("CARTO_UI_LAB_PORT", "18888"))
c.ServerApp.port_retries = 0
c.ServerApp.allow_root = True
c.ServerApp.root_dir = os.path.join(root, "work")
c.LabApp.user_settings_dir = os.path.join(root, "settings")
c.LabApp.workspaces_dir = os.path.join(root, "workspaces")
# Nothing reaches the internet: no PyPI extension manager, no news, no update check.
c.LabApp.extension_manager = "readonly"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

# CARTO 3 against the local API the galata config starts (tools/carto_api/carto3.py): its
# authorize/token endpoints, accounts/config discovery, its public PKCE client (the paste flow,
# whose code page is /auth/token) and the client an administrator registers for the redirect
# flow (its callback is this server's carto-credentials/oauth/callback on 127.0.0.1).
_carto_api = os.environ["CARTO_UI_API_URL"].rstrip("/")
c.CartoCredentials.oauth_url = _carto_api
c.CartoCredentials.accounts_url = _carto_api
c.CartoCredentials.oauth_public_client_id = "local-carto-auth-public-client"
c.CartoCredentials.oauth_public_redirect_uri = _carto_api + "/auth/token"
c.CartoCredentials.oauth_client_id = "jupyterlab-local"
