"""Whether this kernel's own fallbacks may hand out a key: the kernel-access policy and the grant
of its notebook (docs/contracts.md §1, "Grants in the kernel").

JupyterLab decides for the kernels it pushes to. A kernel that got no push (a session started by
another client, a late push) decides here, from what the Jupyter server persisted:

- the policy, setting ``kernelAccess`` of ``jupyterlab-carto-credentials:plugin``, from the user
  settings file jupyterlab_server writes (``$JUPYTERLAB_SETTINGS_DIR`` or
  ``{jupyter_config_dir}/lab/user-settings``; the server extension exports the directory its
  JupyterLab really uses), else an administrator's overrides, layered as jupyterlab_server does
  (``paths.lab_overrides_paths``), else ``ask``;
- the notebook's grant, from the account store, read by the server's own parser
  (``server.store``, which imports no Jupyter server code).

Under ``never``, or with a ``deny`` grant for this notebook, the account store's default and
CARTOframes' ``creds.json`` are withheld; the environment (``CARTO_*``) still applies. A consent
guard against accidents, not a wall: code of the same Unix user can read those files itself.
"""

import logging
import os

from . import paths

# What to do about a notebook without access: JupyterLab's command (src/commands.ts allowAccess).
ALLOW_HINT = (
    "allow it with the command 'Allow CARTO Access for This Notebook' (command palette, CARTO)."
)
# ... unless the policy is never, which no per-notebook answer overrides.
NEVER_HINT = (
    "the kernel access setting is 'Never' (Settings › CARTO credentials › Kernel access to "
    "credentials): set it to 'Ask once per notebook' or 'Always' to let notebooks use it."
)


def not_allowed_hint():
    """What to do about a notebook JupyterLab did not give credentials to: under the policy
    ``never`` change the setting, else allow the notebook (``ALLOW_HINT``)."""
    return NEVER_HINT if policy() == "never" else ALLOW_HINT


PLUGIN_ID = "jupyterlab-carto-credentials:plugin"
SETTING = "kernelAccess"
POLICIES = ("ask", "always", "never")
DEFAULT_POLICY = "ask"

log = logging.getLogger(__name__)


# -- the policy -----------------------------------------------------------------------------------


def policy():
    """``ask``, ``always`` or ``never``: the user's setting, else an override, else ``ask``."""
    value = _setting_in(paths.lab_user_settings_path(PLUGIN_ID), plugin_file=True)
    if value is None:
        for path in paths.lab_overrides_paths():
            value = _setting_in(path, plugin_file=False)
            if value is not None:
                break
    return value or DEFAULT_POLICY


def _setting_in(path, plugin_file):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except (OSError, ValueError):
        return None
    # JupyterLab's settings and overrides files are JSON5, read by jupyterlab_server with the json5
    # library: the same parser here, so a file JupyterLab accepts is read the same way.
    import json5

    try:
        data = json5.loads(text)
    except (ValueError, RecursionError):
        return None
    if not plugin_file and isinstance(data, dict):
        data = data.get(PLUGIN_ID)
    if isinstance(data, dict):
        value = data.get(SETTING)
        return value if value in POLICIES else None
    return None


# -- the notebook's grant -------------------------------------------------------------------------


def read_store():
    """The account store's content (the server's parser, read-only, no lock), or ``None`` when
    there is none or it cannot be used (logged by path and reason, never with its content)."""
    path = paths.store_path()
    try:
        from .server import store  # the server's parser; imports no Jupyter server code

        data = store.AccountStore(path)._load(quarantine=False)
    except Exception as exc:
        # The server's messages name the path and the problem, never the content.
        message = getattr(exc, "message", None)
        if isinstance(message, str):
            log.warning("Ignoring the CARTO account store. %s", message)
        else:
            log.warning("Ignoring the CARTO account store %s: %s", path, type(exc).__name__)
        return None
    return data


def notebook_decision(store_data, session_path=None):
    """``"allow"``, ``"deny"`` or ``None`` (undecided) for this kernel's notebook.

    ``session_path`` is the path JupyterLab pushed (the store's own key). Without one, the kernel's
    ``JPY_SESSION_NAME`` (a hint set by jupyter_server: the notebook's OS path, or the session path
    as the client gave it) matches a grant whose path it ends with; any ``deny`` among those wins.
    A grant bound to a file (``grant_files``) that is verifiably not the file at the notebook's OS
    path any more does not hold, as on the server (``store._stale``); one that cannot be checked
    here (no OS path) is kept: the conservative side for a ``deny``.
    """
    grants = (store_data or {}).get("grants") or {}
    if not grants:
        return None
    hint = os.environ.get("JPY_SESSION_NAME") or ""
    if session_path:
        matched = [session_path.strip("/")] if session_path.strip("/") in grants else []
    elif hint:
        shown = hint.replace(os.sep, "/")
        matched = [
            path
            for path in grants
            if path.strip("/")
            and (shown.strip("/") == path.strip("/") or shown.endswith("/" + path.strip("/")))
        ]
    else:
        matched = []
    matched = [path for path in matched if not _stale(store_data, path, hint)]
    decisions = {grants[path] for path in matched}
    if "deny" in decisions:
        return "deny"
    return "allow" if decisions else None


def _stale(store_data, path, hint):
    """Whether the grant of ``path`` is bound to a file that is verifiably not the notebook at
    ``hint`` (an absolute OS path) any more."""
    binding = (store_data.get("grant_files") or {}).get(path, _NO_BINDING)
    if binding is _NO_BINDING or not os.path.isabs(hint):
        return False
    if not hint.replace(os.sep, "/").endswith("/" + path.strip("/")):
        return False  # the session was renamed since the kernel started: another file
    try:
        from .server import fileid, store
    except Exception:  # an older server package without bindings
        return False

    def identify(grant_path):
        try:
            return fileid.identity(hint) if grant_path == path else store.UNKNOWN
        except (OSError, ValueError):
            return store.UNKNOWN

    gone, _ = store._stale({"grants": {path: "?"}, "grant_files": {path: binding}}, identify)
    return path in gone


_NO_BINDING = object()


def withheld(store_data, session_path=None):
    """Why the store and ``creds.json`` fallbacks are withheld from this kernel, or ``None``."""
    current = policy()
    if current == "never":
        return (
            "The kernel-access policy in the CARTO settings is `never`: no notebook receives "
            "the account store's or CARTOframes' credentials automatically."
        )
    if current == "ask" and notebook_decision(store_data, session_path) == "deny":
        return "This notebook was denied access to your CARTO account: " + ALLOW_HINT
    return None
