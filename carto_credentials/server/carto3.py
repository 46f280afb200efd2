"""Talking to CARTO 3 from the server: PKCE, the token endpoint, API base URL discovery.

What carto-auth 0.2.0 does in the kernel (``../shared/reference/cartoframes-auth.md`` §3), done by
the Jupyter server instead, so the browser step of a login happens in JupyterLab and works for
remote kernels:

- PKCE (RFC 7636, ``S256``): the verifier is made and kept here; only its challenge goes into the
  authorize URL the browser opens.
- ``POST {oauth_url}/oauth/token``, form-encoded: ``authorization_code`` (a browser login) or
  ``client_credentials`` (a machine-to-machine client), answering ``access_token`` and
  ``expires_in`` (seconds). The expiry is stored as absolute Unix epoch seconds (UTC):
  carto-auth's local-time-shifted ``expiration`` is not reproduced.
- Discovery when no API base URL is given: ``GET {accounts_url}/accounts`` (Bearer) →
  ``tenant_domain`` → ``GET {scheme}://{tenant_domain}/config.yaml`` → ``apis.baseUrl``.

Every function here blocks (``requests``); ``call`` runs one in the live check's own threads.
Redirects are never followed and answers are read up to 1 MiB. Errors are ``CredentialsError``
with the codes of docs/contracts.md §4; no message holds a token, secret, code or verifier.
"""

import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import yaml  # jupyter_events (a jupyter_server dependency) brings PyYAML: CARTO's config is YAML

from .._http import USER_AGENT
from .errors import CredentialsError
from .validate import (
    ForbiddenHost,
    check_fetch_host,
    check_peers,
    failure_error,
    forbidden_host_failure,
    get_executor,
    network_failure,
    normalise_base_url,
)

TOKEN_PATH = "/oauth/token"
AUTHORIZE_PATH = "/authorize"
_MAX_ANSWER_BYTES = 1024 * 1024
# RFC 6749 §A.11 allows any visible ASCII in a code; CARTO's (Auth0's) are URL-safe.
_CODE = re.compile(r"^[\x21-\x7e]{1,2048}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,8192}$")
_TENANT = re.compile(r"^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$")
# CARTO's tokens live hours or days; anything over ten years is not an expiry.
_LONGEST_LIFETIME = 10 * 365 * 24 * 3600


def new_state():
    """A login's ``state``: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def new_verifier():
    """A PKCE ``code_verifier``: 64 random bytes, 86 URL-safe characters (RFC 7636: 43–128)."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier):
    """``S256``: base64url(SHA-256(verifier)) without ``=`` padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(oauth_url, client_id, redirect_uri, audience, verifier, state, org=None):
    """The URL of CARTO's login page for this login (carto-auth's parameters, plus ``state``)."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "audience": audience,
        "redirect_uri": redirect_uri,
        "code_challenge_method": "S256",
        "code_challenge": code_challenge(verifier),
        "state": state,
    }
    if org:
        params["organization"] = org
    return "%s%s?%s" % (oauth_url.rstrip("/"), AUTHORIZE_PATH, urlencode(params))


def code_from_paste(text):
    """The authorization code in what a user pasted: the code itself, or a URL (or query) holding
    ``code=`` — as carto-auth's interactive mode accepts. ``400 bad_code`` otherwise."""
    text = (text or "").strip()
    if "code=" in text:
        query = urlsplit(text).query or text.split("?", 1)[-1]
        codes = parse_qs(query).get("code") or [""]
        text = codes[0].strip()
    if not _CODE.match(text):
        raise CredentialsError(
            400,
            "bad_code",
            "That is not a CARTO login code: paste the code CARTO showed after you logged in "
            "(or the whole address of that page).",
        )
    return text


def expiry(expires_in, now=None):
    """Absolute Unix epoch seconds (UTC) of a token valid for ``expires_in`` seconds from now."""
    return int((time.time() if now is None else now) + expires_in)


def _get(session, url, headers, timeout):
    return _bounded(
        session.get(
            url, headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True
        )
    )


def _bounded(response):
    with response:
        body = b""
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > _MAX_ANSWER_BYTES:
                break
        return response.status_code, body


def _json(body):
    try:
        return json.loads(body.decode("utf-8")) if len(body) <= _MAX_ANSWER_BYTES else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _raise_network(err, url, timeout):
    raise failure_error(network_failure(err, urlsplit(url).netloc, timeout))


