"""The notebook's CARTO 3 login in the kernel, as a ``carto_auth.CartoAuth``-compatible object
(docs/kernel-api.md, "CARTO 3"; docs/contracts.md §4).

``carto_auth()`` returns an object with carto-auth 0.2.0's methods (``get_access_token()``,
``get_api_base_url()``, ``get_carto_dw_credentials()``, ``get_carto_dw_client()``) that looks the
login up at *every* call, so a token JupyterLab pushes later (an M2M renewal, a new browser login)
is used without re-running cells. Which login (``current_login``):

1. pushed by JupyterLab (``set_credentials`` version 2, ``kernel.py``): the notebook's CARTO 3
   account with its token; ``login_required`` keeps it but marks it expired; ``not_granted``
   withholds everything; a version 1 push (the notebook's account is an API-key one) means no
   CARTO 3 login;
2. without a push (a session started by another client, headless runs) or after ``no_account``:
   the account store's default account when it is a CARTO 3 one, under the same policy and grants
   as API keys (``access``), read at each call (the server renews M2M tokens in the store).

A pushed token that has run out is looked up in the store too (same account: the server renewed
it and the renewal push is on its way); otherwise the login is expired. Expired or missing logins
raise carto-auth's ``CredentialsError`` when carto-auth is installed (``Carto3LoginError``, ours,
either way). Every token handed out is masked in the kernel's outputs (``_masking``).

carto-auth itself is not needed here; ``_carto_auth_hook`` makes its ``CartoAuth.from_oauth()`` /
``from_m2m()`` return this login. Nothing here imports ``requests`` or carto-auth until used.
"""

import sys
import threading
import time

from . import _http, access, errors, kernel, rules
from ._masking import remember
from .kernel import Carto3Login

OAUTH, M2M = "oauth", "m2m"
KINDS = (OAUTH, M2M)
DW_TOKEN_PATH = "v3/connections/carto-dw/token"

_NO_LOGIN = (
    "This notebook has no CARTO 3 login: log in to CARTO 3 from the CARTO panel (OAuth or a "
    "machine-to-machine client) and choose it for this notebook."
)
_API_KEY_ACCOUNT = (
    "This notebook's CARTO account uses an API key, not a CARTO 3 login: choose a CARTO 3 login "
    "for this notebook in its toolbar or in the CARTO panel."
)


class Carto3LoginError(errors.CartoCredentialsError):
    """No usable CARTO 3 login for this notebook (none, withheld, or expired). Raised as carto-auth's
    ``CredentialsError`` too when carto-auth is installed (see ``_error``)."""


def expired_message(login):
    name = " (%s)" % login.label if login is not None and login.label else ""
    return (
        "The CARTO 3 login of this notebook%s has expired: log in again from the CARTO panel."
        % name
    )


_error_classes = {}
_error_lock = threading.Lock()


def _error(message):
    """A ``Carto3LoginError`` that is also ``carto_auth.CredentialsError`` when carto-auth is
    installed, so code written for carto-auth catches it as it would catch carto-auth's own."""
    import importlib.util

    module = sys.modules.get("carto_auth.errors")
    if module is None and importlib.util.find_spec("carto_auth") is not None:
        try:
            import carto_auth.errors as module
        except Exception:  # a broken carto-auth must not hide the real message
            module = None
    base = getattr(module, "CredentialsError", None)
    if not isinstance(base, type) or not issubclass(base, Exception):
        return Carto3LoginError(message)
    with _error_lock:
        cls = _error_classes.get(base)
        if cls is None:
            cls = type(
                "CredentialsError",
                (Carto3LoginError, base),
                {"__module__": __name__, "__doc__": Carto3LoginError.__doc__},
            )
            _error_classes[base] = cls
    return cls(message)


# -- which login ----------------------------------------------------------------------------------


def current_login(wait=True):
    """``(login, problem)``: the notebook's CARTO 3 login (a ``kernel.Carto3Login``, ``expired``
    set when it needs a new login) or ``None``, and a sentence for errors when there is none or
    it cannot be used. ``wait``: wait once for an expected push, as ``get_default_credentials``."""
    push = kernel.carto3_push(wait=wait)
    if push.state == kernel.NOT_GRANTED:
        return None, kernel.missing_push_hint()
    if push.version == kernel.CARTO3_PROTOCOL_VERSION and push.state == kernel.GRANTED:
        login = push.login
        if _out_of_time(login):
            login = _renewed_in_store(login, push.session_path) or login.expired_copy()
        return _handed_out(login), None
    if push.state == kernel.LOGIN_REQUIRED:
        return push.login, expired_message(push.login)
    if push.version == kernel.PROTOCOL_VERSION and push.state in (kernel.GRANTED, kernel.PUBLIC):
        return None, _API_KEY_ACCOUNT
    # No push (yet), or no_account: the store's default, as the API-key fallbacks do.
    store = access.read_store()
    withheld = access.withheld(store, push.session_path)
    if withheld is not None:
        return None, withheld
    login = default_store_login(store)
    if login is None:
        return None, kernel.missing_push_hint() or _NO_LOGIN
    return _handed_out(login), None


def _out_of_time(login, now=None):
    return login.expires_at <= (time.time() if now is None else now)


def _handed_out(login):
    if login.expired or _out_of_time(login):
        return login if login.expired else login.expired_copy()
    remember(login.access_token, login.account_id)  # masked in everything sent from now on
    return login


