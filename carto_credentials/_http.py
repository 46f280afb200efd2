"""The one place that talks HTTP to CARTO, and maps every failure to ``errors``.

Standard library only (``urllib``), imported lazily so ``import carto_credentials`` stays cheap.
When a ``Credentials`` carries a ``requests``-style session, that session is used instead, as
cartoframes does. The API key is passed as ``secret`` so it can be scrubbed from every message.
"""

import json

from . import errors

USER_AGENT = "jupyterlab-carto-credentials"
# Longer URLs go as a form-encoded POST: proxies and servers commonly cap URLs around 8 KB.
MAX_GET_URL = 2048


def scrub(text, secret):
    """``text`` with ``secret`` (raw and URL-encoded) replaced by ``***``."""
    text = str(text)
    if secret and isinstance(secret, str) and secret != "default_public":
        from urllib.parse import quote, quote_plus

        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


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


def request_json(method, url, params, secret=None, timeout=30.0, session=None):
    """Send ``params`` (query for GET, form body for POST) and return the decoded JSON answer.

    Raises the ``errors`` subclass that matches the failure; messages show ``url`` with
    ``api_key=***`` and never contain ``secret``.
    """
    shown = redact_url(_with_query(url, {k: v for k, v in params.items() if k == "api_key"}))
    if session is not None:
        status, body = _send_with_session(session, method, url, params, timeout, secret, shown)
    else:
        status, body = _send_with_urllib(method, url, params, timeout, secret, shown)
    return _decode(status, body, shown, secret)


def _with_query(url, params):
    from urllib.parse import urlencode

    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _send_with_urllib(method, url, params, timeout, secret, shown):
    import http.client
    import socket
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    data = None
    if method == "GET":
        url = _with_query(url, params)
    else:
        data = urlencode(params).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read()
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        failure = exc.reason
    except (socket.timeout, TimeoutError) as exc:
        failure = exc
    except (OSError, http.client.HTTPException) as exc:
        failure = exc
    # Raised outside the except blocks (and without a cause) so no traceback shows the
    # urllib objects, whose URL carries the key.
    _raise_network(failure, shown, secret)


def _send_with_session(session, method, url, params, timeout, secret, shown):
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    kwargs = {"params": params} if method == "GET" else {"data": params}
    try:
        response = session.request(method, url, timeout=timeout, headers=headers, **kwargs)
        return response.status_code, response.content
    except Exception as exc:  # requests' own hierarchy: classified below without importing it
        failure = exc
    _raise_network(failure, shown, secret)


def _is_timeout(exc):
    import socket

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True
    return any("Timeout" in cls.__name__ for cls in type(exc).__mro__)


def _raise_network(failure, shown, secret):
    reason = scrub(failure, secret) or type(failure).__name__
    if _is_timeout(failure):
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
    detail = ": " + "; ".join(texts) if texts else ""
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
