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

import enum
import json
import re
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
    status, headers, body = request(method, url, params, auth, timeout, session, bearer)
    return _decode(status, headers, body, redact_url(url), _secret(auth, bearer))


def request(method, url, params, auth=None, timeout=30.0, session=None, bearer=None):
    """``(status, headers, body bytes)`` of the request ``request_json`` sends, whatever the
    status (for callers that read CARTO's answer as cartoframes does, status unchecked). A
    failure to get any answer raises as in ``request_json``; redirects are not followed."""
    secret = _secret(auth, bearer)
    return _send(session, method, url, params, auth, timeout, secret, redact_url(url), bearer)


def _secret(auth, bearer):
    """What must never show in a message: the access token, else the API key of ``auth``."""
    return bearer or (auth[1] if auth else None)


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


class Failure(enum.Enum):
    """What went wrong when talking to CARTO: the one classification of failures.

    The kernel (``KERNEL_FAILURES`` here: an exception class of ``errors`` and a message) and the
    server (``server/validate.py`` ``LIVE_FAILURES``: a code of docs/contracts.md §2 and a message)
    each turn a kind into their own shape through one table; ``classify_status`` and
    ``classify_exception`` are the only places that decide the kind.

    No answer came:

    - ``TIMEOUT``: CARTO did not answer in time (connecting, or reading the answer);
    - ``TLS``: no secure connection (certificate, protocol);
    - ``DNS``: the host name was not found;
    - ``REFUSED``: the connection was refused, reset or could not be made (the host is unreachable);
    - ``NETWORK``: any other failure on the way (an invalid URL, a broken answer, what a user's own
      session raises).

    An answer came, with an HTTP status that is not a success:

    - ``REDIRECT``: 3xx (never followed: the key would go along);
    - ``BAD_KEY``: 401 or 403, the key (or token) is refused;
    - ``NOT_FOUND``: 404, unknown user, table or endpoint;
    - ``BAD_REQUEST``: 400, CARTO refused the request itself (e.g. the SQL);
    - ``SERVER_ERROR``: 500 and above;
    - ``OTHER``: any other status (418, 429, 1xx…).
    """

    TIMEOUT = "timeout"
    TLS = "tls"
    DNS = "dns"
    REFUSED = "refused"
    NETWORK = "network"
    REDIRECT = "redirect"
    BAD_KEY = "bad_key"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    SERVER_ERROR = "server_error"
    OTHER = "other"


def classify_status(status):
    """The ``Failure`` an HTTP ``status`` means, or ``None`` for a success (2xx)."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return Failure.REDIRECT
    if status in (401, 403):
        return Failure.BAD_KEY
    if status == 404:
        return Failure.NOT_FOUND
    if status == 400:
        return Failure.BAD_REQUEST
    if status >= 500:
        return Failure.SERVER_ERROR
    return Failure.OTHER


def classify_exception(exc):
    """The ``Failure`` an exception raised while calling CARTO means (never ``None``).

    ``requests``' exceptions and what they wrap (urllib3, ``ssl``, ``socket``) are read by class
    name, so this needs no import of ``requests`` and also judges other sessions' exceptions.
    """
    if is_timeout(exc):
        return Failure.TIMEOUT
    if caused_by(exc, "SSLError"):  # requests', urllib3's and ssl's all have that name
        return Failure.TLS
    if caused_by(exc, "NameResolutionError", "gaierror"):
        return Failure.DNS
    # requests' ConnectionError, or the built-in one (ConnectionRefusedError, ConnectionResetError…)
    if any(cls.__name__ == "ConnectionError" for cls in type(exc).__mro__):
        return Failure.REFUSED
    return Failure.NETWORK


def is_timeout(exc):
    """Whether ``exc`` means CARTO did not answer in time (``classify_exception``'s first test).

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
    class) named one of ``names``. Used by ``classify_exception``, for kernel and server alike."""
    return any(any(cls.__name__ in names for cls in type(link).__mro__) for link in _causes(exc))


def root_reason(exc):
    """What went wrong under ``exc``, in a few words: the innermost operating-system or ``ssl``
    error's own text (``"Connection refused"``, ``"Name or service not known"``,
    ``"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: …"``), else the innermost
    exception's message (``"timed out"``), else its class name.

    requests' and urllib3's wrappers repeat the connection pool, the URL and each wrapper's class
    ("HTTPSConnectionPool(host=…): Max retries exceeded with url: … (Caused by …)"): the message
    already names the URL and the kind of failure, so only the innermost text adds anything.
    """
    chain = list(_causes(exc))
    for link in reversed(chain):
        if isinstance(link, OSError) and isinstance(link.strerror, str) and link.strerror:
            return _SSL_SOURCE_LINE.sub("", link.strerror)
    innermost = chain[-1]
    # urllib3's errors take (connection, message): their str() is the tuple's repr.
    texts = [arg for arg in innermost.args if isinstance(arg, str)]
    return (texts[-1] if texts else str(innermost)).strip() or type(innermost).__name__


# OpenSSL's errors end with where in CPython's C source they were raised: " (_ssl.c:1006)".
_SSL_SOURCE_LINE = re.compile(r" \(_ssl\.c:\d+\)$")


def _causes(exc):
    """``exc``, then what it wraps, innermost last: ``__cause__``, else ``__context__``, else
    urllib3's ``reason`` (``MaxRetryError`` keeps the error it gave up on there), at most 10."""
    for _ in range(10):
        if exc is None:
            return
        yield exc
        reason = getattr(exc, "reason", None)
        exc = (
            exc.__cause__
            or exc.__context__
            or (reason if isinstance(reason, BaseException) else None)
        )


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


