"""The REST API of docs/contracts.md §2, under ``{base_url}carto-credentials/``.

Keys only travel in request bodies and in the answer of ``GET accounts/{id}/key``, never in a URL,
so the access log cannot record one. Log lines name account ids and usernames only.

Handlers never touch a file on the event loop: store operations and creds.json reads go through
``fileio.Offloader`` (own threads, time-bounded).
"""

import functools
import html
import inspect

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from . import bodies, carto3, importer, validate
from .bootstrap import bootstrap_code
from .errors import CredentialsError
from .grants import file_identifier
from .store import API_KEY, PUBLIC_KEY, kind_of

NAMESPACE = "carto-credentials"
_ID = r"(?P<account_id>[^/]+)"


def endpoint(method):
    """Authentication, authorization (resource ``carto_credentials``: read for GET, write
    otherwise) and translation of errors into the contract's JSON shape."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
            if inspect.isawaitable(result):
                await result
        except CredentialsError as err:
            self.send_error_json(err)
        except web.HTTPError:
            raise
        except Exception:
            # The traceback names code, not request data; the answer stays generic.
            self.log.error(
                "carto-credentials: unexpected error in %s %s",
                self.request.method,
                self.request.path,
                exc_info=True,
            )
            self.send_error_json(
                CredentialsError(
                    500,
                    "internal_error",
                    "The CARTO credentials service failed; see the server log.",
                )
            )

    return web.authenticated(authorized(wrapper))


class CredentialsHandler(APIHandler):
    auth_resource = "carto_credentials"

    def initialize(self, store, settings, offloader, tokens):
        self.store = store
        self.carto_config = settings
        self.offloader = offloader
        self.tokens = tokens

    async def in_store(self, method, *args):
        """``method(*args)`` of the store, off the event loop, time-bounded (``fileio``)."""
        return await self.offloader.run(self.store.path, method, *args)

    def set_default_headers(self):
        super().set_default_headers()
        # Answers may carry account details (and one carries a key): never cache them.
        self.set_header("Cache-Control", "no-store")

    def send_json(self, payload, status=200):
        self.set_status(status)
        self.finish(payload)

    def send_error_json(self, err):
        if err.status >= 500:
            self.log.error("carto-credentials: %s: %s", err.code, err.message)
        else:
            self.log.info(
                "carto-credentials: %s %s refused: %s",
                self.request.method,
                self.request.path,
                err.code,
            )
        self.set_status(err.status)
        error = {"code": err.code, "message": err.message}
        if err.field is not None:
            error["field"] = err.field
        self.finish({"error": error})

    def body(self, schema):
        return bodies.parse(self.request.body or b"", schema)

    def allow_http(self, body):
        return bool(body.get("allow_non_https")) and not self.carto_config.forbid_non_https

    async def check_live(self, username, base_url, api_key):
        """CARTO's answer for a login already checked against the rules (``validate``)."""
        result = await validate.check_live(
            base_url,
            api_key,
            timeout=self.carto_config.validate_timeout,
            username=username,
            allow_link_local=self.carto_config.allow_link_local_hosts,
        )
        self.log.info(
            "carto-credentials: validated user %s at %s: %s",
            username,
            base_url,
            "ok" if result["ok"] else result["code"],
        )
        return result


