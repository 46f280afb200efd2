"""One classification of CARTO failures (issue 12 item 3): ``_http.classify_status`` and
``_http.classify_exception`` decide the kind; the kernel (``request_json``: an ``errors`` class)
and the server (``check_live``: a code of docs/contracts.md §2; carto3's calls: a
``CredentialsError``) each turn the kind into their own shape through one table.

Each case goes through the real entry points with fakes at the edge: a session object for the
kernel, ``_fetch_me`` / ``requests.post`` for the server. The exceptions are built as requests and
urllib3 raise them (one raised while handling the other), so ``__context__`` is what it is live.
"""

import socket
import ssl
import subprocess
import sys

import pytest
import requests
import urllib3.exceptions
from test_import_layers import import_graph

from carto_credentials import _http, errors
from carto_credentials._http import Failure, classify_exception, classify_status
from carto_credentials.server import carto3, validate
from carto_credentials.server.errors import CredentialsError

KEY = "alice-demo-key-0001"
HOST = "carto.example"
KERNEL_URL = "https://carto.example/user/alice/api/v2/sql"
BASE_URL = "https://carto.example/user/alice/"
ELSEWHERE = "https://elsewhere.example/api/v3/me"
CONTRACT_CODES = {"bad_key", "unknown_user", "unreachable", "timeout", "not_carto", "server_error"}


# --- the cases -------------------------------------------------------------------------------

# status: (kind, kernel class, server code, server message)
STATUSES = {
    301: (
        Failure.REDIRECT,
        errors.CartoAPIError,
        "not_carto",
        "carto.example answered with a redirect (HTTP 301) to https://elsewhere.example/api/v3/me, "
        "which CARTO does not do: check the base URL, and use https.",
    ),
    400: (
        Failure.BAD_REQUEST,
        errors.QueryError,
        "server_error",
        "CARTO at carto.example answered HTTP 400.",
    ),
    401: (
        Failure.BAD_KEY,
        errors.AuthenticationError,
        "bad_key",
        "CARTO at carto.example rejected this API key (HTTP 401).",
    ),
    403: (
        Failure.BAD_KEY,
        errors.AuthenticationError,
        "bad_key",
        "CARTO at carto.example rejected this API key (HTTP 403).",
    ),
    404: (
        Failure.NOT_FOUND,
        errors.NotFoundError,
        "unknown_user",
        "CARTO at carto.example does not know this user (HTTP 404). Check the username or the "
        "base URL.",
    ),
    418: (
        Failure.OTHER,
        errors.CartoAPIError,
        "server_error",
        "CARTO at carto.example answered HTTP 418.",
    ),
    500: (
        Failure.SERVER_ERROR,
        errors.ServerError,
        "server_error",
        "CARTO at carto.example had an internal error (HTTP 500); try again later.",
    ),
    503: (
        Failure.SERVER_ERROR,
        errors.ServerError,
        "server_error",
        "CARTO at carto.example had an internal error (HTTP 503); try again later.",
    ),
}


def _raised(outer, inner):
    """``outer(inner)`` raised while handling ``inner``, as requests wraps urllib3's errors."""
    try:
        try:
            raise inner
        except Exception as caught:
            raise outer(caught)  # noqa: B904  (requests does not chain with ``from`` either)
    except Exception as err:
        return err


def _caused(outer, cause):
    """``outer`` raised ``from cause``, as urllib3 raises its errors over the socket's or ssl's."""
    try:
        try:
            raise cause
        except Exception as caught:
            raise outer from caught
    except Exception as err:
        return err


def _max_retry(reason):
    return urllib3.exceptions.MaxRetryError(None, "/user/alice/api/v3/me", reason=reason)


def _timeout():
    return requests.exceptions.Timeout("timed out")


def _connect_timeout():
    reason = urllib3.exceptions.ConnectTimeoutError(
        None, "Connection to carto.example timed out. (connect timeout=5)"
    )
    return _raised(requests.exceptions.ConnectTimeout, _max_retry(reason))


def _connect_timeout_from_the_socket():
    reason = _caused(
        urllib3.exceptions.ConnectTimeoutError(
            None, "Connection to carto.example timed out. (connect timeout=5)"
        ),
        TimeoutError("timed out"),
    )
    return _raised(requests.exceptions.ConnectTimeout, _max_retry(reason))


def _read_timeout_while_streaming():
    # requests' iter_content: ``except ReadTimeoutError as e: raise ConnectionError(e)``
    return _raised(
        requests.exceptions.ConnectionError,
        urllib3.exceptions.ReadTimeoutError(None, "/user/alice/api/v3/me", "Read timed out."),
    )


def _ssl_error():
    return _raised(
        requests.exceptions.SSLError,
        _max_retry(urllib3.exceptions.SSLError("certificate verify failed")),
    )


def _self_signed():
    verify = ssl.SSLCertVerificationError(
        1,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
        "(_ssl.c:1006)",
    )
    reason = _caused(urllib3.exceptions.SSLError(verify), verify)
    return _raised(requests.exceptions.SSLError, _max_retry(reason))


