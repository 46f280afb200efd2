"""carto-auth's ``CartoAuth.from_oauth()`` / ``from_m2m()`` return the notebook's shared CARTO 3
login (docs/kernel-api.md, "CARTO 3"; docs/contracts.md §4, "Kernel").

``install()`` (called by the IPython startup file) puts a finder on ``sys.meta_path`` that does
nothing until ``carto_auth.auth`` is imported; right after that module runs, the two class methods
of its ``CartoAuth`` are wrapped in place (so every name bound to the class sees them):

- ``from_oauth(...)``: when the notebook has a CARTO 3 login (``carto3.current_login``, expired
  or not), an instance of ``SharedCartoAuth`` — a subclass of ``CartoAuth`` with
  ``carto3.SharedLogin``'s methods, bound to that login (the live token) — unless
  ``api_base_url=`` names another API than the login's. No browser, no blocking, no cache file:
  carto-auth's constructor (which writes ``~/.carto-auth/token_*.json``) never runs.
- ``from_m2m(filepath, ...)``: the file is read and checked as carto-auth does (same errors); the
  shared login is returned when the notebook's login is an M2M one for the same API base URL and,
  when the account store (the notebook was granted it) knows that account's client id, the file's
  ``client_id`` is that one. Another client or another API: carto-auth's own behaviour.

Without a shared login (none, withheld by policy or grant, an API-key account) both behave as
carto-auth does, with one exception: in a kernel JupyterLab talks to (a push arrived), a
``from_oauth`` that would start carto-auth's browser login (no usable token in its cache file)
raises carto-auth's ``CredentialsError`` saying what to do in the CARTO panel, instead of
waiting for a callback to ``localhost:10000`` on the kernel's machine, which never comes when the
kernel runs elsewhere (JupyterHub, a remote server). A kernel that never imports carto-auth never
imports it.
"""

import functools
import inspect
import json
import logging
import sys
import threading

from . import carto3, kernel, rules
from ._import_hook import AfterImportFinder

TARGET_MODULE = "carto_auth.auth"
_MARK = "_carto_credentials_patched"

log = logging.getLogger(__name__)


class _Finder(AfterImportFinder):
    """Patches ``carto_auth.auth`` right after it is imported; carto-auth keeps working as it is
    when that fails."""

    target = TARGET_MODULE

    def patch(self, module):
        try:
            patch(module)
        except Exception as exc:
            log.warning("Could not share the CARTO 3 login with carto-auth: %s", type(exc).__name__)


def install():
    """Make carto-auth use the notebook's CARTO 3 login, now or when it is imported. Idempotent;
    never raises (a kernel start must not break)."""
    try:
        _Finder.install()
        module = sys.modules.get(TARGET_MODULE)
        if module is not None:
            patch(module)
        return True
    except Exception as exc:
        log.warning("Could not share the CARTO 3 login with carto-auth: %s", type(exc).__name__)
        return False


# -- the patch ------------------------------------------------------------------------------------


def patch(module):
    """Wrap ``from_oauth`` and ``from_m2m`` of ``module.CartoAuth`` (``carto_auth.auth``)."""
    cls = module.CartoAuth
    if cls.__dict__.get(_MARK):
        return
    original_oauth = cls.__dict__["from_oauth"].__func__
    original_m2m = cls.__dict__["from_m2m"].__func__
    oauth_signature = inspect.signature(original_oauth)
    m2m_signature = inspect.signature(original_m2m)

    @functools.wraps(original_oauth)
    def from_oauth(klass, *args, **kwargs):
        try:
            arguments = oauth_signature.bind(klass, *args, **kwargs).arguments
        except TypeError:
            return original_oauth(klass, *args, **kwargs)  # carto-auth's own error
        if oauth_login(arguments.get("api_base_url")) is not None:
            return shared_instance(klass)
        refusal = browser_login_refusal(module, arguments)
        if refusal is not None:
            raise carto3._error(refusal)
        return original_oauth(klass, *args, **kwargs)

    @functools.wraps(original_m2m)
    def from_m2m(klass, *args, **kwargs):
        try:
            arguments = m2m_signature.bind(klass, *args, **kwargs).arguments
        except TypeError:
            return original_m2m(klass, *args, **kwargs)
        content = read_m2m_file(arguments["filepath"])
        if m2m_login(content) is not None:
            return shared_instance(klass)
        return original_m2m(klass, *args, **kwargs)

    cls.from_oauth = classmethod(from_oauth)
    cls.from_m2m = classmethod(from_m2m)
    setattr(cls, _MARK, True)


