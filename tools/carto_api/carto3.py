"""CARTO 3 on the local API: the Auth0-style login (``/authorize``, ``/oauth/token``), discovery
(``/accounts``, ``/config.yaml``) and the ``/v3`` APIs carto-auth 0.2.0 calls.

What carto-auth does (``/work/shared/reference/cartoframes-auth.md`` §3) decides the shapes:
``POST /oauth/token`` is form-encoded and answers ``access_token``, ``token_type``, ``expires_in``;
auth errors are Auth0's ``{"error", "error_description"}``; the ``/v3`` APIs answer CARTO's
``{"error": message, "status": code}``. Codes, tokens, secrets and verifiers never reach a log line
(server.redact) nor an error text. The state lives on the server (``server.carto3``), so every
request thread sees the same codes and tokens; ``clock`` may be replaced by a test.
"""

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit

from . import data, maps, sql

AUDIENCE = "carto-cloud-native-api"
# carto-auth's CLIENT_ID is CARTO's; this server's public (PKCE, no secret) client stands for it.
PUBLIC_CLIENT_ID = "local-carto-auth-public-client"
# The client an administrator registers for JupyterLab's redirect flow.
JUPYTERLAB_CLIENT_ID = "jupyterlab-local"
CALLBACK_SUFFIX = "/carto-credentials/oauth/callback"
PUBLIC_REDIRECT_PATH = "/auth/token"
KNOWN_ORGANIZATIONS = ("org-demo",)
PASSWORDS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}
# Machine-to-machine clients (CARTO Workspace → Developers → Credentials → M2M), one per user.
M2M_CLIENTS = {
    "alice-m2m-client-0001": {"secret": "alice-m2m-demo-secret-0001", "user": "alice"},
    "bob-m2m-client-0002": {"secret": "bob-m2m-demo-secret-0002", "user": "bob"},
}
ALICE_M2M_CLIENT_ID = "alice-m2m-client-0001"
BOB_M2M_CLIENT_ID = "bob-m2m-client-0002"

DEFAULT_OAUTH_TOKEN_LIFETIME = 86400
DEFAULT_M2M_TOKEN_LIFETIME = 3600
CODE_LIFETIME = 60
CONNECTIONS = ("carto_dw", "carto-dw")

_SQL_ROUTE = re.compile(r"^/v3/sql/(?P<connection>[^/]+)/query$")
_LOOPBACK_CALLBACK = re.compile(
    r"^http://(?:127\.0\.0\.1|localhost)(?::\d{1,5})?/(?:[^?#]*/)?"
    + re.escape(CALLBACK_SUFFIX.lstrip("/"))
    + r"$"
)
ROUTES = (
    "/authorize",
    PUBLIC_REDIRECT_PATH,
    "/oauth/token",
    "/accounts",
    "/config.yaml",
    "/v3/connections/carto-dw/token",
)


def handles(route):
    return route in ROUTES or bool(_SQL_ROUTE.match(route)) or maps.handles(route)


class HttpError(Exception):
    """An answer other than 200; ``server.py`` turns it into its own error type."""

    def __init__(self, status, body, content_type="application/json; charset=utf-8", headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _auth_error(status, error, description):
    return HttpError(status, {"error": error, "error_description": description})


def _v3_error(status, message):
    return HttpError(status, {"error": message, "status": status})


def challenge_of(verifier):
    """RFC 7636 S256: base64url(SHA-256(verifier)) without ``=``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class Carto3State:
    """Codes and tokens issued by this server (in memory, lost at restart like a real login)."""

    def __init__(self, oauth_token_lifetime=None, m2m_token_lifetime=None, clock=time.time):
        self.oauth_token_lifetime = oauth_token_lifetime or DEFAULT_OAUTH_TOKEN_LIFETIME
        self.m2m_token_lifetime = m2m_token_lifetime or DEFAULT_M2M_TOKEN_LIFETIME
        self.code_lifetime = CODE_LIFETIME
        self.clock = clock
        self._codes = {}
        self._tokens = {}
        self._lock = threading.Lock()

    def issue_code(self, **grant):
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = dict(grant, expires_at=self.clock() + self.code_lifetime)
        return code

    def take_code(self, code):
        """The grant of ``code``, removed (one use), or None; an expired one gives ``"expired"``."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None:
            return None
        return "expired" if self.clock() >= grant["expires_at"] else grant

    def issue_token(self, username, lifetime, kind):
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = {
                "user": username,
                "kind": kind,
                "expires_at": self.clock() + lifetime,
            }
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}

    def token_user(self, token):
        """``(user, None)`` or ``(None, "missing" | "invalid" | "expired")``."""
        if not token:
            return None, "missing"
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return None, "invalid"
        if self.clock() >= entry["expires_at"]:
            return None, "expired"
        return data.USERS[entry["user"]], None