def store_login(account):
    """The ``Carto3Login`` of a stored CARTO 3 account (``None`` for API-key accounts)."""
    if not isinstance(account, dict) or account.get("kind") not in KINDS:
        return None
    try:
        api_base_url = rules.normalise_base_url(account["api_base_url"], allow_http=True)
    except (rules.RuleError, KeyError, TypeError):
        return None
    token, expires_at = account.get("access_token"), account.get("expires_at")
    if not isinstance(token, str) or not token or isinstance(expires_at, bool):
        return None
    if not isinstance(expires_at, (int, float)):
        return None
    # An OAuth token past its expiry, or an M2M client CARTO refused: a new login is needed.
    expired = bool(account.get("refused")) or expires_at <= time.time()
    return Carto3Login(
        account_id=account.get("id"),
        label=account.get("label") if isinstance(account.get("label"), str) else None,
        kind=account["kind"],
        api_base_url=api_base_url.rstrip("/"),
        access_token=token,
        expires_at=int(expires_at),
        expired=expired,
    )


def default_store_login(store):
    """The store's default account as a ``Carto3Login``, or ``None`` (none, or an API-key one)."""
    if not store:
        return None
    default_id = store.get("default_account")
    for account in store.get("accounts") or ():
        if isinstance(account, dict) and account.get("id") == default_id:
            return store_login(account)
    return None


def stored_account(account_id, store=None):
    """The stored account ``account_id`` (secrets included) or ``None``; ``store``: already read."""
    store = access.read_store() if store is None else store
    for account in (store or {}).get("accounts") or ():
        if isinstance(account, dict) and account.get("id") == account_id:
            return account
    return None


def _renewed_in_store(login, session_path):
    """The same account's token from the store when the server renewed it after the last push
    (the notebook was granted, so its store is the notebook's to read), else ``None``."""
    store = access.read_store()
    if store is None or access.withheld(store, session_path) is not None:
        return None
    renewed = store_login(stored_account(login.account_id, store))
    if renewed is None or renewed.expired or renewed.expires_at <= login.expires_at:
        return None
    return renewed


# -- the carto_auth.CartoAuth-compatible object ---------------------------------------------------


class SharedLogin:
    """carto-auth 0.2.0's ``CartoAuth`` methods over the notebook's CARTO 3 login, looked up at
    every call. ``_carto_auth_hook`` mixes it into a subclass of the real ``CartoAuth``."""

    def __init__(self):
        pass  # no state: nothing to go stale; carto-auth's constructor (its cache file) never runs

    def _login(self):
        login, problem = current_login()
        if login is None:
            raise _error(problem)
        return login

    def get_access_token(self):
        """The current access token; ``CredentialsError`` when the login must be renewed."""
        login = self._login()
        if login.expired:
            raise _error(expired_message(login))
        return login.access_token

    def get_api_base_url(self):
        """The login's API base URL (``https://…api.carto.com``, no trailing ``/``)."""
        return self._login().api_base_url

    def get_carto_dw_credentials(self):
        """``(project_id, token)`` of the CARTO Data Warehouse: carto-auth's ``GET
        {api_base_url}/v3/connections/carto-dw/token`` with the access token as a Bearer token."""
        login = self._login()
        token = self.get_access_token()
        url = _http.join(login.api_base_url, DW_TOKEN_PATH)
        try:
            answer = _http.request_json("GET", url, None, bearer=token)
        except errors.AuthenticationError as exc:
            raise _error(
                "CARTO refused the access token of this notebook's CARTO 3 login (HTTP %s) at %s: "
                "log in again from the CARTO panel." % (exc.status, url)
            ) from None
        except errors.CartoAPIError as exc:
            if exc.status is not None and 200 <= exc.status < 300:  # not JSON, as carto-auth
                raise _error(
                    "Invalid CARTO DW Token response. "
                    "Please, make sure api_base_url is correctly defined"
                ) from None
            raise
        if isinstance(answer, dict) and "projectId" in answer and "token" in answer:
            remember(answer["token"])
            return answer["projectId"], answer["token"]
        raise _error(
            "Invalid attributes in CARTO DW Token response. "
            "Please, make sure api_base_url is correctly defined"
        )

    def get_carto_dw_client(self):
        """A ``google.cloud.bigquery.Client`` on the CARTO Data Warehouse (carto-auth's extra
        ``carto-dw``: ``pip install 'carto-auth[carto-dw]'``)."""
        try:
            from google.cloud.bigquery import Client
            from google.oauth2.credentials import Credentials
        except ImportError:
            raise ImportError(
                "get_carto_dw_client() needs google-cloud-bigquery and google-auth in this "
                "kernel's environment: pip install 'carto-auth[carto-dw]'"
            ) from None
        project, token = self.get_carto_dw_credentials()
        return Client(project, credentials=Credentials(token))

    def _save_cache_file(self):
        pass  # never a token file: the login lives in JupyterLab's store

    # carto-auth's private attributes, for code that reads them: live, never stored.
    @property
    def _mode(self):
        return self._login().kind

    @property
    def _api_base_url(self):
        return self.get_api_base_url()

    @property
    def _access_token(self):
        return self.get_access_token()

    @property
    def _expiration(self):
        return self._login().expires_at

    def __repr__(self):
        try:
            login, _ = current_login(wait=False)
        except Exception:
            login = None
        if login is None:
            return "<CARTO 3 login of this notebook: none>"
        state = ", expired" if login.expired else ""
        return "<CARTO 3 login of this notebook: %s %r at %s%s>" % (
            login.kind,
            login.label,
            login.api_base_url,
            state,
        )

    __str__ = __repr__


_shared = SharedLogin()


def carto_auth():
    """The notebook's CARTO 3 login as a ``carto_auth.CartoAuth``-compatible object (always the
    current token; see the module docstring)."""
    return _shared