# The kernel's shape of each kind of failure: the ``errors`` class raised and its message. The
# message may use {shown} (the URL, never with a key), {host}, {reason} (the exception's text,
# scrubbed), {status}, {detail} (": " and CARTO's own error texts, scrubbed) and {target} (where a
# redirect points). Every network message starts "Could not reach CARTO at {shown}:" (or says
# CARTO did not answer in time), as it did before the TLS / DNS / refused distinction.
KERNEL_FAILURES = {
    Failure.TIMEOUT: (
        errors.CartoTimeoutError,
        "CARTO did not answer in time at {shown} ({reason}). Try again in a moment; if it keeps "
        "happening, check your network and CARTO's status.",
    ),
    Failure.TLS: (
        errors.CartoNetworkError,
        "Could not reach CARTO at {shown}: no secure connection could be established (TLS error: "
        "{reason}). Check the base URL and the server's certificate.",
    ),
    Failure.DNS: (
        errors.CartoNetworkError,
        "Could not reach CARTO at {shown}: the host {host} was not found (DNS: {reason}). Check the "
        "base URL and your network.",
    ),
    Failure.REFUSED: (
        errors.CartoNetworkError,
        "Could not reach CARTO at {shown}: the connection was refused or reset ({reason}). Check the "
        "base URL and your network.",
    ),
    Failure.NETWORK: (
        errors.CartoNetworkError,
        "Could not reach CARTO at {shown}: {reason}. Check the base URL and your network.",
    ),
    Failure.REDIRECT: (
        errors.CartoAPIError,
        "The server at {shown} answered with a redirect (HTTP {status}) to {target}: check the base "
        "URL, and use https.",
    ),
    Failure.BAD_KEY: (
        errors.AuthenticationError,
        "CARTO rejected the API key (HTTP {status}) at {shown}{detail}. Check the key, or log in "
        "again in the CARTO panel.",
    ),
    Failure.NOT_FOUND: (
        errors.NotFoundError,
        "CARTO answered 404 Not Found at {shown}{detail}. Check the username or base URL (and the "
        "table name).",
    ),
    Failure.BAD_REQUEST: (
        errors.QueryError,
        "CARTO refused the request (HTTP 400) at {shown}{detail}.",
    ),
    Failure.SERVER_ERROR: (
        errors.ServerError,
        "CARTO failed with HTTP {status} at {shown}{detail}. Try again later.",
    ),
    Failure.OTHER: (errors.CartoAPIError, "CARTO answered HTTP {status} at {shown}{detail}."),
}


def _raise_network(failure, shown, secret):
    from urllib.parse import urlsplit

    cls, message = KERNEL_FAILURES[classify_exception(failure)]
    reason = scrub(root_reason(failure), secret).rstrip(" .") or type(failure).__name__
    host = urlsplit(shown).netloc or shown
    raise cls(message.format(shown=shown, host=host, reason=reason)) from None


def _decode(status, headers, body, shown, secret):
    kind = classify_status(status)
    if kind is Failure.REDIRECT:
        cls, message = KERNEL_FAILURES[kind]
        target = redirect_target(headers, secret)
        raise cls(
            message.format(shown=shown, status=status, target=target), status=status, url=shown
        )
    try:
        payload = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if kind is None:
        if payload is None:
            raise errors.CartoAPIError(
                f"The answer from {shown} (HTTP {status}) is not CARTO's JSON. Is the base URL a CARTO "
                "server?",
                status=status,
                url=shown,
            )
        return payload
    texts = [scrub(t, secret) for t in carto_error_texts(payload)]
    # CARTO's sentences end with a period; ours follow ("…correct domain. Check…", not "..").
    detail = ": " + "; ".join(texts).rstrip(" .") if texts else ""
    cls, message = KERNEL_FAILURES[kind]
    raise cls(
        message.format(shown=shown, status=status, detail=detail),
        status=status,
        url=shown,
        carto_errors=texts,
    )
