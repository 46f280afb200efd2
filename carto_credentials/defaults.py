"""Default credentials: cartoframes' ``set/get/unset_default_credentials`` plus a precedence chain.

``get_default_credentials()`` answers with the first of:
  1. credentials set by code in this kernel (``set_default_credentials``);
  2. credentials pushed by JupyterLab over the ``carto.credentials`` comm (state granted/public),
     waiting up to ``kernel.PUSH_WAIT_SECONDS`` once if a push is expected but not yet applied;
  3. the environment: ``CARTO_USERNAME`` / ``CARTO_BASE_URL`` / ``CARTO_API_KEY``
     (``CARTO_ALLOW_NON_SECURE=1`` for an ``http://`` base URL);
  4. the account store's default account (read only), then CARTOframes' ``creds.json``; both
     withheld when JupyterLab said this notebook is ``not_granted``, or, without a push, when the
     kernel-access policy is ``never`` or the notebook's grant is ``deny`` (``access``);
  5. ``None``.
Credentials passed explicitly to a call win over all of these (``resolve_credentials``).
"""

import logging
import os
import re
import threading
import warnings

from . import access, errors, kernel, paths
from .credentials import DEFAULT_PUBLIC, Credentials, as_credentials, is_cartoframes_credentials

log = logging.getLogger(__name__)

_lock = threading.Lock()
_code_default = None


def _is_url(text):
    return re.match(r"^https?://.*$", text)


def _is_json_filepath(text):
    return re.match(r"^.*\.json\s*$", text, re.IGNORECASE)


def _build(
    first=None,
    second=None,
    credentials=None,
    filepath=None,
    username=None,
    base_url=None,
    api_key=None,
    session=None,
    allow_non_secure=False,
):
    # cartoframes' _set_credentials, order and quirks included (see cartoframes-auth.md §1.3).
    _base_url = base_url if first is None else first
    _username = username if first is None else first
    _filepath = filepath if first is None else first
    _api_key = (api_key if second is None else second) or DEFAULT_PUBLIC
    _credentials = credentials if first is None else first

    if isinstance(_credentials, Credentials):
        pass
    elif is_cartoframes_credentials(_credentials):
        # A cartoframes Credentials: accepted too, converted to ours. Another class that is only
        # named Credentials (google.oauth2's…) is no credentials, as in cartoframes: the file.
        _credentials = as_credentials(_credentials)
    elif isinstance(_filepath, str) and _is_json_filepath(_filepath):
        _credentials = Credentials.from_file(_filepath)
    elif isinstance(_base_url or _username, str) and isinstance(_api_key, str):
        if _base_url and _is_url(_base_url):
            _credentials = Credentials(
                base_url=_base_url, api_key=_api_key, allow_non_secure=allow_non_secure
            )
        else:
            _credentials = Credentials(
                username=_username, api_key=_api_key, allow_non_secure=allow_non_secure
            )
    else:
        _credentials = Credentials.from_file()

    if session:
        _credentials.session = session
    return _credentials


def set_default_credentials(
    first=None,
    second=None,
    credentials=None,
    filepath=None,
    username=None,
    base_url=None,
    api_key=None,
    session=None,
    allow_non_secure=False,
):
    """Set the credentials every call of this kernel uses by default (cartoframes' forms).

    ``set_default_credentials('johnsmith', 'key')``, ``('https://host/user/u', 'key')``,
    ``('creds.json')``, ``(Credentials(...))``, keywords ``username=``, ``base_url=``,
    ``api_key=``, ``credentials=``, ``filepath=``; no argument reads CARTOframes' ``creds.json``.
    JupyterLab is told (so map widgets of this notebook use them); ``cartoframes.auth`` follows
    through ``_cartoframes``.
    """
    global _code_default
    credentials = _build(
        first, second, credentials, filepath, username, base_url, api_key, session, allow_non_secure
    )
    with _lock:
        _code_default = credentials
    kernel.effective_changed()
    kernel.notify_code_default(credentials)


def unset_default_credentials():
    """Forget credentials set by code; the next levels of the precedence chain apply again."""
    global _code_default
    with _lock:
        _code_default = None
    kernel.effective_changed()
    kernel.notify_code_default(None)


def code_default():
    """Credentials set by code in this kernel, or ``None``."""
    with _lock:
        return _code_default


def get_default_credentials():
    """The credentials to use when none are passed, or ``None`` (see the module docstring)."""
    return _resolve()[0]


def default_credentials_source():
    """Which level answers ``get_default_credentials()``: ``'code'``, ``'jupyterlab'``,
    ``'environment'``, ``'account store'``, ``'creds.json'`` or ``None``."""
    return _resolve()[1]


