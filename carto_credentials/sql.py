"""``sql(query)``: run a query on CARTO's SQL API with the shared credentials."""

from . import _http, errors
from .defaults import resolve_credentials

SQL_SERVICE = "api/v2/sql"


class SQLResult(list):
    """The rows (a list of dicts), plus ``fields`` and ``total_rows`` from CARTO's answer."""

    def __init__(self, rows, fields=None, total_rows=None):
        super().__init__(rows)
        self.fields = fields if isinstance(fields, dict) else {}
        self.total_rows = total_rows if isinstance(total_rows, int) else len(rows)


def sql(query, credentials=None, timeout=30.0):
    """Run ``query`` and return its rows as a list of dicts.

    ``credentials`` default to ``get_default_credentials()``. Raises ``NoCredentialsError`` (how
    to log in), ``AuthenticationError`` (401/403), ``NotFoundError`` (404), ``QueryError`` (400),
    ``ServerError`` (5xx), ``CartoAPIError`` (a redirect, or not CARTO's JSON),
    ``CartoNetworkError`` or ``CartoTimeoutError``; no message contains the key. The key travels
    in the HTTP Basic header (``_http``); queries longer than ``_http.MAX_GET_URL`` are POSTed.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("`query` must be a non-empty SQL string.")
    credentials = resolve_credentials(credentials)
    url = _http.join(credentials.base_url, SQL_SERVICE)
    params = {"q": query}
    from urllib.parse import urlencode

    method = "GET" if len(url) + 1 + len(urlencode(params)) <= _http.MAX_GET_URL else "POST"
    answer = _http.request_json(
        method,
        url,
        params,
        auth=_http.auth_for(credentials.username, credentials.api_key),
        timeout=timeout,
        session=credentials.session,
    )
    rows = answer.get("rows") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise errors.CartoAPIError(
            f"The SQL API answer from {_http.redact_url(url)} has no `rows`: is the base URL a CARTO server?",
            url=_http.redact_url(url),
        )
    return SQLResult(rows, answer.get("fields"), answer.get("total_rows"))
