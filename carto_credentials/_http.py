"""The one place in the kernel that talks HTTP to CARTO, and maps every failure to ``errors``.

``requests`` (imported on first use, so ``import carto_credentials`` stays cheap). The API key
never travels in a URL: it goes in an HTTP Basic ``Authorization`` header (username + key), which
CARTO accepts as it accepts ``api_key=`` in the query or the body (and so does the local API,
``tools/carto_api/server.py`` ``_params``), so no proxy, access log or error text records it.
Redirects are never followed (requests would keep the header for another path of the same
host): a 3xx answer is reported as such. When a ``Credentials`` carries a ``session`` (a
``requests.Session``, as in cartoframes) it is used; otherwise one shared module session.
The key is also passed as ``secret`` so it is scrubbed from every message CARTO echoes back.
"""

import json
import threading

from . import errors

USER_AGENT = "jupyterlab-carto-credentials"
# Longer URLs go as a form-encoded POST: proxies and servers commonly cap URLs around 8 KB.
MAX_GET_URL = 2048

_session = None
_session_lock = threading.Lock()


def scrub(text, secret):
    """``text`` with ``secret`` (raw, URL-, JSON- or HTML-encoded) replaced by ``***``."""
    from ._masking import scrub as _scrub

    return _scrub(text, secret)


def redact_url(url):
    """``url`` with the value of every ``api_key`` query parameter replaced by ``***``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, "***" if k == "api_key" else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def join(base_url, path):
    """``base_url`` (with or without a trailing ``/``) joined with a relative ``path``."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def auth_for(username, api_key):
    """The ``(user name, key)`` of the Basic header, or ``None`` when there is no key to send."""
    if not isinstance(api_key, str) or not api_key:
        return None
    return (username if isinstance(username, str) else "", api_key)


def request_json(method, url, params, auth=None, timeout=30.0, session=None, bearer=None):
    """Send ``params`` (query for GET, form body for POST) and return the decoded JSON answer.

    ``auth`` is ``auth_for(username, api_key)``: the key goes in the Basic header. ``timeout`` is
    in seconds, for connecting and for each read. Raises the ``errors`` subclass that matches the
    failure (a redirect is a ``CartoAPIError``); messages show ``url`` (which never holds the
    key) and never contain the key. ``bearer``: a CARTO 3 access token, sent as ``Authorization:
    Bearer`` instead (and scrubbed as the key is).
    """
    secret = bearer or (auth[1] if auth else None)
    shown = redact_url(url)
    status, headers, body = _send(
        session, method, url, params, auth, timeout, secret, shown, bearer
    )
    if 300 <= status < 400:
        raise errors.CartoAPIError(
            f"The server at {shown} answered with a redirect (HTTP {status}) to "
            f"{redirect_target(headers, secret)}: check the base URL, and use https.",
            status=status,
            url=shown,
        )
    return _decode(status, body, shown, secret)


def _shared_session():
    global _session
    with _session_lock:
        if _session is None:
            import requests

            _session = requests.Session()
        return _session


def _send(session, method, url, params, auth, timeout, secret, shown, bearer=None):
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    kwargs = {"params": params} if method == "GET" else {"data": params}
    if auth is not None:
        kwargs["auth"] = auth
    try:
        response = (session if session is not None else _shared_session()).request(
            method, url, timeout=timeout, headers=headers, allow_redirects=False, **kwargs
        )
        return response.status_code, getattr(response, "headers", None) or {}, response.content
    except Exception as exc:  # requests' hierarchy, or whatever a user's session raises
        failure = exc
    # Raised outside the except block (and without a cause) so no traceback shows the request.
    _raise_network(failure, shown, secret)


def redirect_target(headers, secret):
    """Where a redirect points, for a message: scheme, host and path of its ``Location`` (no
    query or fragment, printable, ≤ 200 characters), or "another address" when there is none or it
    holds ``secret``. The kernel and the server's live check report redirects with it."""
    from urllib.parse import urlsplit

    location = headers.get("Location") or "" if hasattr(headers, "get") else ""
    try:
        parts = urlsplit(location)
        shown = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path
    except ValueError:
        shown = ""
    shown = "".join(c for c in shown if c.isprintable())[:200]
    if not shown or (secret and scrub(shown, secret) != shown):
        return "another address"
    return shown


