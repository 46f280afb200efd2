"""``sql()``: CARTO's SQL API with the shared credentials, and its errors (never with the key)."""

import pytest
from _carto_helpers import KEY, carto, isolated  # noqa: F401 (fixtures)

from carto_credentials import (
    AuthenticationError,
    CartoAPIError,
    CartoCredentialsError,
    CartoNetworkError,
    CartoTimeoutError,
    Credentials,
    NoCredentialsError,
    NotFoundError,
    QueryError,
    ServerError,
    _http,
    set_default_credentials,
    sql,
)

pytestmark = pytest.mark.usefixtures("isolated")

ANSWER = {
    "rows": [{"cartodb_id": 1, "name": "a"}, {"cartodb_id": 2, "name": "b"}],
    "fields": {"cartodb_id": {"type": "number"}, "name": {"type": "string"}},
    "total_rows": 2,
    "time": 0.001,
}


def _creds(carto, key=KEY, prefix=""):
    return Credentials(base_url=carto.url + prefix, api_key=key, allow_non_secure=True)


def test_returns_rows_with_fields_and_total_rows_using_explicit_credentials(carto):
    carto.route("/user/u/api/v2/sql", payload=ANSWER)
    rows = sql("SELECT * FROM t", _creds(carto, prefix="/user/u/"))
    assert rows == ANSWER["rows"]
    assert rows.fields == ANSWER["fields"] and rows.total_rows == 2
    request = carto.requests[-1]
    assert request["method"] == "GET" and request["path"] == "/user/u/api/v2/sql"
    # The key travels in the Basic header only, never in the URL.
    assert request["params"] == {"q": "SELECT * FROM t"} and KEY not in request["raw_query"]
    assert request["basic"] == ("", KEY)


def test_uses_the_default_credentials(carto):
    carto.route("/api/v2/sql", payload=ANSWER)
    set_default_credentials(carto.url, "code-key", allow_non_secure=True)
    assert len(sql("SELECT 1")) == 2
    assert carto.requests[-1]["basic"] == ("", "code-key")
    assert "api_key" not in carto.requests[-1]["params"]


def test_long_queries_are_posted_form_encoded(carto):
    carto.route("/api/v2/sql", payload=ANSWER, method="POST")
    query = "SELECT '" + "x" * 3000 + "'"
    assert sql(query, _creds(carto)) == ANSWER["rows"]
    request = carto.requests[-1]
    assert request["method"] == "POST" and request["raw_query"] == ""
    assert request["params"] == {"q": query} and request["basic"] == ("", KEY)


def test_no_credentials_says_how_to_log_in():
    with pytest.raises(NoCredentialsError) as info:
        sql("SELECT 1")
    assert "CARTO panel" in str(info.value) and "set_default_credentials" in str(info.value)


def test_empty_query_is_refused():
    with pytest.raises(ValueError, match="non-empty SQL"):
        sql("  ", Credentials("u"))


@pytest.mark.parametrize(
    "status,payload,cls,needle",
    [
        (401, {"error": ["Unauthorized"]}, AuthenticationError, "rejected the API key"),
        (
            403,
            {"error": ["permission denied for table t"]},
            AuthenticationError,
            "permission denied for table t",
        ),
        (404, {"error": ["user not found"]}, NotFoundError, "user not found"),
        (
            400,
            {"error": ['relation "nope" does not exist']},
            QueryError,
            'relation "nope" does not exist',
        ),
        (500, {"error": ["boom"]}, ServerError, "HTTP 500"),
        (200, b"<html>captive portal</html>", CartoAPIError, "not CARTO's JSON"),
        (200, {"unexpected": 1}, CartoAPIError, "no `rows`"),
    ],
)
def test_http_errors_map_to_classes_with_carto_text_and_no_key(carto, status, payload, cls, needle):
    carto.route("/api/v2/sql", status=status, payload=payload)
    with pytest.raises(cls) as info:
        sql("SELECT * FROM nope", _creds(carto))
    message = str(info.value)
    assert needle in message
    assert KEY not in message and KEY not in repr(info.value)
    assert isinstance(info.value, CartoCredentialsError)
    if status >= 400:
        assert info.value.status == status
        assert info.value.url == carto.url + "/api/v2/sql"


def test_carto_error_text_echoing_the_key_is_scrubbed(carto):
    carto.route("/api/v2/sql", status=401, payload={"error": ["bad key " + KEY]})
    with pytest.raises(AuthenticationError) as info:
        sql("SELECT 1", _creds(carto))
    assert KEY not in str(info.value) and "bad key ***" in str(info.value)
    assert info.value.carto_errors == ["bad key ***"]


def test_network_failure_is_a_connection_error_without_key():
    creds = Credentials(base_url="http://127.0.0.1:9", api_key=KEY, allow_non_secure=True)
    with pytest.raises(CartoNetworkError) as info:
        sql("SELECT 1", creds)
    assert isinstance(info.value, ConnectionError)
    assert "Could not reach CARTO at http://127.0.0.1:9/api/v2/sql:" in str(info.value)
    assert KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_timeout_is_reported_as_such(carto):
    carto.route("/api/v2/sql", payload=ANSWER, delay=1.0)
    with pytest.raises(CartoTimeoutError) as info:
        sql("SELECT 1", _creds(carto), timeout=0.2)
    assert isinstance(info.value, TimeoutError) and KEY not in str(info.value)