def _dns_failure():
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason = _caused(urllib3.exceptions.NameResolutionError(HOST, None, gaierror), gaierror)
    return _raised(requests.exceptions.ConnectionError, _max_retry(reason))


def _refused():
    return requests.exceptions.ConnectionError("Connection refused")


def _broken_answer():
    return requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")


# name: (make the exception, kind, server code, server message)
EXCEPTIONS = {
    "Timeout": (
        _timeout,
        Failure.TIMEOUT,
        "timeout",
        "carto.example did not answer within 5 seconds.",
    ),
    "ConnectTimeout": (
        _connect_timeout,
        Failure.TIMEOUT,
        "timeout",
        "carto.example did not answer within 5 seconds.",
    ),
    "ConnectionError(ReadTimeoutError)": (
        _read_timeout_while_streaming,
        Failure.TIMEOUT,
        "timeout",
        "carto.example did not answer within 5 seconds.",
    ),
    "SSLError": (
        _ssl_error,
        Failure.TLS,
        "unreachable",
        "Could not establish a secure connection to carto.example (TLS error).",
    ),
    "ConnectionError(NameResolutionError)": (
        _dns_failure,
        Failure.DNS,
        "unreachable",
        "The host carto.example was not found (DNS).",
    ),
    "ConnectionError": (
        _refused,
        Failure.REFUSED,
        "unreachable",
        "Could not connect to carto.example (connection refused or reset).",
    ),
    "ChunkedEncodingError": (
        _broken_answer,
        Failure.NETWORK,
        "unreachable",
        "Could not reach carto.example (ChunkedEncodingError).",
    ),
}
KERNEL_CLASS = {
    Failure.TIMEOUT: errors.CartoTimeoutError,
    Failure.TLS: errors.CartoNetworkError,
    Failure.DNS: errors.CartoNetworkError,
    Failure.REFUSED: errors.CartoNetworkError,
    Failure.NETWORK: errors.CartoNetworkError,
}


# --- the fakes at the edge -------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status):
        self.status_code = status
        self.headers = {"Location": ELSEWHERE}
        self.content = b'{"error": ["nope"]}'


class FakeSession:
    """A ``requests.Session`` stand-in: answers ``status`` or raises ``failure``."""

    def __init__(self, status=None, failure=None):
        self.status, self.failure = status, failure

    def request(self, method, url, **kwargs):
        if self.failure is not None:
            raise self.failure
        return FakeResponse(self.status)


def kernel_error(status=None, failure=None):
    session = FakeSession(status, failure)
    with pytest.raises(errors.CartoCredentialsError) as info:
        _http.request_json(
            "GET", KERNEL_URL, {"q": "SELECT 1"}, auth=("alice", KEY), timeout=5, session=session
        )
    return info.value


async def server_result(monkeypatch, status=None, failure=None):
    def fake_fetch(base_url, username, api_key, timeout, check_peer=True):
        if failure is not None:
            raise failure
        return status, {"Location": ELSEWHERE}, b'{"error": ["nope"]}'

    monkeypatch.setattr(validate, "_fetch_me", fake_fetch)
    return await validate.check_live(BASE_URL, KEY, timeout=5, allow_link_local=True)


def carto3_error(monkeypatch, failure):
    def fake_post(*args, **kwargs):
        raise failure

    monkeypatch.setattr(carto3.requests, "post", fake_post)
    with pytest.raises(CredentialsError) as info:
        carto3.request_token(
            "https://auth.carto.example/oauth/token", {"grant_type": "client_credentials"}, 5
        )
    return info.value


# --- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_a_status_has_one_kind(status):
    assert classify_status(status) is STATUSES[status][0]


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_success_is_no_failure(status):
    assert classify_status(status) is None


@pytest.mark.parametrize("status", sorted(STATUSES))
async def test_the_kernel_and_the_server_read_a_status_as_the_same_kind(monkeypatch, status):
    kind, kernel_class, code, message = STATUSES[status]

    err = kernel_error(status=status)
    assert type(err) is kernel_class is _http.KERNEL_FAILURES[kind][0]
    assert err.status == status and err.url == KERNEL_URL
    assert KEY not in str(err)

    result = await server_result(monkeypatch, status=status)
    assert result == {"ok": False, "code": code, "message": message}
    assert _http.KERNEL_FAILURES[kind][0] is kernel_class
    assert validate.LIVE_FAILURES[kind][0] == code


def test_the_kernel_messages_of_statuses_are_kept():
    assert str(kernel_error(status=301)) == (
        "The server at %s answered with a redirect (HTTP 301) to %s: check the base URL, and use "
        "https." % (KERNEL_URL, ELSEWHERE)
    )
    assert str(kernel_error(status=403)) == (
        "CARTO rejected the API key (HTTP 403) at %s: nope. Check the key, or log in again in the "
        "CARTO panel." % KERNEL_URL
    )
    assert str(kernel_error(status=418)) == "CARTO answered HTTP 418 at %s: nope." % KERNEL_URL
    assert kernel_error(status=418).carto_errors == ["nope"]
    assert kernel_error(status=301).carto_errors == []