class AccountsHandler(CredentialsHandler):
    @endpoint
    async def get(self):
        accounts, default = await self.in_store(self.store.list_accounts)
        self.send_json({"accounts": accounts, "default_account": default})

    @endpoint
    async def post(self):
        raw = bodies.decode(self.request.body or b"")
        if isinstance(raw, dict) and "kind" in raw:
            await self.post_m2m(bodies.check(raw, bodies.NEW_M2M_ACCOUNT))
            return
        body = bodies.check(raw, bodies.NEW_ACCOUNT)
        api_key = validate.check_api_key(body["api_key"])
        username, base_url = validate.resolve_account(
            body.get("username"), body.get("base_url"), self.allow_http(body)
        )
        user_info = None
        if body.get("validate", True):
            result = await self.check_live(username, base_url, api_key)
            if not result["ok"]:
                raise validate.failure_error(result)
            user_info = result["user_info"]
        label = _label(body) or _default_label(username, base_url, api_key)
        account = await self.in_store(
            self.store.add_account, username, base_url, api_key, label, user_info
        )
        self.log.info("carto-credentials: added account %s (user %s)", account["id"], username)
        self.send_json(account, status=201)

    async def post_m2m(self, body):
        """A CARTO 3 machine-to-machine client, from its credentials JSON or its file here."""
        allow_http = self.allow_http(body)
        if "credentials" in body and "path" in body:
            raise CredentialsError(
                400, "bad_request", "Give the M2M 'credentials' or a 'path', not both."
            )
        if "credentials" in body:
            credentials = carto3.m2m_credentials(
                body["credentials"], "The M2M credentials", allow_http
            )
        else:
            path = importer.resolve_path(body["path"], None)
            credentials = await self.offloader.run(path, importer.read_m2m_file, path, allow_http)
        account = await self.tokens.add_m2m(credentials, _label(body))
        self.send_json(account, status=201)


class AccountHandler(CredentialsHandler):
    @endpoint
    async def patch(self, account_id):
        body = self.body(bodies.ACCOUNT_CHANGE)
        if "api_key" in body:
            validate.check_api_key(body["api_key"])
        account = await self.in_store(
            self.store.update_account, account_id, _label(body), body.get("api_key")
        )
        self.log.info(
            "carto-credentials: updated account %s (%s)", account_id, ", ".join(sorted(body))
        )
        self.send_json(account)

    @endpoint
    async def delete(self, account_id):
        await self.in_store(self.store.remove_account, account_id)
        self.log.info("carto-credentials: removed account %s", account_id)
        self.set_status(204)
        self.finish()


class AccountKeyHandler(CredentialsHandler):
    @endpoint
    async def get(self, account_id):
        account = await self.in_store(self.store.account, account_id)
        if kind_of(account) == API_KEY:
            answer = {"api_key": account["api_key"]}
        else:
            answer = await self.tokens.current(account_id)
        self.log.info("carto-credentials: key of account %s handed to the frontend", account_id)
        self.send_json(answer)


class DefaultHandler(CredentialsHandler):
    @endpoint
    async def put(self):
        body = self.body(bodies.DEFAULT)
        default = await self.in_store(self.store.set_default, body["account_id"])
        self.log.info("carto-credentials: default account is now %s", default)
        self.send_json({"default_account": default})


class ValidateHandler(CredentialsHandler):
    @endpoint
    async def post(self):
        body = self.body(bodies.VALIDATE)
        # Input that breaks the rules is an answer here (ok: false), not a refused request.
        try:
            api_key = validate.check_api_key(body["api_key"])
            username, base_url = validate.resolve_account(
                body.get("username"), body.get("base_url"), self.allow_http(body)
            )
        except CredentialsError as err:
            self.send_json({"ok": False, "code": err.code, "message": err.message})
            return
        self.send_json(await self.check_live(username, base_url, api_key))


class GrantsHandler(CredentialsHandler):
    """Grants are bound to the notebook file they were given to (see grants.py, store.py)."""

    def identify(self):
        return file_identifier(self.contents_manager)

    def query_path(self, required):
        """The ``path`` query argument, from the raw query, under the same rule as PUT bodies."""
        path = bodies.query_arguments(self.request.query, ["path"]).get("path")
        if path is None:
            if required:
                raise CredentialsError(
                    400, "bad_request", "Give the notebook path: DELETE grants?path=…."
                )
            return None
        return bodies.check_value(bodies.NOTEBOOK_PATH, "path", path)

    @endpoint
    async def get(self):
        path = self.query_path(required=False)
        grants = await self.in_store(self.store.grants, self.identify())
        if path is None:
            self.send_json({"grants": grants})
        else:
            self.send_json({"path": path, "decision": grants.get(path, "ask")})

    @endpoint
    async def put(self):
        body = self.body(bodies.GRANT)
        identify = self.identify()

        def grant():
            self.store.set_grant(body["path"], body["decision"], identify(body["path"]))

        await self.in_store(grant)
        self.send_json({"path": body["path"], "decision": body["decision"]})

    @endpoint
    async def delete(self):
        path = self.query_path(required=True)
        await self.in_store(self.store.remove_grant, path)
        self.set_status(204)
        self.finish()


