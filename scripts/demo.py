"""Starts the demo: the local CARTO-compatible API with demo accounts, and the real `jupyter lab`
of .venv (JupyterLab 4.6, Notebook 7 at /tree on the same server) with the extension, in an
isolated home under ./.demo (kept between runs, so accounts stay logged in).

Run through scripts/demo.sh, which sets everything up first, or `.venv/bin/python scripts/demo.py`.
Ctrl-C (or SIGTERM) stops both.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
sys.path.insert(0, str(ROOT))

from tools.carto_api import carto3, start_server, stop  # noqa: E402

DEMO = ROOT / ".demo"
LAB_PORT = int(os.environ.get("CARTO_DEMO_LAB_PORT", "8888"))
API_PORT = int(os.environ.get("CARTO_DEMO_API_PORT", "8765"))

WELCOME = {
    "cells": [
        {
            "id": "welcome",
            "cell_type": "markdown",
            "metadata": {},
            "source": [
                "# CARTO credentials demo\n",
                "Log in from the CARTO panel in the left sidebar (Ctrl/Cmd+Alt+C), then run the cells.",
            ],
        },
        {
            "id": "credentials",
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": [
                "from carto_credentials import get_default_credentials, sql\n",
                "get_default_credentials()",
            ],
        },
        {
            "id": "query",
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["sql('SELECT * FROM alice_stores')"],
        },
    ],
    "metadata": {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        }
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def write_settings(user_settings, plugin, settings):
    """Write `plugin`'s user settings (e.g. 'jupyterlab-carto-credentials:plugin')."""
    package, name = plugin.split(":")
    folder = user_settings.joinpath(*package.split("/"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(settings, indent=2))


def prepare(api_url):
    dirs = {
        name: DEMO / name
        for name in ("config", "data", "runtime", "home", "ipython", "notebooks", "workspaces")
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["settings"] = dirs["config"] / "lab" / "user-settings"
    # The local API speaks http on 127.0.0.1 and serves users on-premises style.
    write_settings(
        dirs["settings"],
        "jupyterlab-carto-credentials:plugin",
        {"allowNonHttps": True, "baseUrlTemplate": f"{api_url}user/{{username}}/"},
    )
    # No "news" question or update check on the demo's first start.
    notification = "@jupyterlab/apputils-extension:notification"
    if not (dirs["settings"] / "@jupyterlab" / "apputils-extension").exists():
        write_settings(
            dirs["settings"], notification, {"fetchNews": "false", "checkForUpdates": False}
        )
    # CARTO 3 logins against the local API (tools/carto_api/carto3.py): its authorize and token
    # endpoints, discovery, its public PKCE client (the paste flow, code page /auth/token) and the
    # client an administrator registers for the redirect flow (callback on 127.0.0.1).
    api = api_url.rstrip("/")
    (dirs["config"] / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "CartoCredentials": {
                    "oauth_url": api,
                    "accounts_url": api,
                    "oauth_public_client_id": "local-carto-auth-public-client",
                    "oauth_public_redirect_uri": api + "/auth/token",
                    "oauth_client_id": "jupyterlab-local",
                }
            },
            indent=2,
        )
    )
    welcome = dirs["notebooks"] / "Welcome to CARTO credentials.ipynb"
    if not welcome.exists():
        welcome.write_text(json.dumps(WELCOME, indent=1))
    return dirs


def write_m2m_file(path, api_url):
    """alice's CARTO 3 machine-to-machine credentials file (carto-auth's format), mode 0600."""
    client_id = carto3.ALICE_M2M_CLIENT_ID
    content = {
        "api_base_url": api_url.rstrip("/"),
        "client_id": client_id,
        "client_secret": carto3.M2M_CLIENTS[client_id]["secret"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(content, f, indent=2)
    os.chmod(path, 0o600)  # the file may predate this run with other permissions
    return path


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    token = secrets.token_hex(16)
    server, api_url = start_server(port=API_PORT)
    dirs = prepare(api_url)
    m2m_file = write_m2m_file(DEMO / "carto3" / "alice-m2m.json", api_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "JPY_"))},
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(dirs["ipython"]),
        "HOME": str(dirs["home"]),
    }
    lab = subprocess.Popen(
        [
            str(VENV_PYTHON),
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={LAB_PORT}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={dirs['notebooks']}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            f"--JupyterNotebookApp.user_settings_dir={dirs['settings']}",
            f"--JupyterNotebookApp.workspaces_dir={dirs['workspaces']}",
        ],
        cwd=dirs["notebooks"],
        env=env,
    )
    print(
        f"""
  JupyterLab with jupyterlab-carto-credentials:  http://127.0.0.1:{LAB_PORT}/lab?token={token}
  The same in Notebook 7:                        http://127.0.0.1:{LAB_PORT}/tree?token={token}
  Local CARTO-compatible API:                    {api_url}

  Demo accounts (log in from the CARTO panel, left sidebar, Ctrl/Cmd+Alt+C;
  in Notebook 7: View > Left Sidebar > Show CARTO credentials):
    username alice   API key alice-demo-key-0001   tables alice_stores, alice_customers, alice_grid_10k
    username bob     API key bob-demo-key-0002     tables bob_parks, bob_private_notes
  The server field is prefilled as {api_url}user/<username>/ (the demo's settings
  allow http:// base URLs for every host, which its local API needs: use only demo keys here).

  CARTO 3 (the same local API plays auth.carto.com, the accounts service and the API base URL
  {api_url.rstrip("/")}):
    browser login (OAuth PKCE)   alice / alice-demo-password   bob / bob-demo-password
    M2M credentials for alice    {m2m_file} (mode 0600)

  Ctrl-C stops both servers.
""",
        flush=True,
    )
    try:
        lab.wait()
    except KeyboardInterrupt:
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=20)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