def _resolve():
    """``(credentials, source, withheld)``: ``withheld`` says why the store and ``creds.json``
    were not asked (``None`` when they were, or when a level above answered)."""
    current = code_default()
    if current is not None:
        return current, "code", None
    pushed, state = kernel.pushed_credentials()
    if pushed is not None:
        return pushed, "jupyterlab", None
    from_env = _from_environment()
    if from_env is not None:
        return from_env, "environment", None
    store = access.read_store() if state != kernel.NOT_GRANTED else None
    withheld = _fallbacks_withheld(state, store)
    if withheld is not None:
        return None, None, withheld
    from_store = _from_account_store(store)
    if from_store is not None:
        return from_store, "account store", None
    from_file = _from_cartoframes_file()
    if from_file is not None:
        return from_file, "creds.json", None
    return None, None, None


def _fallbacks_withheld(state, store):
    """Why the account store and ``creds.json`` must not answer for this notebook, or ``None``:
    JupyterLab said ``not_granted``, or (no push) the policy is ``never`` / its grant ``deny``
    (``store``: the account store's content, read once per resolution)."""
    if state == kernel.NOT_GRANTED:
        return kernel.missing_push_hint()
    if kernel.carto3_push(wait=False).login is not None:
        # The notebook's chosen account is a CARTO 3 login: another account's API key from the
        # store or creds.json would silently stand in for it.
        return (
            "This notebook's CARTO account is a CARTO 3 login, which has no API key: use "
            "carto_credentials.carto_auth() for it, or choose an API-key account for this notebook "
            "in its toolbar."
        )
    return access.withheld(store, kernel.status()["session_path"])


def resolve_credentials(credentials=None):
    """``credentials`` if given, else the default; raises ``NoCredentialsError`` if neither."""
    if credentials is not None:
        return as_credentials(credentials)
    found, _, withheld = _resolve()
    if found is None:
        raise errors.NoCredentialsError(withheld or kernel.missing_push_hint())
    return found


_env_warned = False


def _from_environment():
    global _env_warned
    username = os.environ.get("CARTO_USERNAME") or None
    base_url = os.environ.get("CARTO_BASE_URL") or None
    if username is None and base_url is None:
        if os.environ.get("CARTO_API_KEY") and not _env_warned:
            _env_warned = True
            warnings.warn(
                "CARTO_API_KEY is set but CARTO_USERNAME and CARTO_BASE_URL are not, so the key "
                "is not used: set CARTO_USERNAME (or CARTO_BASE_URL for an on-premises server).",
                UserWarning,
                stacklevel=4,
            )
        return None
    api_key = os.environ.get("CARTO_API_KEY") or DEFAULT_PUBLIC
    allow = os.environ.get("CARTO_ALLOW_NON_SECURE", "").strip().lower() in ("1", "true", "yes")
    try:
        return Credentials(
            username=username, api_key=api_key, base_url=base_url, allow_non_secure=allow
        )
    except ValueError as exc:
        if base_url is not None and "over `https`" in str(exc):
            detail = (
                "CARTO_BASE_URL must use https; for a local or test server set "
                "CARTO_ALLOW_NON_SECURE=1 (the key then travels unencrypted)."
            )
        else:
            detail = str(exc)
        raise errors.InvalidCredentialsError(
            "The environment variables CARTO_USERNAME / CARTO_BASE_URL do not give valid "
            f"credentials: {detail}"
        ) from None


def _from_account_store(data):
    if not data:
        return None
    default_id = data.get("default_account")
    for account in data.get("accounts") or ():
        if account.get("id") == default_id:
            if (account.get("kind") or "api_key") != "api_key":
                return None  # a CARTO 3 login: no API key (carto_credentials.carto_auth() uses it)
            return _account_credentials(account, paths.store_path())
    return None


def _account_credentials(account, path):
    username = account.get("username") if isinstance(account.get("username"), str) else None
    base_url = account.get("base_url") if isinstance(account.get("base_url"), str) else None
    api_key = account.get("api_key") if isinstance(account.get("api_key"), str) else None
    try:
        # The server only stores http:// URLs when the user allowed them.
        return Credentials(
            username=username,
            api_key=api_key or DEFAULT_PUBLIC,
            base_url=base_url,
            allow_non_secure=bool(base_url and base_url.startswith("http://")),
        )
    except ValueError:
        log.warning("Ignoring the default account of %s: invalid username or base URL", path)
        return None


def _from_cartoframes_file():
    try:
        return Credentials.from_file()
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("Ignoring CARTOframes' credentials file: %s", type(exc).__name__)
        return None