class ImportHandler(CredentialsHandler):
    @endpoint
    async def get(self):
        path = self.carto_config.cartoframes_creds_path()
        answer = {"available": False, "path": path, "username": None, "base_url": None}
        try:
            creds = await self.offloader.run(
                path, importer.read_creds, path, self.carto_config.forbid_non_https
            )
        except CredentialsError:
            pass
        else:
            answer.update(available=True, username=creds["username"], base_url=creds["base_url"])
        self.send_json(answer)

    @endpoint
    async def post(self):
        body = self.body(bodies.IMPORT)
        path = importer.resolve_path(body.get("path"), self.carto_config.cartoframes_creds_path())
        creds = await self.offloader.run(
            path, importer.read_creds, path, self.carto_config.forbid_non_https
        )
        label = "%s (CARTOframes)" % (creds["username"] or creds["base_url"])
        account = await self.in_store(
            self.store.add_account,
            creds["username"],
            creds["base_url"],
            creds["api_key"],
            label[: bodies.MAX_LABEL_LENGTH],
        )
        self.log.info(
            "carto-credentials: imported account %s (user %s)", account["id"], creds["username"]
        )
        self.send_json(account, status=201)


class OAuthStartHandler(CredentialsHandler):
    """``POST oauth/start``: a CARTO 3 browser login (PKCE), either flow (docs/contracts.md §4)."""

    @endpoint
    async def post(self):
        body = self.body(bodies.OAUTH_START)
        api_base_url = body.get("api_base_url")
        if api_base_url:
            api_base_url = carto3.api_base_url(api_base_url, self.allow_http(body))
        if body.get("account_id"):
            account = await self.in_store(self.store.account, body["account_id"])
            if kind_of(account) != "oauth":
                raise CredentialsError(
                    400, "bad_request", "Only a CARTO 3 OAuth account can be logged in again."
                )
            api_base_url = api_base_url or account["api_base_url"]
        login, url = self.tokens.start_login(
            body["flow"],
            self.carto_config.oauth_redirect_uri or self.callback_uri(),
            org=body.get("org"),
            api_base_url=api_base_url,
            label=_label(body),
            account_id=body.get("account_id"),
        )
        self.send_json({"state": login.state, "authorize_url": url})

    def callback_uri(self):
        request = self.request
        return "%s://%s%s" % (
            request.protocol,
            request.host,
            url_path_join(self.base_url, NAMESPACE, "oauth/callback"),
        )


class OAuthExchangeHandler(CredentialsHandler):
    """``POST oauth/exchange``: the code the user pasted from CARTO's token page."""

    @endpoint
    async def post(self):
        body = self.body(bodies.OAUTH_EXCHANGE)
        code = carto3.code_from_paste(body["code"])
        account, created = await self.tokens.complete_login(body["state"], code, "paste")
        self.send_json(account, status=201 if created else 200)


class OAuthLoginHandler(CredentialsHandler):
    """``GET oauth/logins/{state}``: how a redirect login the panel started is going."""

    @endpoint
    def get(self, state):
        self.send_json(self.tokens.login(state).answer())


