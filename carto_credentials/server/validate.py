"""Checking what a user typed (username, base URL, key) and asking CARTO whether it works.

The rules follow cartoframes' ``Credentials`` (a username alone means ``https://{username}.carto.com/``,
https only unless allowed) plus ours: no user-info, query or fragment, a trailing ``/`` always.
The live check calls ``GET {base_url}api/v3/me`` from the server (``requests``, in a thread, with the
key in an HTTP Basic ``Authorization`` header), so the key never shows in the browser or in a URL
and no CORS is involved. Redirects are not followed: that could send the key elsewhere.
"""

import asyncio
import concurrent.futures
import json
import re
import socket
from urllib.parse import urlsplit

import requests

from .errors import CredentialsError

MAX_URL_LENGTH = 2048
MAX_KEY_LENGTH = 512
# A CARTO username is a host label (it becomes {username}.carto.com).
_USERNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
# '_' is not valid in host names, but DNS serves it and cartoframes accepts it (its own tests use
# https://fake_user.carto.com), so refusing it would break imports of working creds.json files.
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_ON_PREM_PATH = re.compile(r"^/(?:user|u)/(?P<name>[^/]+)/$")
_KEY = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces

# Fields of /api/v3/me's user_data kept as "user_info": what the sidebar shows, nothing else.
USER_INFO_FIELDS = (
    "id",
    "username",
    "name",
    "email",
    "avatar_url",
    "base_url",
    "account_type",
    "remaining_byte_quota",
    "quota_in_bytes",
)


def _bad(code, message):
    return CredentialsError(400, code, message)


def check_username(username):
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise _bad(
            "bad_username",
            "A CARTO username is 1 to 63 letters, digits, '-' or '_', starting and ending with a "
            "letter or digit.",
        )
    return username


def check_api_key(api_key):
    if not isinstance(api_key, str) or not api_key:
        raise _bad(
            "bad_key_format", "The API key is missing; use 'default_public' for public data only."
        )
    if len(api_key) > MAX_KEY_LENGTH or not _KEY.match(api_key):
        # Never echo the value: it may be a real key pasted with a typo.
        raise _bad(
            "bad_key_format",
            "An API key is 1 to %d printable characters without spaces." % MAX_KEY_LENGTH,
        )
    return api_key