def request_token(token_url, form, timeout):
    """``(access_token, expires_at)`` from CARTO's token endpoint for the grant in ``form``.

    A refused grant is ``400 bad_client`` (``client_credentials``) or ``400 bad_code``
    (``authorization_code``); CARTO's own error text is not shown (it may echo what was sent).
    """
    host = urlsplit(token_url).netloc
    try:
        status, body = _bounded(
            requests.post(
                token_url,
                data=form,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
        )
    except requests.exceptions.RequestException as err:
        _raise_network(err, token_url, timeout)
    answer = _json(body)
    if 400 <= status < 500:
        error = answer.get("error") if isinstance(answer, dict) else None
        if form.get("grant_type") == "client_credentials":
            raise CredentialsError(
                400,
                "bad_client",
                "CARTO refused this machine-to-machine client (%s): check client_id and "
                "client_secret in the credentials file (CARTO Workspace → Developers → "
                "Credentials)." % _error_name(error, status),
            )
        raise CredentialsError(
            400,
            "bad_code",
            "CARTO refused the login code (%s): paste it again exactly as CARTO shows it; codes "
            "work once and for a minute, after that start the login again."
            % _error_name(error, status),
        )
    if status >= 500:
        raise CredentialsError(
            502,
            "server_error",
            "CARTO's login service at %s failed (HTTP %d); try again later." % (host, status),
        )
    if status != 200:
        raise CredentialsError(
            502,
            "not_carto",
            "%s answered HTTP %d to a token request: check oauth_url." % (host, status),
        )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    lifetime = answer.get("expires_in") if isinstance(answer, dict) else None
    if (
        not isinstance(token, str)
        or not _TOKEN.match(token)
        or isinstance(lifetime, bool)
        or not isinstance(lifetime, (int, float))
        or not 0 < lifetime <= _LONGEST_LIFETIME
    ):
        raise CredentialsError(
            502,
            "not_carto",
            "%s answered, but without a usable access_token and expires_in: check oauth_url."
            % host,
        )
    return token, expiry(lifetime)


def oauth_error_name(error, fallback="unknown error"):
    """An OAuth error code (``invalid_grant``, ``access_denied``…) as sent, when it looks like one
    (RFC 6749 codes are lower-case words); else ``fallback``: free text is never shown."""
    if isinstance(error, str) and re.match(r"^[a-z_]{1,40}$", error):
        return error
    return fallback


def _error_name(error, status):
    return oauth_error_name(error, "HTTP %d" % status)


def client_credentials_form(client_id, client_secret, audience):
    return {
        "grant_type": "client_credentials",
        "audience": audience,
        "client_id": client_id,
        "client_secret": client_secret,
    }


def authorization_code_form(client_id, code, redirect_uri, verifier, audience):
    return {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "audience": audience,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }


def _no_base_url(why):
    return CredentialsError(
        400,
        "no_api_base_url",
        "Could not find the API base URL of this CARTO login (%s): give it (CARTO Workspace → "
        "Developers shows it, e.g. https://gcp-us-east1.api.carto.com)." % why,
    )


def discover_api_base_url(accounts_url, access_token, timeout, allow_http, check_peer=True):
    """``(api_base_url, user_info)`` of the login holding ``access_token``, as carto-auth finds it.

    ``user_info`` keeps ``tenant_domain`` (and ``email`` when the answer has a plain one). The
    tenant's ``config.yaml`` is fetched over the accounts service's scheme; its host is checked
    like a login's base URL (link-local and metadata hosts refused, unless ``check_peer`` is off).
    """
    session = requests.Session()
    headers = {
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": "Bearer %s" % access_token,
    }
    url = "%s/accounts" % accounts_url.rstrip("/")
    with session:
        try:
            status, body = _get(session, url, headers, timeout)
        except requests.exceptions.RequestException as err:
            _raise_network(err, url, timeout)
        answer = _json(body)
        tenant = answer.get("tenant_domain") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise _no_base_url("CARTO's accounts service gave no tenant, HTTP %d" % status)
        scheme = urlsplit(accounts_url).scheme or "https"
        config_url = "%s://%s/config.yaml" % (scheme, tenant)
        if check_peer:
            check_peers(session)
        try:
            status, body = _get(session, config_url, {"User-Agent": USER_AGENT}, timeout)
        except ForbiddenHost as err:
            raise failure_error(forbidden_host_failure(config_url, str(err))) from None
        except requests.exceptions.RequestException as err:
            _raise_network(err, config_url, timeout)
    try:
        config = yaml.safe_load(body.decode("utf-8")) if status == 200 else None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        config = None
    apis = config.get("apis") if isinstance(config, dict) else None
    base_url = apis.get("baseUrl") if isinstance(apis, dict) else None
    if not isinstance(base_url, str):
        raise _no_base_url("the tenant's config.yaml has no apis.baseUrl")
    info = {"tenant_domain": tenant}
    email = answer.get("email")
    if isinstance(email, str) and 0 < len(email) <= 254 and email.isprintable():
        info["email"] = email
    return api_base_url(base_url, allow_http), info


def api_base_url(url, allow_http):
    """An API base URL under the base URL rules (rules.json), written as CARTO does: no trailing
    ``/`` (code joins ``f"{api_base_url}/v3/…"``)."""
    try:
        return normalise_base_url(url, allow_http).rstrip("/")
    except CredentialsError as err:
        # The rule's message speaks of API-key base URLs; say what a CARTO 3 one looks like.
        detail = "" if err.code == "not_https" else " " + err.message
        raise CredentialsError(
            err.status,
            err.code,
            "The API base URL must be an https address such as "
            "https://gcp-us-east1.api.carto.com (CARTO Workspace → Developers shows it).%s"
            % detail,
        ) from None


def check_api_base_url_answers(url, timeout, check_peer=True):
    """Raise ``400 m2m_file_invalid`` when nothing at the API base URL ``url`` answers HTTP
    (DNS, refused, TLS, no answer within ``timeout`` seconds) or its host is link-local or a
    metadata address (with ``check_peer``). Any HTTP answer passes: the question is whether the
    address is one, not what CARTO serves at its root. Sends no token or secret.

    An M2M client's token comes from CARTO's auth service, which never sees ``api_base_url``, so
    without this a mistyped region (``gcp-us-east2``) would be stored and fail in every kernel.
    """

    def refused(why):
        return CredentialsError(
            400,
            "m2m_file_invalid",
            "The M2M credentials' api_base_url %s does not answer: %s Check it in CARTO Workspace "
            "(Developers → Credentials) and add the client again." % (url, why),
        )

    with requests.Session() as session:
        if check_peer:
            check_peers(session)
        try:
            _get(session, url + "/", {"User-Agent": USER_AGENT}, timeout)
        except ForbiddenHost as err:
            raise refused(forbidden_host_failure(url, str(err))["message"]) from None
        except requests.exceptions.RequestException as err:
            raise refused(network_failure(err, urlsplit(url).netloc, timeout)["message"]) from None


# The fields of an M2M credentials file, in carto-auth's order (``CartoAuth.from_m2m``).
M2M_FIELDS = ("api_base_url", "client_id", "client_secret")
_CLIENT_TEXT = re.compile(r"^[\x21-\x7e]{1,1024}$")


def m2m_credentials(content, source, allow_http):
    """``{"api_base_url", "client_id", "client_secret"}`` from an M2M credentials JSON object
    (CARTO Workspace → Developers → Credentials), checked; ``source`` names it in messages.

    ``400 m2m_file_invalid`` names the field that is missing, empty or malformed (as carto-auth's
    "Missing attribute …" / "Missing value for …"), never a value.
    """

    def invalid(why):
        return CredentialsError(400, "m2m_file_invalid", "%s: %s" % (source, why))

    if not isinstance(content, dict):
        raise invalid("not a JSON object with api_base_url, client_id and client_secret")
    for field in M2M_FIELDS:
        if field not in content:
            raise invalid("the field '%s' is missing" % field)
        if not content[field]:
            raise invalid("the field '%s' is empty" % field)
        if not isinstance(content[field], str) or not _CLIENT_TEXT.match(content[field]):
            raise invalid(
                "the field '%s' must be text without spaces or control characters" % field
            )
    try:
        base_url = api_base_url(content["api_base_url"], allow_http)
    except CredentialsError as err:
        raise invalid("the field 'api_base_url' is refused. %s" % err.message) from None
    return {
        "api_base_url": base_url,
        "client_id": content["client_id"],
        "client_secret": content["client_secret"],
    }


async def check_host(url, timeout):
    """``forbidden_host`` as a ``CredentialsError`` when the server must not call ``url``'s host."""
    refused = await check_fetch_host(url, timeout)
    if refused is not None:
        raise CredentialsError(400, refused["code"], refused["message"])


async def call(func, *args):
    """``func(*args)`` (one of the blocking calls above) in the live check's threads."""
    return await asyncio.get_running_loop().run_in_executor(get_executor(), func, *args)