# --- exceptions ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_an_exception_has_one_kind(name):
    make, kind, _, _ = EXCEPTIONS[name]
    assert classify_exception(make()) is kind


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
async def test_the_kernel_and_the_server_read_an_exception_as_the_same_kind(monkeypatch, name):
    make, kind, code, message = EXCEPTIONS[name]

    err = kernel_error(failure=make())
    assert type(err) is KERNEL_CLASS[kind] is _http.KERNEL_FAILURES[kind][0]
    assert err.__cause__ is None and err.__suppress_context__

    result = await server_result(monkeypatch, failure=make())
    assert result == {"ok": False, "code": code, "message": message}
    assert validate.LIVE_FAILURES[kind][0] == code

    # carto3's calls (token endpoint, discovery) fail the request with the same code and message.
    refused = carto3_error(monkeypatch, make())
    assert (refused.code, refused.message) == (
        code,
        message.replace("carto.example", "auth.carto.example"),
    )
    assert refused.status == validate.FAILURE_STATUS[code]


def test_the_kernel_says_what_kind_of_network_failure_it_was():
    # The server always told TLS, DNS and a refused connection apart; the kernel now does too.
    tls = str(kernel_error(failure=_ssl_error()))
    assert tls.startswith("Could not reach CARTO at %s: no secure connection" % KERNEL_URL)
    assert "TLS error" in tls and "certificate verify failed" in tls
    dns = str(kernel_error(failure=_dns_failure()))
    assert dns.startswith(
        "Could not reach CARTO at %s: the host carto.example was not found" % KERNEL_URL
    )
    assert "(DNS: " in dns
    refused = str(kernel_error(failure=_refused()))
    assert refused == (
        "Could not reach CARTO at %s: the connection was refused or reset (Connection refused). "
        "Check the base URL and your network." % KERNEL_URL
    )
    assert str(kernel_error(failure=_timeout())) == (
        "CARTO did not answer in time at %s (timed out). Try again in a moment; if it keeps "
        "happening, check your network and CARTO's status." % KERNEL_URL
    )


@pytest.mark.parametrize(
    "make_failure, innermost",
    [
        (_dns_failure, "(DNS: Name or service not known)"),
        (
            _self_signed,
            "(TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate)",
        ),
        (_connect_timeout, "(Connection to carto.example timed out. (connect timeout=5))"),
        (_connect_timeout_from_the_socket, "(timed out)"),
    ],
)
def test_a_kernel_network_message_gives_the_innermost_reason_not_urllib3s_wrappers(
    make_failure, innermost
):
    message = str(kernel_error(failure=make_failure()))
    assert innermost in message
    for wrapper in ("ConnectionPool", "Max retries", "Caused by", "_ssl.c", "Error("):
        assert wrapper not in message


def test_a_refused_connection_reads_as_the_operating_system_says_it():
    # A real request to a closed loopback port: requests' and urllib3's own chain of wrappers.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = "https://127.0.0.1:%d/api/v2/sql" % port
    with pytest.raises(errors.CartoNetworkError) as info:
        _http.request_json("GET", url, {"q": "SELECT 1"}, auth=("alice", KEY), timeout=5)
    assert str(info.value) == (
        "Could not reach CARTO at %s: the connection was refused or reset (Connection refused). "
        "Check the base URL and your network." % url
    )


@pytest.mark.parametrize(
    "failure, kind",
    [
        (ConnectionRefusedError(111, "Connection refused"), Failure.REFUSED),
        (socket.timeout("timed out"), Failure.TIMEOUT),
        (ValueError("a user's session failed"), Failure.NETWORK),
    ],
)
def test_other_sessions_exceptions_are_classified_too(failure, kind):
    assert classify_exception(failure) is kind
    assert type(kernel_error(failure=failure)) is KERNEL_CLASS[kind]


def test_a_network_message_never_holds_the_key():
    err = kernel_error(failure=requests.exceptions.ConnectionError("refused for " + KEY))
    assert KEY not in str(err) and "refused for ***" in str(err)


# --- the tables ------------------------------------------------------------------------------


def test_each_side_has_one_row_for_every_kind():
    assert set(_http.KERNEL_FAILURES) == set(Failure) == set(validate.LIVE_FAILURES)
    for cls, _ in _http.KERNEL_FAILURES.values():
        assert issubclass(cls, errors.CartoCredentialsError)
    for code, _ in validate.LIVE_FAILURES.values():
        assert code in CONTRACT_CODES


def test_the_classification_is_on_the_kernel_side_and_cheap():
    graph = import_graph()
    assert not {m for m in graph["carto_credentials._http"] if ".server" in m}
    assert "carto_credentials._http" in graph["carto_credentials.server.validate"]
    probe = "import sys, carto_credentials._http; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
