"""CARTO 3 logins and their tokens: adding them, completing browser logins, renewing M2M tokens.

The rules of docs/contracts.md §4: a machine-to-machine token is renewed (client-credentials grant)
when it has under ``token_renew_margin`` seconds left — when its token is asked for, and from a
timer (``renew_due``) so kernels reading the store find a live one. An OAuth token cannot be
renewed (CARTO issues no refresh token): when it expires, the account needs a new login.

Browser logins in progress (``PendingLogin``) live only in this process's memory: the PKCE
verifier never reaches a file, a log or the browser.
"""

import asyncio
import dataclasses
import functools
import time

from .. import rules
from . import carto3
from .errors import CredentialsError
from .store import M2M, kind_of, status_of


@dataclasses.dataclass
class PendingLogin:
    """A browser login started by ``POST oauth/start``: ``flow`` ``"redirect"`` or ``"paste"``."""

    state: str
    flow: str
    client_id: str
    redirect_uri: str
    verifier: str
    started: float
    org: str | None = None
    api_base_url: str | None = None
    label: str | None = None
    account_id: str | None = None
    # "pending" → "exchanging" (its code arrived: one use) → "done" or "failed".
    status: str = "pending"
    account: dict | None = None
    error: CredentialsError | None = None

    def answer(self):
        """``GET oauth/logins/{state}``'s answer: no verifier, no token."""
        answer = {"status": "pending" if self.status == "exchanging" else self.status}
        if self.account is not None:
            answer["account"] = self.account
        if self.error is not None:
            answer["error"] = {"code": self.error.code, "message": self.error.message}
        return answer


_MAX_LABEL = rules.MAX_LENGTHS["label"]


def _state_unknown():
    return CredentialsError(
        400,
        "oauth_state_unknown",
        "This CARTO login is unknown, already used or too old: start the login again from the "
        "CARTO panel.",
    )