BROWSER_LOGIN_REFUSED = (
    "CartoAuth.from_oauth() found no CARTO 3 login to share, and carto-auth's own browser login "
    "would wait here for a callback to http://localhost:10000/callback/ on the kernel's machine, "
    "which never comes when the kernel runs elsewhere (JupyterHub, a remote server). "
)


def browser_login_refusal(module, arguments):
    """Why ``from_oauth(**arguments)`` must not start carto-auth's browser login, or ``None``.

    ``None`` outside JupyterLab (no push ever arrived: a terminal, a headless run) and when
    carto-auth would answer from its cache file (``use_cache`` and a token not expired by
    carto-auth's own ``is_token_expired``; a cache file it cannot read is left to carto-auth).
    ``module`` is ``carto_auth.auth``.
    """
    if kernel.carto3_push(wait=False).state is None:
        return None
    if arguments.get("use_cache", True):
        path = arguments.get("cache_filepath")
        if path is None:
            # carto-auth 0.2.0's get_cache_filepath("oauth"), without creating ~/.carto-auth.
            import pathlib

            path = pathlib.Path.home() / ".carto-auth" / "token_oauth.json"
        try:
            cached = module.load_cache_file(path)
        except Exception:
            return None  # carto-auth raises its own error for it
        if (
            cached
            and cached.get("api_base_url")
            and not module.is_token_expired(cached.get("expiration"))
        ):
            return None
    _, problem = carto3.current_login(wait=False)
    return BROWSER_LOGIN_REFUSED + (problem or "")


def read_m2m_file(filepath):
    """The M2M credentials file, read and checked exactly as carto-auth 0.2.0's ``from_m2m``
    does (``FileNotFoundError``, ``AttributeError`` / ``ValueError`` naming the attribute)."""
    with open(filepath) as f:
        content = json.load(f)
    for attr in ("api_base_url", "client_id", "client_secret"):
        if attr not in content:
            raise AttributeError(f"Missing attribute {attr} from {filepath}")
        if not content[attr]:
            raise ValueError(f"Missing value for {attr} in {filepath}")
    return content


def _same_api(given, login):
    try:
        return rules.normalise_base_url(given, allow_http=True).rstrip("/") == login.api_base_url
    except (rules.RuleError, TypeError):
        return False


def oauth_login(api_base_url=None):
    """The shared login ``from_oauth`` returns, or ``None`` (carto-auth's own flow runs)."""
    login, _ = carto3.current_login()
    if login is None:
        return None
    if api_base_url and not _same_api(api_base_url, login):
        return None
    return login


def m2m_login(content):
    """The shared login ``from_m2m`` returns for the checked file ``content``, or ``None``."""
    login, _ = carto3.current_login()
    if login is None or login.kind != carto3.M2M or not _same_api(content["api_base_url"], login):
        return None
    account = carto3.stored_account(login.account_id)
    client_id = account.get("client_id") if account else None
    if isinstance(client_id, str) and client_id != content["client_id"]:
        return None  # another M2M client of the same organisation: its own token
    return login


_subclasses = {}
_subclass_lock = threading.Lock()


def shared_instance(klass):
    """An instance of a subclass of ``klass`` (carto-auth's ``CartoAuth`` or a user's subclass)
    bound to the shared login; carto-auth's constructor is not called (it writes a cache file)."""
    with _subclass_lock:
        sub = _subclasses.get(klass)
        if sub is None:
            sub = type(
                "SharedCartoAuth",
                (carto3.SharedLogin, klass),
                {"__module__": __name__, "__doc__": carto3.SharedLogin.__doc__},
            )
            _subclasses[klass] = sub
    return object.__new__(sub)
