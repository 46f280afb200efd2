"""``Credentials``: cartoframes 1.x's class, same arguments, checks, messages and file format.

Deliberate differences (see docs/kernel-api.md): ``repr``/``str`` mask the key; ``save()`` writes
mode 0600; ``==`` with a non-Credentials is ``False`` and instances are hashable; a ``base_url``
with user info, a query or a fragment is refused; ``me_data`` keeps an on-premises path prefix;
``from_file`` errors name the file.
Usernames, keys and base URLs also follow the rules the server and the panel apply (``rules.py``):
no control or bidirectional-text characters, no spaces, no URL without a host; an organisation
profile URL (``/u/NAME``) is read as the API's ``/user/NAME``. A refusal is a ``ValueError``
(``rules.RuleError``) saying which argument and what to do.
"""

import json
import logging
import os
from urllib.parse import urlsplit

from . import _http, errors, paths, rules
from ._log import user_log
from ._masking import mask_key, remember

DEFAULT_PUBLIC = rules.PUBLIC_API_KEY
ME_SERVICE = "api/v3/me"
# CARTO's route, and what cartoframes 1.2.5 sends through carto-python 1.11.3 and the
# pyrestcli 0.6.11 it pins (relative: an on-premises /user/<name> prefix is kept).
DO_TOKEN_SERVICE = "api/v4/do/token"
# cartoframes 1.2.5's message for a missing default ``creds.json``.
NO_DEFAULT_FILE = (
    "There is no default credentials file. "
    "Run `Credentials(...).save()` to create a credentials file."
)
DO_NOT_ENABLED = (
    "We are sorry, the Data Observatory is not enabled for your account yet. Please contact your "
    "customer success manager or send an email to sales@carto.com to request access to it."
)

log = logging.getLogger(__name__)