class Tokens:
    """CARTO 3 work of the REST handlers. ``in_store(method, *args)`` runs a store method off the
    event loop (``fileio.Offloader``); ``settings`` is the ``CartoCredentials`` configurable."""

    def __init__(self, store, settings, in_store, log, clock=time.time):
        self.store = store
        self.settings = settings
        self.in_store = in_store
        self.log = log
        self.clock = clock
        self._logins = {}
        self._renewing = {}

    # --- browser logins (OAuth 2.0 authorization code + PKCE) --------------------------------

    def start_login(
        self, flow, redirect_uri, org=None, api_base_url=None, label=None, account_id=None
    ):
        """A new ``PendingLogin`` and the authorize URL the browser opens."""
        self._forget_old_logins()
        settings = self.settings
        if flow == "redirect":
            if not settings.oauth_client_id:
                raise CredentialsError(
                    400,
                    "oauth_not_configured",
                    "Logging in with a redirect needs an OAuth client registered at CARTO for this "
                    "server (c.CartoCredentials.oauth_client_id); use 'paste the code' instead.",
                )
            client_id = settings.oauth_client_id
        else:
            client_id = settings.oauth_public_client_id
            redirect_uri = settings.oauth_public_redirect_uri
        login = PendingLogin(
            state=carto3.new_state(),
            flow=flow,
            client_id=client_id,
            redirect_uri=redirect_uri,
            verifier=carto3.new_verifier(),
            started=time.monotonic(),
            org=org,
            api_base_url=api_base_url,
            label=label,
            account_id=account_id,
        )
        self._logins[login.state] = login
        url = carto3.authorize_url(
            settings.oauth_url,
            client_id,
            login.redirect_uri,
            settings.oauth_audience,
            login.verifier,
            login.state,
            org,
        )
        return login, url

    def login(self, state):
        """The login of ``state`` (any status), or ``400 oauth_state_unknown``."""
        self._forget_old_logins()
        login = self._logins.get(state) if isinstance(state, str) else None
        if login is None:
            raise _state_unknown()
        return login

    def fail_login(self, state, error):
        """CARTO's redirect said the login failed (``error=``): record it for the panel."""
        login = self.login(state)
        if login.status == "pending":
            login.status = "failed"
            login.error = error

    async def complete_login(self, state, code, flow=None):
        """Exchange ``code`` for a token, find the API base URL, store the account (or give a new
        token to the account being logged in again). Returns ``(account view, created)``."""
        login = self.login(state)
        if login.status != "pending" or (flow is not None and login.flow != flow):
            raise _state_unknown()
        login.status = "exchanging"
        try:
            account, created = await self._exchange(login, code)
        except CredentialsError as err:
            if login.flow == "paste":
                # A mistyped paste must not void the login: the right code still works.
                login.status = "pending"
            else:
                login.status, login.error = "failed", err
            raise
        login.status, login.account = "done", account
        return account, created

    async def _exchange(self, login, code):
        settings = self.settings
        form = carto3.authorization_code_form(
            login.client_id, code, login.redirect_uri, login.verifier, settings.oauth_audience
        )
        token, expires_at = await carto3.call(
            carto3.request_token,
            settings.oauth_url.rstrip("/") + carto3.TOKEN_PATH,
            form,
            settings.validate_timeout,
        )
        api_base_url, user_info = login.api_base_url, None
        if not api_base_url:
            api_base_url, user_info = await self._discover(token)
        elif login.account_id:
            # Logging an account in again: who CARTO logged in, so another user's token never
            # lands in this account (set_token compares the emails).
            user_info = await self._who(token)
        if login.account_id:
            account = await self.in_store(
                functools.partial(
                    self.store.set_token,
                    login.account_id,
                    token,
                    expires_at,
                    api_base_url,
                    email=(user_info or {}).get("email"),
                )
            )
            self.log.info(
                "carto-credentials: account %s logged in to CARTO 3 again", login.account_id
            )
            return account, False
        label = login.label or _oauth_label(user_info, api_base_url)
        account, created = await self.in_store(
            functools.partial(
                self.store.log_in_oauth,
                label,
                api_base_url,
                token,
                expires_at,
                org=login.org,
                user_info=user_info,
            )
        )
        if created:
            self.log.info("carto-credentials: added CARTO 3 account %s (OAuth)", account["id"])
        else:
            self.log.info("carto-credentials: account %s logged in to CARTO 3 again", account["id"])
        return account, created

    async def _who(self, token):
        """The ``user_info`` CARTO's accounts service gives for ``token``, or ``None`` when it
        cannot say (an organisation without it: the API base URL was given by hand)."""
        try:
            return (await self._discover(token))[1]
        except CredentialsError:
            return None

    async def _discover(self, token):
        settings = self.settings
        if not settings.allow_link_local_hosts:
            await carto3.check_host(settings.accounts_url, settings.validate_timeout)
        return await carto3.call(
            carto3.discover_api_base_url,
            settings.accounts_url,
            token,
            settings.validate_timeout,
            not settings.forbid_non_https,
            not settings.allow_link_local_hosts,
        )

    def _forget_old_logins(self):
        oldest = time.monotonic() - self.settings.oauth_login_timeout
        for state in [s for s, login in self._logins.items() if login.started < oldest]:
            del self._logins[state]

    # --- machine-to-machine clients ----------------------------------------------------------

    async def add_m2m(self, credentials, label=None):
        """Store an M2M client after CARTO gave it a first token and its API base URL answered
        (``check_api_base_url_answers``). ``credentials``: checked
        ``{"api_base_url", "client_id", "client_secret"}`` (``m2m_credentials``)."""
        token, expires_at = await self._client_token(credentials)
        settings = self.settings
        await carto3.call(
            carto3.check_api_base_url_answers,
            credentials["api_base_url"],
            settings.validate_timeout,
            not settings.allow_link_local_hosts,
        )
        label = label or "%s (M2M)" % credentials["client_id"]
        account = await self.in_store(
            functools.partial(
                self.store.add_carto3_account,
                M2M,
                label[:_MAX_LABEL],
                credentials["api_base_url"],
                token,
                expires_at,
                client_id=credentials["client_id"],
                client_secret=credentials["client_secret"],
            )
        )
        self.log.info("carto-credentials: added CARTO 3 account %s (M2M)", account["id"])
        return account

    async def _client_token(self, account):
        settings = self.settings
        form = carto3.client_credentials_form(
            account["client_id"], account["client_secret"], settings.oauth_audience
        )
        return await carto3.call(
            carto3.request_token,
            settings.oauth_url.rstrip("/") + carto3.TOKEN_PATH,
            form,
            settings.validate_timeout,
        )

    # --- the current token -------------------------------------------------------------------

    async def current(self, account_id):
        """``{"access_token", "api_base_url", "expires_at"}`` of a CARTO 3 account, renewed first
        when it is an M2M one close to expiry; ``409 login_required`` when it cannot be used."""
        account = await self.in_store(self.store.account, account_id)
        if kind_of(account) == M2M and self._due(account):
            account = await self.renew(account_id)
        if status_of(account, self.clock()) != "ok" or account["expires_at"] <= self.clock():
            raise CredentialsError(
                409,
                "login_required",
                "The CARTO 3 login '%s' has expired: log in again from the CARTO panel."
                % account["label"],
            )
        return {
            "access_token": account["access_token"],
            "api_base_url": account["api_base_url"],
            "expires_at": account["expires_at"],
        }

    def _due(self, account):
        return account["expires_at"] - self.clock() < self.settings.token_renew_margin

    async def renew(self, account_id):
        """Renew an M2M account's token now (one renewal at a time per account); the stored
        account with its new token. A refused client is recorded (status ``login_required``)."""
        running = self._renewing.get(account_id)
        if running is None:
            running = asyncio.ensure_future(self._renew(account_id))
            self._renewing[account_id] = running
            running.add_done_callback(lambda _: self._renewing.pop(account_id, None))
        return await asyncio.shield(running)

    async def _renew(self, account_id):
        account = await self.in_store(self.store.account, account_id)
        if not self._due(account):
            return account  # renewed meanwhile (another request, another server process)
        try:
            token, expires_at = await self._client_token(account)
        except CredentialsError as err:
            if err.code == "bad_client":
                await self.in_store(self.store.set_token, account_id, None, None, None, True)
                self.log.warning(
                    "carto-credentials: CARTO refused the M2M client of %s", account_id
                )
            raise
        await self.in_store(self.store.set_token, account_id, token, expires_at)
        self.log.info("carto-credentials: renewed the CARTO 3 token of account %s", account_id)
        return await self.in_store(self.store.account, account_id)

    async def renew_due(self):
        """Renew every M2M token under the margin (the server's timer); failures are logged."""
        try:
            accounts = (await self.in_store(self.store.read))["accounts"]
        except CredentialsError:
            return  # the store's own problem: every request reports it
        for account in accounts:
            if kind_of(account) == M2M and not account.get("refused") and self._due(account):
                try:
                    await self.renew(account["id"])
                except CredentialsError as err:
                    self.log.warning(
                        "carto-credentials: could not renew the token of %s: %s",
                        account["id"],
                        err.code,
                    )


def _oauth_label(user_info, api_base_url):
    info = user_info or {}
    return (info.get("email") or info.get("tenant_domain") or api_base_url)[:_MAX_LABEL]
