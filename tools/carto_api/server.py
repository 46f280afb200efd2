"""HTTP front of the local CARTO-compatible API (standard library only).

Routes are served both at the cloud-style root (the user is the owner of ``api_key``) and under
the on-premises prefix ``/user/{name}/``. README.md lists the endpoints, accounts and test hooks.
"""

import base64
import binascii
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import carto3, catalog, data, sql, sql_api

_USER_PREFIX = re.compile(r"^/user/(?P<name>[^/]+)(?P<rest>/.*)?$")
# Stands for the key of a malformed Basic header: no user has it, so the answer is 401.
_BAD_BASIC_KEY = "\x00malformed-basic-auth"
# Keys, and CARTO 3's login codes, tokens, secrets and verifiers (carto3.py), never reach a log line.
_KEY_IN_TEXT = re.compile(
    r"((?:api_key|map_key|code|code_verifier|client_secret|access_token|token|password)=)[^&\s]*"
)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Requested-With",
    "Access-Control-Max-Age": "600",
}

DEFAULT_SLOW_SECONDS = 5.0


def redact(text):
    """The text with every ``api_key=`` (and ``code=``, ``access_token=``…) value replaced, for
    log lines."""
    return _KEY_IN_TEXT.sub(r"\1***", text)


class _HttpError(Exception):
    def __init__(self, status, body, content_type="application/json; charset=utf-8"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


def _sql_error(status, message):
    return _HttpError(status, {"error": [message]})


def _api_error(status, message):
    # The Rails-side APIs (/api/v3/me, /api/v4/do) answer with "errors", the SQL API with "error".
    return _HttpError(status, {"errors": [message]})


def _user_not_found(name):
    return (
        "Sorry, we can't find CARTO user '%s'. Please check that you have entered the correct domain."
        % name
    )


class CartoApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalCartoAPI/1"

    # --- plumbing -------------------------------------------------------------------------

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), redact(fmt % args)))

    def _send(self, status, body, content_type="application/json; charset=utf-8", headers=None):
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = body or b""
        self.send_response(status)
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _params(self):
        """The request's parameters (query, then body) and where the key came from.

        The key may come, as CARTO accepts it, from an HTTP Basic ``Authorization`` header
        (user name + key; it wins over the other forms), the query string or the body.
        """
        params = {
            k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()
        }
        key_in = "query" if params.get("api_key") else None
        self.raw_body, self.json_body = b"", None
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            if (self.headers.get("Transfer-Encoding") or "").strip().lower() == "chunked":
                try:
                    raw = sql_api.read_chunked(self.rfile)  # COPY FROM streams its data chunked
                except sql.SqlError as err:
                    self.close_connection = True
                    raise _sql_error(400, str(err)) from None
            else:
                raw = self.rfile.read(length) if length else b""
            self.raw_body = raw
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "application/octet-stream":
                pass  # data (COPY FROM), not parameters
            elif raw and ctype == "application/json":
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise _sql_error(400, "Invalid JSON body") from None
                if not isinstance(body, dict):
                    raise _sql_error(400, "Invalid JSON body")
                self.json_body = body  # Batch SQL jobs take a list of queries too
                params.update({k: v for k, v in body.items() if isinstance(v, str)})
            elif raw:
                params.update(
                    {
                        k: v[-1]
                        for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()
                    }
                )
            if params.get("api_key") and key_in is None:
                key_in = "body"
        self.basic_user = None
        basic = self._basic_auth()
        if basic is not None:
            self.basic_user, params["api_key"] = basic
            key_in = "header"
        return params, key_in

    def _basic_auth(self):
        """``(user name, key)`` of an HTTP Basic ``Authorization`` header, or None.

        A malformed header gives a key no user has, so the answer is CARTO's 401.
        """
        scheme, _, value = (self.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", _BAD_BASIC_KEY
        user, colon, key = decoded.partition(":")
        return (user, key) if colon else ("", _BAD_BASIC_KEY)

    def do_OPTIONS(self):
        self._send(204, b"")

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    # --- routing --------------------------------------------------------------------------

    def _dispatch(self):
        path = urlsplit(self.path).path
        m = _USER_PREFIX.match(path)
        user_name, rest = (m.group("name"), m.group("rest") or "/") if m else (None, path)
        route = rest.rstrip("/")
        try:
            params, key_in = self._params()
            self.server.record(self.command, path, user_name, params, key_in)
            if user_name is None and carto3.handles(route or "/"):
                carto3.handle(self, route, params)
            elif route == "/api/v3/me":
                self._me(user_name, params)
            elif route == "/api/v2/sql":
                self._sql(user_name, params)
            elif route in sql_api.ROUTES or route.startswith(sql_api.JOB_ROUTE + "/"):
                self._sql_api(route, user_name, params)
            elif route in ("/api/v4/do/token", "/api/v4/do/token/token"):
                self._do_token(user_name, params)
            elif route == "" and self.command == "GET":
                self._send(
                    200, {"service": "local CARTO-compatible API", "users": sorted(data.USERS)}
                )
            else:
                raise _api_error(404, "Not found: %s" % rest)
        except _HttpError as err:
            self._send(err.status, err.body, err.content_type)
        except carto3.HttpError as err:
            self._send(err.status, err.body, err.content_type, err.headers)

    def _resolve(self, user_name, params, error):
        """(user, level) with level "owner" or "public", applying the test hooks."""
        key = params.get("api_key") or params.get("map_key") or None
        if user_name is not None:
            user = data.USERS.get(user_name)
            if user is None:
                raise error(404, _user_not_found(user_name))
        else:
            user = data.USERS_BY_KEY.get(key)
            if user is None:
                # At the root the user can only come from the key.
                raise error(401, "Unauthorized")
        # A Basic user name, when given, must name the user the path (or the key) designates.
        if self.basic_user and self.basic_user != user["username"]:
            raise error(401, "Unauthorized")
        self._apply_hooks(user["username"])
        if key is None or key == data.PUBLIC_KEY:
            return user, "public"
        if key == user["api_key"]:
            return user, "owner"
        if key in data.USERS_BY_KEY:
            raise error(403, "permission denied")
        raise error(401, "Unauthorized")

    def _apply_hooks(self, username):
        if username == data.SLOW_USER:
            # Interruptible, so that stopping the server never waits for a sleeping request.
            self.server.stopping.wait(self.server.slow_seconds)
        elif username == data.HTML_USER:
            raise _HttpError(
                200,
                "<!DOCTYPE html><html><head><title>Teapot</title></head>"
                "<body><h1>I am a teapot, not a CARTO server</h1></body></html>",
                "text/html; charset=utf-8",
            )
        elif username == data.BROKEN_USER:
            raise _HttpError(
                500,
                "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>",
                "text/html; charset=utf-8",
            )

    # --- endpoints ------------------------------------------------------------------------

    def _origin(self):
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return "http://%s" % host

    def _me(self, user_name, params):
        user, level = self._resolve(user_name, params, _api_error)
        base_url = "%s/user/%s" % (self._origin(), user["username"])
        user_data = {
            "id": user["id"],
            "username": user["username"],
            "name": user["username"].capitalize(),
            "base_url": base_url,
            "avatar_url": "%s/avatars/%s.png" % (self._origin(), user["username"]),
        }
        if level == "owner":
            user_data.update(
                {
                    "email": user["email"],
                    "account_type": "Enterprise",
                    "quota_in_bytes": 1073741824,
                    "remaining_byte_quota": 1073741824 - 52428800,
                    "db_size_in_bytes": 52428800,
                    "table_count": len(user["tables"]),
                    "org_admin": False,
                    "organization": None,
                    "do_enabled": user["do_enabled"],
                }
            )
        self._send(
            200,
            {
                "config": {
                    "maps_api_url": base_url,
                    "sql_api_url": base_url,
                    "local_carto_api": True,
                },
                "user_data": user_data,
            },
        )

    def _sql(self, user_name, params):
        started = time.monotonic()
        user, level = self._resolve(user_name, params, _sql_error)
        query = params.get("q")
        try:
            result = sql.run(query, user, level == "owner", self.server.catalog)
        except sql.SqlError as err:
            raise _sql_error(err.status, str(err)) from None
        fmt = (params.get("format") or "json").lower()
        if fmt == "geojson":
            self._send(200, sql.as_geojson(result), "application/json; charset=utf-8")
        elif fmt == "json":
            self._send(200, sql.as_json(result, started))
        else:
            raise _sql_error(400, "Invalid format: %s" % fmt)

    def _sql_api(self, route, user_name, params):
        """copyto, copyfrom and Batch SQL jobs (sql_api.py)."""
        user, level = self._resolve(user_name, params, _sql_error)
        try:
            sql_api.handle(self, route, user, level == "owner", params)
        except sql.SqlError as err:
            raise _sql_error(err.status, str(err)) from None

    def _do_token(self, user_name, params):
        user, level = self._resolve(user_name, params, _api_error)
        if level != "owner":
            raise _api_error(401, "Unauthorized")
        if not user["do_enabled"]:
            # The exact text cartoframes turns into its DOError.
            raise _api_error(500, "The user does not have Data Observatory enabled")
        self._send(
            200,
            {
                "access_token": "do-token-%s" % user["username"],
                "bq_public_project": "carto-do-public-data",
                "gcp_execution_project": "carto-do-customers",
                "bq_project": "carto-do-customers",
                "bq_dataset": "dataset_%s" % user["username"],
                "gcs_bucket": "carto-do-bucket-%s" % user["username"],
                "instant_licensing": False,
            },
        )


class CartoApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops connects beyond it (the client retries after 1 s),
    # which a map or 20 parallel logins easily exceed.
    request_queue_size = 128

    def __init__(
        self,
        address,
        slow_seconds=DEFAULT_SLOW_SECONDS,
        quiet=True,
        oauth_token_lifetime=None,
        m2m_token_lifetime=None,
    ):
        super().__init__(address, CartoApiHandler)
        # CARTO 3 logins: codes and tokens this server issued (carto3.py).
        self.carto3 = carto3.Carto3State(oauth_token_lifetime, m2m_token_lifetime)
        self.slow_seconds = slow_seconds
        self.quiet = quiet
        self.stopping = threading.Event()
        # The users' tables (demo tables copied on first use, uploads) and Batch SQL jobs.
        self.catalog = catalog.Catalog()
        self.jobs = {}
        self._thread = None
        self._lock = threading.Lock()
        # What was asked, without keys: lets tests check which URL a client really called.
        self.requests = []

    def record(self, method, path, user_name, params, key_in=None):
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "user": user_name,
                    "has_key": bool(params.get("api_key")),
                    # "header" (HTTP Basic), "query", "body" or None.
                    "key_in": key_in,
                    "q": params.get("q"),
                }
            )

    @property
    def base_url(self):
        host, port = self.server_address[:2]
        return "http://%s:%d/" % (host, port)

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="carto-api", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)


def start_server(
    host="127.0.0.1", port=0, slow_seconds=DEFAULT_SLOW_SECONDS, quiet=True, **lifetimes
):
    """Start the API in a background thread; returns ``(server, base_url)``.

    ``lifetimes``: ``oauth_token_lifetime``, ``m2m_token_lifetime`` (seconds) of CARTO 3 tokens.
    """
    server = CartoApiServer(
        (host, port), slow_seconds=slow_seconds, quiet=quiet, **lifetimes
    ).start()
    return server, server.base_url


def stop(server):
    server.stop()