_CALLBACK_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;
line-height:1.5;color:CanvasText;background:Canvas}}</style></head>
<body><main><h1>{title}</h1><p role="status">{message}</p>{script}</main></body></html>
"""


class OAuthCallbackHandler(JupyterHandler):
    """``GET oauth/callback?code&state``: where CARTO sends the browser after a redirect login.

    Completes the login on the server and shows a page saying so; the panel, which follows the
    login (``oauth/logins/{state}``), shows the new account. The query holds a one-time code, not a
    token: without the PKCE verifier, which never leaves this process, it cannot be exchanged.
    """

    auth_resource = "carto_credentials"

    def initialize(self, tokens):
        self.tokens = tokens

    @web.authenticated
    @authorized
    async def get(self):
        self.set_header("Cache-Control", "no-store")
        try:
            query = bodies.query_arguments(
                self.request.query, ["code", "state", "error", "error_description", "iss"]
            )
            state = query.get("state")
            if "error" in query:
                error = CredentialsError(
                    400,
                    "oauth_denied",
                    "CARTO did not log you in (%s). Start the login again from the CARTO panel."
                    % carto3.oauth_error_name(query["error"]),
                )
                self.tokens.fail_login(state, error)
                raise error
            if not query.get("code"):
                raise CredentialsError(400, "bad_code", "CARTO sent no login code.")
            account, _ = await self.tokens.complete_login(
                state, carto3.code_from_paste(query["code"]), "redirect"
            )
        except CredentialsError as err:
            self.log.info("carto-credentials: CARTO 3 login failed: %s", err.code)
            self.set_status(err.status)
            self.finish(_page("CARTO login failed", err.message, close=False))
            return
        except Exception:
            # Not tornado's "Uncaught exception GET <uri>": the URI holds the login code.
            self.log.error("carto-credentials: the CARTO 3 login callback failed", exc_info=True)
            self.set_status(500)
            self.finish(
                _page("CARTO login failed", "The login failed; see the server log.", close=False)
            )
            return
        self.finish(
            _page(
                "Logged in to CARTO",
                "You are logged in to CARTO as %s. You can close this window and go back to "
                "JupyterLab." % account["label"],
                close=True,
            )
        )


def _page(title, message, close):
    # Opened by the panel with window.open: on success it may close itself.
    script = "<script>window.close()</script>" if close else ""
    return _CALLBACK_PAGE.format(
        title=html.escape(title), message=html.escape(message), script=script
    )


class KernelBootstrapHandler(CredentialsHandler):
    """The silent bootstrap for kernels that lack our comm target (see bootstrap.py)."""

    @endpoint
    def get(self):
        self.send_json({"code": bootstrap_code()})


def _label(body):
    """The body's label without surrounding white space (the schema allows it), or None."""
    label = body.get("label")
    return label.strip() if label is not None else None


def _default_label(username, base_url, api_key):
    name = username or validate.derive_username(base_url) or base_url
    label = "%s (public)" % name if api_key == PUBLIC_KEY else name
    return label[: bodies.MAX_LABEL_LENGTH]


def handlers(base_url, store, settings, offloader, tokens):
    def route(path):
        return url_path_join(base_url, NAMESPACE, path)

    kwargs = {"store": store, "settings": settings, "offloader": offloader, "tokens": tokens}
    return [
        (route("accounts"), AccountsHandler, kwargs),
        (route("accounts/%s" % _ID), AccountHandler, kwargs),
        (route("accounts/%s/key" % _ID), AccountKeyHandler, kwargs),
        (route("default"), DefaultHandler, kwargs),
        (route("validate"), ValidateHandler, kwargs),
        (route("grants"), GrantsHandler, kwargs),
        (route("import"), ImportHandler, kwargs),
        (route("kernel-bootstrap"), KernelBootstrapHandler, kwargs),
        (route("oauth/start"), OAuthStartHandler, kwargs),
        (route("oauth/exchange"), OAuthExchangeHandler, kwargs),
        (route(r"oauth/logins/(?P<state>[^/]+)"), OAuthLoginHandler, kwargs),
        (route("oauth/callback"), OAuthCallbackHandler, {"tokens": tokens}),
    ]