def normalise_base_url(base_url, allow_non_https=False):
    """``base_url`` checked and normalised (lower-case scheme and host, trailing ``/``)."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise _bad("bad_url", "The base URL is empty.")
    if len(base_url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in base_url):
        raise _bad(
            "bad_url",
            "The base URL must be at most %d characters, without spaces." % MAX_URL_LENGTH,
        )
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:
        raise _bad("bad_url", "The base URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _bad(
            "bad_url",
            "The base URL must start with https:// (for example https://myuser.carto.com/).",
        )
    if scheme == "http" and not allow_non_https:
        raise CredentialsError(
            400,
            "not_https",
            "The base URL must use https. Plain http sends the API key unencrypted; it is only "
            "accepted when 'allow non-https' is enabled.",
        )
    if "@" in parts.netloc:
        raise _bad("bad_url", "The base URL must not contain a user name or password (user@host).")
    if parts.query or base_url.rstrip("/").endswith("?"):
        raise _bad("bad_url", "The base URL must not contain a query string (?…).")
    if parts.fragment or "#" in base_url:
        raise _bad("bad_url", "The base URL must not contain a fragment (#…).")
    host = (parts.hostname or "").lower()
    if not host:
        raise _bad("bad_url", "The base URL has no host name.")
    if not _valid_host(host):
        raise _bad("bad_url", "The base URL's host name is not valid.")
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    if "//" in path or "/../" in path or "/./" in path:
        raise _bad("bad_url", "The base URL's path is not valid.")
    netloc = "[%s]" % host if ":" in host else host
    if port is not None:
        netloc += ":%d" % port
    return "%s://%s%s" % (scheme, netloc, path)


def _valid_host(host):
    if ":" in host:  # IPv6 literal
        try:
            socket.inet_pton(socket.AF_INET6, host)
            return True
        except OSError:
            return False
    return len(host) <= 253 and all(
        _HOST_LABEL.match(label) for label in host.rstrip(".").split(".")
    )


def resolve_account(username=None, base_url=None, allow_non_https=False):
    """``(username, base_url)`` from what the user gave, as cartoframes would use them.

    With a base URL the username is optional: we derive it from an on-premises ``/user/{name}/``
    path or from a ``{name}.carto.com`` host, so the sidebar can always name the account.
    """
    if username is None and base_url is None:
        raise _bad("bad_request", "Give a CARTO username or a base URL.")
    if username is not None:
        check_username(username)
    if base_url is None:
        return username, "https://%s.carto.com/" % username.lower()
    base_url = normalise_base_url(base_url, allow_non_https)
    if username is None:
        username = derive_username(base_url)
    return username, base_url


def derive_username(base_url):
    parts = urlsplit(base_url)
    m = _ON_PREM_PATH.match(parts.path)
    if m:
        return m.group("name")
    host = parts.hostname or ""
    if host.endswith(".carto.com") and host.count(".") == 2:
        return host.split(".")[0]
    return None


def me_url(base_url):
    """``{base_url}api/v3/me``: relative, so an on-premises ``/user/{name}/`` is kept. No key in it."""
    return "%sapi/v3/me" % base_url


def _failure(code, message):
    return {"ok": False, "code": code, "message": message}


# CARTO can be slow or unreachable: its calls get their own threads rather than the loop's
# default executor, which jupyter_server uses for its own work.
_executor = None
_MAX_ANSWER_BYTES = 1024 * 1024


def _get_executor():
    global _executor
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="carto-credentials-validate"
        )
    return _executor


def _fetch_me(base_url, username, api_key, timeout):
    """``(status, headers, body bytes)`` of ``GET {base_url}api/v3/me`` (runs in a thread).

    The key travels in an HTTP Basic ``Authorization`` header (username + key), never in the URL, so
    no proxy or access log on the way records it. Redirects are not followed: requests would keep
    the header for a redirect to another path of the same host, and a redirect to elsewhere means
    the base URL is wrong anyway.
    """
    with requests.get(
        me_url(base_url),
        auth=(username or "", api_key),
        headers={"Accept": "application/json", "User-Agent": "jupyterlab-carto-credentials"},
        timeout=(timeout, timeout),
        allow_redirects=False,
        stream=True,
    ) as response:
        body = b""
        if response.status_code == 200:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > _MAX_ANSWER_BYTES:
                    break
        return response.status_code, response.headers, body


def _network_failure(err, host, timeout):
    # A timeout while reading the answer reaches us as a ConnectionError wrapping urllib3's.
    if isinstance(err, requests.exceptions.Timeout) or _caused_by(err, "ReadTimeoutError"):
        return _failure("timeout", "%s did not answer within %g seconds." % (host, timeout))
    if isinstance(err, requests.exceptions.SSLError):
        return _failure(
            "unreachable", "Could not establish a secure connection to %s (TLS error)." % host
        )
    if _caused_by(err, "NameResolutionError", "gaierror"):
        return _failure("unreachable", "The host %s was not found (DNS)." % host)
    if isinstance(err, requests.exceptions.ConnectionError):
        return _failure(
            "unreachable", "Could not connect to %s (connection refused or reset)." % host
        )
    return _failure("unreachable", "Could not reach %s (%s)." % (host, type(err).__name__))


def _caused_by(err, *names):
    """Whether ``err`` or what it wraps (urllib3 nests a few levels deep) has one of these types."""
    for _ in range(10):
        if err is None:
            return False
        if any(cls.__name__ in names for cls in type(err).__mro__):
            return True
        reason = getattr(err, "reason", None)
        err = (
            err.__cause__
            or err.__context__
            or (reason if isinstance(reason, BaseException) else None)
        )
    return False


def _redirect_target(headers, api_key):
    """Where a redirect points, without query or fragment (and never the key), for the message."""
    location = headers.get("Location") or ""
    try:
        parts = urlsplit(location)
        shown = (
            "%s://%s%s" % (parts.scheme, parts.netloc, parts.path) if parts.netloc else parts.path
        )
    except ValueError:
        shown = ""
    shown = "".join(c for c in shown if c.isprintable())[:200]
    if not shown or api_key in shown:
        return "another address"
    return shown


async def check_live(base_url, api_key, timeout=10.0, username=None):
    """Ask CARTO who owns ``api_key`` at ``base_url``.

    Returns ``{"ok": True, "user_info": {...}, "base_url": ...}`` or
    ``{"ok": False, "code": ..., "message": ...}`` with a code of docs/contracts.md §2.
    """
    host = urlsplit(base_url).netloc
    loop = asyncio.get_running_loop()
    try:
        code, headers, raw = await loop.run_in_executor(
            _get_executor(), _fetch_me, base_url, username, api_key, timeout
        )
    except requests.exceptions.RequestException as err:
        return _network_failure(err, host, timeout)

    if code in (401, 403):
        return _failure("bad_key", "CARTO at %s rejected this API key (HTTP %d)." % (host, code))
    if code == 404:
        return _failure(
            "unknown_user",
            "CARTO at %s does not know this user (HTTP 404). Check the username "
            "or the base URL." % host,
        )
    if code >= 500:
        return _failure(
            "server_error",
            "CARTO at %s had an internal error (HTTP %d); try again later." % (host, code),
        )
    if 300 <= code < 400:
        return _failure(
            "not_carto",
            "%s answered with a redirect (HTTP %d) to %s, which CARTO does not do: check the "
            "base URL, and use https." % (host, code, _redirect_target(headers, api_key)),
        )
    if code != 200:
        return _failure("server_error", "CARTO at %s answered HTTP %d." % (host, code))
    try:
        body = json.loads(raw.decode("utf-8")) if len(raw) <= _MAX_ANSWER_BYTES else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("user_data"), dict):
        return _failure(
            "not_carto",
            "%s answered, but not like a CARTO server (no user data in /api/v3/me). "
            "Check the base URL." % host,
        )
    user_data = body["user_data"]
    # Whitelisted scalars only, and never something equal to the key (a server echoing it back).
    user_info = {
        k: user_data[k]
        for k in USER_INFO_FIELDS
        if isinstance(user_data.get(k), (str, int, float)) and user_data[k] != api_key
    }
    return {"ok": True, "user_info": user_info, "base_url": base_url}