# --- request plumbing --------------------------------------------------------------------------


def handle(handler, route, params):
    state = handler.server.carto3
    if route == "/authorize":
        _authorize(handler, state, params)
    elif route == PUBLIC_REDIRECT_PATH:
        _code_page(handler, params)
    elif route == "/oauth/token":
        _token(handler, state, params)
    elif route == "/accounts":
        _accounts(handler, state)
    elif route == "/config.yaml":
        _config(handler)
    elif route == "/v3/connections/carto-dw/token":
        _dw_token(handler, state)
    elif maps.handles(route):
        maps.handle(handler, state, route, params)  # the Maps API (maps.py)
    else:
        _sql(handler, state, _SQL_ROUTE.match(route).group("connection"), params)


def _bearer(handler):
    scheme, _, value = (handler.headers.get("Authorization") or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _v3_user(handler, state):
    user, why = state.token_user(_bearer(handler))
    if user is None:
        raise _v3_error(
            401,
            {
                "missing": "Unauthorized: no access token",
                "invalid": "Unauthorized: invalid token",
                "expired": "Unauthorized: jwt expired",
            }[why],
        )
    return user


# --- pages --------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}}
label{{display:block;margin-top:1rem}}input{{display:block;width:100%;padding:.4rem;font-size:1rem}}
button{{margin-top:1.2rem;padding:.5rem 1.2rem;font-size:1rem}}
[role=alert]{{border:1px solid #b00020;padding:.5rem;margin-top:1rem}}</style>
</head><body><main>{body}</main></body></html>"""


def _page(handler, status, title, body):
    handler._send(
        status,
        _PAGE.format(title=html.escape(title), body=body),
        "text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _error_page(handler, status, message):
    _page(
        handler,
        status,
        "Login error",
        '<h1>Login error</h1><p role="alert">%s</p>' % html.escape(message),
    )


def _client_redirect_ok(handler, client_id, redirect_uri):
    if client_id == PUBLIC_CLIENT_ID:
        return redirect_uri == handler._origin() + PUBLIC_REDIRECT_PATH
    if client_id == JUPYTERLAB_CLIENT_ID:
        return bool(_LOOPBACK_CALLBACK.match(redirect_uri or ""))
    return False


_AUTHORIZE_FIELDS = (
    "client_id",
    "response_type",
    "audience",
    "redirect_uri",
    "code_challenge_method",
    "code_challenge",
    "state",
    "organization",
    "scope",
)


def _authorize(handler, state, params):
    client_id = params.get("client_id") or ""
    redirect_uri = params.get("redirect_uri") or ""
    if client_id not in (PUBLIC_CLIENT_ID, JUPYTERLAB_CLIENT_ID):
        _error_page(handler, 400, "Unknown client: this application is not registered.")
        return
    if not _client_redirect_ok(handler, client_id, redirect_uri):
        # Never redirect to an address the client did not register (an open redirect).
        _error_page(
            handler,
            400,
            "The redirect_uri is not an allowed callback URL of this application.",
        )
        return
    org = params.get("organization")
    if org and org not in KNOWN_ORGANIZATIONS:
        _error_page(handler, 400, "Unknown organization: %s" % org)
        return
    if params.get("response_type") != "code":
        _error_page(handler, 400, "Unsupported response_type: only 'code' is supported.")
        return
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        _error_page(
            handler, 400, "A PKCE code_challenge with code_challenge_method=S256 is required."
        )
        return
    if params.get("audience") not in (None, "", AUDIENCE):
        _error_page(handler, 400, "Service not found: %s" % params.get("audience"))
        return
    if handler.command == "GET":
        _login_form(handler, params, 200)
        return
    username = params.get("username") or ""
    if params.get("action") == "cancel":
        _redirect(handler, redirect_uri, {"error": "access_denied", "state": params.get("state")})
        return
    password = params.get("password") or ""
    expected = PASSWORDS.get(username)
    if expected is None or not secrets.compare_digest(expected, password):
        _login_form(handler, params, 401, "Wrong username or password.")
        return
    code = state.issue_code(
        client_id=client_id,
        redirect_uri=redirect_uri,
        challenge=params["code_challenge"],
        user=username,
        org=org or None,
    )
    _redirect(handler, redirect_uri, {"code": code, "state": params.get("state")})


def _redirect(handler, redirect_uri, query):
    query = {k: v for k, v in query.items() if v is not None}
    sep = "&" if urlsplit(redirect_uri).query else "?"
    handler._send(
        302,
        b"",
        headers={"Location": redirect_uri + sep + urlencode(query), "Cache-Control": "no-store"},
    )


def _login_form(handler, params, status, error=None):
    hidden = "".join(
        '<input type="hidden" name="%s" value="%s">' % (name, html.escape(params[name]))
        for name in _AUTHORIZE_FIELDS
        if params.get(name)
    )
    alert = '<p role="alert" id="login-error">%s</p>' % html.escape(error) if error else ""
    described = ' aria-describedby="login-error"' if error else ""
    org = params.get("organization")
    subtitle = "<p>Organization: %s</p>" % html.escape(org) if org else ""
    body = (
        "<h1>Log in to CARTO (local)</h1>%s%s"
        '<form method="post" action="/authorize">%s'
        '<label for="username">Username</label>'
        '<input id="username" name="username" autocomplete="username" required%s value="%s">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password"'
        " required%s>"
        '<button type="submit" name="action" value="login">Log in</button> '
        '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>'
        "</form><p>Demo users: alice / alice-demo-password, bob / bob-demo-password.</p>"
    ) % (
        subtitle,
        alert,
        hidden,
        described,
        html.escape(params.get("username") or ""),
        described,
    )
    _page(handler, status, "Log in to CARTO", body)


def _code_page(handler, params):
    """CARTO's ``/auth/token`` page: the code to paste back into the notebook (or JupyterLab)."""
    if params.get("error"):
        _error_page(handler, 400, "The login was not completed (%s)." % params["error"])
        return
    code = params.get("code") or ""
    if not code:
        _error_page(handler, 400, "No code: start the login again.")
        return
    _page(
        handler,
        200,
        "Your CARTO code",
        "<h1>Logged in</h1>"
        '<label for="code">Copy this code and paste it where the login started</label>'
        '<input id="code" readonly value="%s">' % html.escape(code),
    )


# --- token endpoint -----------------------------------------------------------------------------


def _token(handler, state, params):
    if handler.command != "POST":
        raise HttpError(404, {"error": "Not found", "error_description": "POST /oauth/token"})
    grant_type = params.get("grant_type")
    if grant_type == "authorization_code":
        answer = _authorization_code(handler, state, params)
    elif grant_type == "client_credentials":
        answer = _client_credentials(state, params)
    elif not grant_type:
        raise _auth_error(400, "invalid_request", "Missing required parameter: grant_type")
    else:
        raise _auth_error(400, "unsupported_grant_type", "Unsupported grant type: %s" % grant_type)
    handler._send(200, answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _require(params, *names):
    for name in names:
        if not params.get(name):
            raise _auth_error(400, "invalid_request", "Missing required parameter: %s" % name)


def _check_audience(params):
    audience = params.get("audience")
    if audience and audience != AUDIENCE:
        raise _auth_error(403, "access_denied", "Service not found: %s" % audience)


def _authorization_code(handler, state, params):
    _require(params, "client_id", "code", "code_verifier", "redirect_uri")
    client_id = params["client_id"]
    if client_id in M2M_CLIENTS:
        raise _auth_error(
            403,
            "unauthorized_client",
            "Grant type 'authorization_code' not allowed for the client.",
        )
    if client_id not in (PUBLIC_CLIENT_ID, JUPYTERLAB_CLIENT_ID):
        raise _auth_error(401, "invalid_client", "Unknown client.")
    _check_audience(params)
    grant = state.take_code(params["code"])
    if grant is None or grant == "expired" or grant["client_id"] != client_id:
        raise _auth_error(403, "invalid_grant", "Invalid authorization code")
    if grant["redirect_uri"] != params["redirect_uri"]:
        raise _auth_error(
            403,
            "invalid_grant",
            "The redirect_uri does not match the one of the authorization request.",
        )
    if not secrets.compare_digest(challenge_of(params["code_verifier"]), grant["challenge"]):
        raise _auth_error(403, "invalid_grant", "Failed PKCE verification")
    return state.issue_token(grant["user"], state.oauth_token_lifetime, "oauth")


def _client_credentials(state, params):
    _require(params, "client_id", "client_secret")
    client_id = params["client_id"]
    client = M2M_CLIENTS.get(client_id)
    if client_id in (PUBLIC_CLIENT_ID, JUPYTERLAB_CLIENT_ID):
        raise _auth_error(
            403,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        )
    if client is None or not secrets.compare_digest(client["secret"], params["client_secret"]):
        # Auth0 answers a wrong secret and an unknown client alike.
        raise _auth_error(401, "access_denied", "Unauthorized")
    _require(params, "audience")
    _check_audience(params)
    return state.issue_token(client["user"], state.m2m_token_lifetime, "m2m")


# --- discovery ----------------------------------------------------------------------------------


def _host(handler):
    return handler._origin().split("://", 1)[1]


def _accounts(handler, state):
    user, why = state.token_user(_bearer(handler))
    if user is None:
        raise HttpError(
            401,
            {"error": "Unauthorized" if why != "expired" else "Unauthorized: jwt expired"},
        )
    handler._send(
        200,
        {
            "id": "ac_" + user["id"].replace("-", "")[:8],
            "tenant_domain": _host(handler),
            "email": user["email"],
            "username": user["username"],
        },
    )


def _config(handler):
    origin = handler._origin()
    handler._send(
        200,
        "apis:\n  baseUrl: %s\n  accountsUrl: %s\n" % (json.dumps(origin), json.dumps(origin)),
        "text/yaml; charset=utf-8",
    )


# --- /v3 ----------------------------------------------------------------------------------------


def _dw_token(handler, state):
    user = _v3_user(handler, state)
    handler._send(
        200,
        {
            "projectId": "carto-dw-ac-%s" % user["username"],
            # Not a Google token: the local API has no BigQuery behind it.
            "token": "local-dw-token-%s" % secrets.token_urlsafe(16),
        },
    )


_SCHEMA_TYPES = {"number": "number", "string": "string", "boolean": "boolean", "date": "timestamp"}


def _sql(handler, state, connection, params):
    user = _v3_user(handler, state)
    if connection not in CONNECTIONS:
        raise _v3_error(404, "Connection not found: %s" % connection)
    query = params.get("q")
    if not isinstance(query, str) or not query.strip():
        raise _v3_error(400, "Missing q parameter")
    started = time.monotonic()
    try:
        result = sql.run(query, user, True, handler.server.catalog)
    except sql.SqlError as err:
        raise _v3_error(err.status, str(err)) from None
    body = sql.as_json(result, started)
    geo = {n for n, f in result.fields.items() if f.get("type") == "geometry"}
    rows = []
    for row, raw in zip(body["rows"], result.rows):
        # Geography values as GeoJSON text (this local API's choice; not checked against CARTO).
        rows.append(
            {
                k: (json.dumps(raw[k].geojson()) if k in geo and raw[k] else v)
                for k, v in row.items()
            }
        )
    handler._send(
        200,
        {
            "rows": rows,
            "schema": [
                {
                    "name": name,
                    "type": "geography"
                    if name in geo
                    else _SCHEMA_TYPES.get(f.get("type"), "string"),
                }
                for name, f in result.fields.items()
            ],
            "meta": {
                "cacheHit": False,
                "totalBytesProcessed": "0",
                "location": "local",
                "time": body["time"],
            },
        },
    )