def is_timeout(exc):
    """Whether ``exc`` means CARTO did not answer in time (the kernel's and the server's one test).

    requests raises ``Timeout`` for connect and read timeouts, except a read timeout while the
    body streams in, which reaches us as a ``ConnectionError`` wrapping urllib3's
    ``ReadTimeoutError`` (urllib3's ``NewConnectionError`` derives from ``ConnectTimeoutError``,
    so names alone are not enough there). Other sessions' exceptions are judged by class name.
    """
    import socket
    import sys

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        return isinstance(exc, requests.exceptions.Timeout) or caused_by(exc, "ReadTimeoutError")
    return any("Timeout" in cls.__name__ for cls in type(exc).__mro__)


def caused_by(exc, *names):
    """Whether ``exc`` or what it wraps (urllib3 nests a few levels deep) has a class (or base
    class) named one of ``names``. Used by the kernel's and the server's failure classification."""
    for _ in range(10):
        if exc is None:
            return False
        if any(cls.__name__ in names for cls in type(exc).__mro__):
            return True
        reason = getattr(exc, "reason", None)
        exc = (
            exc.__cause__
            or exc.__context__
            or (reason if isinstance(reason, BaseException) else None)
        )
    return False


def _raise_network(failure, shown, secret):
    reason = scrub(failure, secret).rstrip(" .") or type(failure).__name__
    if is_timeout(failure):
        raise errors.CartoTimeoutError(
            f"CARTO did not answer in time at {shown} ({reason})."
        ) from None
    raise errors.CartoNetworkError(
        f"Could not reach CARTO at {shown}: {reason}. Check the base URL and your network."
    ) from None


def carto_error_texts(payload):
    """The error sentences in a CARTO error answer (``{"error": [...]}`` or ``{"errors": ...}``)."""
    if not isinstance(payload, dict):
        return []
    texts = []
    for key in ("error", "errors"):
        value = payload.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(str(v) for v in value)
        elif isinstance(value, dict):
            texts.extend(f"{k}: {v}" for k, v in value.items())
    return texts


def _decode(status, body, shown, secret):
    try:
        payload = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    texts = [scrub(t, secret) for t in carto_error_texts(payload)]
    # CARTO's sentences end with a period; ours follow ("…correct domain. Check…", not "..").
    detail = ": " + "; ".join(texts).rstrip(" .") if texts else ""
    if 200 <= status < 300:
        if payload is None:
            raise errors.CartoAPIError(
                f"The answer from {shown} (HTTP {status}) is not CARTO's JSON. Is the base URL a CARTO "
                "server?",
                status=status,
                url=shown,
            )
        return payload
    if status in (401, 403):
        raise errors.AuthenticationError(
            f"CARTO rejected the API key (HTTP {status}) at {shown}{detail}. Check the key, or log in again in "
            "the CARTO panel.",
            status=status,
            url=shown,
            carto_errors=texts,
        )
    if status == 404:
        raise errors.NotFoundError(
            f"CARTO answered 404 Not Found at {shown}{detail}. Check the username or base URL (and the "
            "table name).",
            status=status,
            url=shown,
            carto_errors=texts,
        )
    if status == 400:
        raise errors.QueryError(
            f"CARTO refused the request (HTTP 400) at {shown}{detail}.",
            status=status,
            url=shown,
            carto_errors=texts,
        )
    if status >= 500:
        raise errors.ServerError(
            f"CARTO failed with HTTP {status} at {shown}{detail}. Try again later.",
            status=status,
            url=shown,
            carto_errors=texts,
        )
    raise errors.CartoAPIError(
        f"CARTO answered HTTP {status} at {shown}{detail}.",
        status=status,
        url=shown,
        carto_errors=texts,
    )
