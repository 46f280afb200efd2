"""The exceptions raised by the kernel API.

One hierarchy so notebook code can write ``except CartoCredentialsError``. Several classes also
derive from the built-in exception that cartoframes (or Python) would raise in the same situation,
so code written for cartoframes keeps catching them. No message ever contains an API key: URLs
are shown with ``api_key=***``.
"""

LOGIN_HINT = (
    "Log in with the CARTO panel in the JupyterLab sidebar, or call "
    "`set_default_credentials(username, api_key)` (or `Credentials(...)`), or set the environment "
    "variables CARTO_USERNAME and CARTO_API_KEY (and CARTO_BASE_URL for on-premises servers)."
)


class CartoCredentialsError(Exception):
    """Base class of every error raised by ``carto_credentials``."""


class NoCredentialsError(CartoCredentialsError, ValueError):
    """No credentials were passed and none are available by default.

    A ``ValueError`` because cartoframes raises ``ValueError('Credentials attribute is required…')``
    in the same situation.
    """

    def __init__(self, detail=None):
        message = "No CARTO credentials are available. " + LOGIN_HINT
        if detail:
            message = f"{message} {detail}"
        super().__init__(message)


class InvalidCredentialsError(CartoCredentialsError, ValueError):
    """Configured credentials (e.g. the ``CARTO_*`` environment variables) are not valid."""


class CartoAPIError(CartoCredentialsError):
    """CARTO answered, but not with what was asked for.

    ``status`` is the HTTP status (``None`` when the answer was not CARTO's JSON), ``url`` the
    request URL with the key redacted, ``carto_errors`` the error texts CARTO sent.
    """

    def __init__(self, message, status=None, url=None, carto_errors=()):
        super().__init__(message)
        self.status = status
        self.url = url
        self.carto_errors = list(carto_errors)


class AuthenticationError(CartoAPIError):
    """CARTO rejected the API key (HTTP 401 or 403)."""


class NotFoundError(CartoAPIError):
    """Unknown user, table or endpoint (HTTP 404)."""


class QueryError(CartoAPIError):
    """CARTO refused the SQL query itself (HTTP 400, e.g. a syntax error or an unknown table)."""


class ServerError(CartoAPIError):
    """CARTO failed (HTTP 5xx)."""


class DOError(CartoAPIError):
    """The Data Observatory is not enabled for this account (cartoframes' ``DOError``)."""


class CartoNetworkError(CartoCredentialsError, ConnectionError):
    """CARTO could not be reached (DNS, refused connection, TLS…)."""


class CartoTimeoutError(CartoNetworkError, TimeoutError):
    """CARTO did not answer in time."""