def test_the_username_goes_in_the_basic_header_with_the_key(carto):
    carto.route("/api/v2/sql", payload=ANSWER)
    sql("SELECT 1", Credentials("alice", KEY, base_url=carto.url, allow_non_secure=True))
    assert carto.requests[-1]["basic"] == ("alice", KEY)


def test_public_credentials_send_default_public_and_no_key_sends_no_header(carto):
    carto.route("/api/v2/sql", payload=ANSWER)
    sql("SELECT 1", Credentials(base_url=carto.url, allow_non_secure=True))
    assert carto.requests[-1]["basic"] == ("", "default_public")
    sql("SELECT 1", Credentials(base_url=carto.url, api_key=None, allow_non_secure=True))
    assert carto.requests[-1]["basic"] is None


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_reported_and_never_followed_with_the_key(carto, status):
    carto.route("/api/v2/sql", payload=ANSWER)  # where the redirect points: must not be asked
    carto.route(
        "/user/u/api/v2/sql",
        status=status,
        headers={"Location": carto.url + "/api/v2/sql?next=" + KEY},
    )
    with pytest.raises(CartoAPIError) as info:
        sql("SELECT 1", _creds(carto, prefix="/user/u/"))
    assert [r["path"] for r in carto.requests] == ["/user/u/api/v2/sql"]
    message = str(info.value)
    assert f"answered with a redirect (HTTP {status}) to {carto.url}/api/v2/sql:" in message
    assert "check the base URL, and use https" in message
    assert KEY not in message and info.value.status == status


def test_a_redirect_whose_target_holds_the_key_is_not_shown(carto):
    carto.route("/api/v2/sql", status=302, headers={"Location": "https://evil.example/" + KEY})
    with pytest.raises(CartoAPIError) as info:
        sql("SELECT 1", _creds(carto))
    assert "redirect (HTTP 302) to another address" in str(info.value)
    assert KEY not in str(info.value)


def test_a_user_requests_session_is_used_without_redirects(carto):
    import requests

    class Counting(requests.Session):
        calls = []

        def request(self, method, url, **kwargs):
            self.calls.append(kwargs["allow_redirects"])
            return super().request(method, url, **kwargs)

    carto.route("/api/v2/sql", payload=ANSWER)
    creds = _creds(carto)
    creds.session = Counting()
    assert len(sql("SELECT 1", creds)) == 2
    assert Counting.calls == [False] and carto.requests[-1]["basic"] == ("", KEY)


def test_session_errors_are_classified_and_scrubbed():
    class Timeout(Exception):
        pass

    class Session:
        def __init__(self, exc):
            self.exc = exc

        def request(self, method, url, **kwargs):
            raise self.exc

    leaky = "HTTPSConnectionPool: Max retries exceeded with url: /api/v2/sql?api_key=" + KEY
    creds = Credentials("u", KEY, session=Session(Timeout(leaky)))
    with pytest.raises(CartoTimeoutError) as info:
        sql("SELECT 1", creds)
    assert KEY not in str(info.value)
    creds.session = Session(OSError(leaky))
    with pytest.raises(CartoNetworkError) as info:
        sql("SELECT 1", creds)
    assert KEY not in str(info.value)


def test_redact_url_and_scrub():
    assert _http.redact_url("https://h/api?q=1&api_key=" + KEY) == "https://h/api?q=1&api_key=***"
    assert _http.redact_url("https://h/api") == "https://h/api"
    assert _http.scrub("x " + KEY.upper() + " " + KEY, KEY) == "x " + KEY.upper() + " ***"
    assert _http.scrub("default_public", "default_public") == "default_public"


# -- against the local CARTO-compatible API (tools/carto_api) -----------------------------------


def test_the_local_carto_api_accepts_the_key_in_the_basic_header(carto_api):
    server, base_url = carto_api
    onprem = Credentials(
        "alice", "alice-demo-key-0001", base_url=base_url + "user/alice", allow_non_secure=True
    )
    rows = sql("SELECT * FROM alice_customers", onprem)  # a private table: needs the key
    assert [r["name"] for r in rows] == ["Customer A", "Customer B", "Customer C"]
    cloud = Credentials(base_url=base_url, api_key="alice-demo-key-0001", allow_non_secure=True)
    assert len(sql("SELECT * FROM alice_customers", cloud)) == 3
    assert cloud.me_data["user_data"]["username"] == "alice"
    asked = [r for r in server.requests if r["q"] == "SELECT * FROM alice_customers"][-2:]
    assert [r["key_in"] for r in asked] == ["header", "header"]
    with pytest.raises(AuthenticationError):
        sql(
            "SELECT * FROM alice_customers",
            Credentials("alice", "wrong", base_url=base_url + "user/alice", allow_non_secure=True),
        )