def _json_type(value):
    """JSON's name for the type of a parsed JSON ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {list: "array", str: "string", int: "number", float: "number", dict: "object"}
    return names.get(type(value), type(value).__name__)


def is_valid_str(value):
    return isinstance(value, str) and value != ""


class Credentials:
    """CARTO credentials: a ``username`` or a ``base_url``, and an ``api_key``.

    ``Credentials('johnsmith', 'key')`` uses ``https://johnsmith.carto.com``; on-premises servers
    take ``base_url='https://carto.example.com/user/johnsmith'``. The key defaults to
    ``default_public`` (public data only).
    """

    def __init__(
        self,
        username=None,
        api_key=DEFAULT_PUBLIC,
        base_url=None,
        session=None,
        allow_non_secure=False,
    ):
        if not is_valid_str(username) and not is_valid_str(base_url):
            raise ValueError("You must set at least a `username` or a `base_url` parameters")

        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme.lower() != "https" and not allow_non_secure:
                raise ValueError(
                    "`base_url`s need to be over `https`. Update your `base_url` or set "
                    "`allow_non_secure`."
                )
            # Not in cartoframes: the shared rules (a RuleError is a ValueError). User info would
            # put a password in repr and logs; a query, a fragment or a control character breaks
            # every API URL built from the base. Case and form are kept, as cartoframes does.
            base_url = rules.with_user_path(base_url)
        if is_valid_str(username):
            rules.check_username(username)
        if is_valid_str(api_key):  # None and '' stay as in cartoframes (the public key)
            rules.check_api_key(api_key)

        self._api_key = api_key
        remember(api_key)  # masked in this kernel's outputs from now on (_masking)
        self._username = username
        self._base_url = base_url or self._base_url_from_username()
        self._session = session
        self._user_id = None
        self._allow_non_secure = allow_non_secure
        self._do_credentials = None
        self._norm_credentials()

    def _norm_credentials(self):
        if self._base_url:
            self._base_url = self._base_url.strip("/")

    def _base_url_from_username(self):
        return f"https://{self._username}.carto.com/"

    # -- construction from elsewhere -------------------------------------------------------

    @classmethod
    def from_file(cls, config_file=None, session=None):
        """Credentials read from a JSON object ``{"username", "api_key", "base_url",
        "allow_non_secure"}`` in ``config_file`` (default: CARTOframes' ``creds.json``), as
        cartoframes 1.2.5 ``Credentials.from_file``: missing keys become ``None``, unknown keys are
        ignored.

        Raises the exception types cartoframes raises, with messages that name the file:
        ``FileNotFoundError`` (cartoframes' own text for the default file), ``json.JSONDecodeError``
        for a file that is not JSON, ``AttributeError`` for JSON that is not an object, and the
        constructor's ``ValueError``. No message quotes the file's content.
        """
        path = paths.cartoframes_creds_path() if config_file is None else config_file
        shown = repr(os.fspath(path) if isinstance(path, (str, os.PathLike)) else path)
        try:
            with open(path) as f:
                credentials = json.load(f)
        except FileNotFoundError:
            if config_file is None:
                raise FileNotFoundError(NO_DEFAULT_FILE) from None
            raise FileNotFoundError(
                f"There is no credentials file at {shown}. Check the path, or run "
                f"`Credentials(...).save({shown})` to create it."
            ) from None
        except json.JSONDecodeError as exc:
            raise json.JSONDecodeError(
                f"The credentials file {shown} is not valid JSON ({exc.msg})",
                exc.doc,
                exc.pos,
            ) from None
        if not isinstance(credentials, dict):
            raise AttributeError(
                f"The credentials file {shown} holds a JSON {_json_type(credentials)}, not an "
                "object with `username`, `api_key` and `base_url`."
            )
        return cls(
            credentials.get("username"),
            credentials.get("api_key"),
            credentials.get("base_url"),
            session,
            credentials.get("allow_non_secure"),
        )

    @classmethod
    def from_credentials(cls, credentials):
        """A copy of another ``Credentials``."""
        if isinstance(credentials, Credentials):
            return cls(
                credentials.username,
                credentials.api_key,
                credentials.base_url,
                credentials.session,
                credentials.allow_non_secure,
            )
        raise ValueError("`credentials` must be a Credentials class instance.")

    # -- persistence -----------------------------------------------------------------------

    def save(self, config_file=None):
        """Write the credentials as JSON (mode 0600), by default to CARTOframes' ``creds.json``."""
        content = {
            "username": self._username,
            "api_key": self._api_key,
            "base_url": self._base_url,
            "allow_non_secure": self._allow_non_secure,
        }
        if config_file is None:
            config_file = paths.cartoframes_creds_path()
            os.makedirs(os.path.dirname(config_file), mode=0o700, exist_ok=True)
        write_private(config_file, json.dumps(content))
        user_log.info(
            f"User credentials for `{self._username or self._base_url}` were successfully saved to `{config_file}`"
        )

    @classmethod
    def delete(cls, config_file=None):
        """Remove a credentials file (default: ``creds.json``); never raises."""
        path_to_remove = config_file or paths.cartoframes_creds_path()
        try:
            os.remove(path_to_remove)
            user_log.info(f"Credentials at {path_to_remove} successfully removed.")
        except OSError:
            user_log.warning(f"No credential file found at {path_to_remove}.")

    # -- properties ------------------------------------------------------------------------

    @property
    def api_key(self):
        return self._api_key

    @property
    def username(self):
        return self._username

    @property
    def base_url(self):
        return self._base_url

    @property
    def allow_non_secure(self):
        return self._allow_non_secure

    @property
    def session(self):
        return self._session

    @session.setter
    def session(self, session):
        self._session = session

    def _auth(self):
        return _http.auth_for(self._username, self._api_key)

    @property
    def me_data(self):
        """CARTO's answer to ``/api/v3/me`` for this key, or ``{}`` when there is none.

        As in cartoframes the HTTP status is not checked: a rejected key gives CARTO's error body
        (``{"errors": ["Unauthorized"]}``). No answer, an answer that is not JSON, a redirect
        (never followed with a key) or a rate limit give ``{}``.
        """
        url = _http.join(self._base_url, ME_SERVICE)
        try:
            status, headers, body = _http.request(
                "GET", url, {}, auth=self._auth(), timeout=10.0, session=self._session
            )
            if 300 <= status < 400 or _rate_limited(status, headers):
                return {}
            return json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        except Exception:
            return {}

    @property
    def user_id(self):
        if not self._user_id:
            log.debug("Getting `user_id` for %s", self._username)
            me_data = self.me_data
            user_data = me_data.get("user_data") if isinstance(me_data, dict) else None
            self._user_id = user_data.get("id") if isinstance(user_data, dict) else None
        return self._user_id

    # -- Data Observatory ------------------------------------------------------------------

    def _get_do_credentials(self):
        if self._do_credentials:
            return self._do_credentials
        try:
            data = _http.request_json(
                "GET",
                _http.join(self._base_url, DO_TOKEN_SERVICE),
                {},
                auth=self._auth(),
                timeout=30.0,
                session=self._session,
            )
        except errors.CartoAPIError as exc:
            if any("does not have Data Observatory enabled" in t for t in exc.carto_errors):
                raise errors.DOError(
                    DO_NOT_ENABLED, status=exc.status, url=exc.url, carto_errors=exc.carto_errors
                ) from None
            raise
        if not isinstance(data, dict) or not data.get("access_token"):
            raise errors.CartoAPIError(
                "The Data Observatory token answer has no `access_token`.",
                url=_http.redact_url(_http.join(self._base_url, DO_TOKEN_SERVICE)),
            )
        self._do_credentials = data
        return data

    def get_gcloud_credentials(self):
        """``(bq_project, access_token)`` of the account's Google Cloud (Data Observatory)."""
        do_credentials = self._get_do_credentials()
        return do_credentials.get("bq_project"), do_credentials.get("access_token")

    def is_instant_licensing_active(self):
        return bool(self._get_do_credentials().get("instant_licensing"))

    # -- comparison and display --------------------------------------------------------------

    def __eq__(self, obj):
        if not isinstance(obj, Credentials):
            return NotImplemented
        return (
            self._api_key == obj._api_key
            and self._username == obj._username
            and self._base_url == obj._base_url
        )

    def __hash__(self):
        return hash((self._api_key, self._username, self._base_url))

    def __repr__(self):
        return f"Credentials(username='{self._username}', api_key='{mask_key(self._api_key)}', base_url='{self._base_url}')"

    __str__ = __repr__

    def _repr_html_(self):
        # Not in cartoframes: a rich, masked status (account, server, state) in notebooks. The
        # presentation layer (``_status_html``, imported by the package) supplies the renderer:
        # a value does not import the layers above it.
        if _html_renderer is None:
            return None
        return _html_renderer(self)


_html_renderer = None


def set_html_renderer(render):
    """Set the function ``Credentials._repr_html_`` calls (``_status_html`` sets it on import)."""
    global _html_renderer
    _html_renderer = render


def write_private(path, text):
    """Write ``text`` (UTF-8) to ``path`` with mode 0600, an existing file tightened first."""
    # Restrict before writing: an existing 0644 file is tightened while still empty.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def is_cartoframes_credentials(obj):
    """Whether ``obj`` is a ``cartoframes.auth.Credentials`` (by its class, not a name match:
    ``google.oauth2.credentials.Credentials`` and others share the name)."""
    cls = type(obj)
    return (
        cls.__name__ == "Credentials"
        and isinstance(cls.__module__, str)
        and cls.__module__.split(".")[0] == "cartoframes"
    )


def as_credentials(obj):
    """``obj`` as a ``Credentials``: ours as is, cartoframes' converted (same fields)."""
    if isinstance(obj, Credentials):
        return obj
    if is_cartoframes_credentials(obj):
        return Credentials(
            obj.username, obj.api_key, obj.base_url, obj.session, obj.allow_non_secure
        )
    raise TypeError(f"`credentials` must be a Credentials instance, not {type(obj).__name__}.")


def _rate_limited(status, headers):
    # carto-python's APIKeyAuthClient.send raises on a 429 with a Retry-After it cannot parse or
    # that is >= 0 (CartoRateLimitException): cartoframes' me_data then gives {}.
    if status != 429 or not hasattr(headers, "get") or headers.get("Retry-After") is None:
        return False
    try:
        return int(headers.get("Retry-After")) >= 0
    except (TypeError, ValueError):
        return True
