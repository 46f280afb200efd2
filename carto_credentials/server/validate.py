"""Checking what a user typed (username, base URL, key) and asking CARTO whether it works.

The rules follow cartoframes' ``Credentials`` (a username alone means ``https://{username}.carto.com/``,
https only unless allowed) plus ours: no user-info, query or fragment, a trailing ``/`` always.
The live check calls ``GET {base_url}api/v3/me`` from the server (``requests``, in a thread, with the
key in an HTTP Basic ``Authorization`` header), so the key never shows in the browser or in a URL
and no CORS is involved. Redirects are not followed: that could send the key elsewhere. Link-local
and cloud-metadata hosts are refused (``check_fetch_host``) unless an administrator allows them, and
only CARTO's documented user fields of the answer are kept, each length-limited (``user_info``).
"""

import asyncio
import concurrent.futures
import ipaddress
import json
import math
import re
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import rules
from .._http import (
    USER_AGENT,
    Failure,
    auth_for,
    classify_exception,
    classify_status,
    redirect_target,
)
from .errors import CredentialsError

MAX_URL_LENGTH = rules.MAX_LENGTHS["base_url"]
MAX_KEY_LENGTH = rules.MAX_LENGTHS["api_key"]
_ON_PREM_PATH = re.compile(r"^/(?:user|u)/(?P<name>[^/]+)/$")

# Fields of /api/v3/me's user_data kept as "user_info" (CARTO's documented user fields; cartoframes
# reads id and remaining_byte_quota): name -> (kind, longest). Anything else, any other type, any
# longer or control-character-bearing value is dropped.
USER_INFO_FIELDS = {
    "id": ("text", 64),
    "username": ("text", 63),
    "name": ("text", 200),
    "email": ("text", 254),
    "avatar_url": ("url", 2048),
    "base_url": ("url", 2048),
    "account_type": ("text", 64),
    "remaining_byte_quota": ("count", None),
    "quota_in_bytes": ("count", None),
}
# C0/C1 controls, DEL, line/paragraph separators, bidirectional controls, lone surrogates.
_UNSHOWABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _bad(code, message):
    return CredentialsError(400, code, message)


def _refused(err):
    return CredentialsError(400, err.code, err.message)


# The syntax rules are rules.json's (rules.py), the ones the kernel and the panel apply too.
def check_username(username):
    try:
        return rules.check_username(username)
    except rules.RuleError as err:
        raise _refused(err) from None


def check_api_key(api_key):
    # Never echo the value (it may be a real key pasted with a typo): rule messages never do.
    try:
        return rules.check_api_key(api_key)
    except rules.RuleError as err:
        raise _refused(err) from None


def normalise_base_url(base_url, allow_non_https=False):
    """``base_url`` checked and normalised (lower-case scheme and host, ``/u/NAME/`` read as
    ``/user/NAME/``, trailing ``/``)."""
    try:
        return rules.normalise_base_url(base_url, allow_non_https)
    except rules.RuleError as err:
        raise _refused(err) from None


def resolve_account(username=None, base_url=None, allow_non_https=False):
    """``(username, base_url)`` from what the user gave, as cartoframes would use them.

    With a base URL the username is optional: we derive it from an on-premises ``/user/{name}/``
    path or from a ``{name}.carto.com`` host, so the sidebar can always name the account.
    """
    if username is None and base_url is None:
        raise _bad("bad_request", "Give a CARTO username or a base URL.")
    if username is not None:
        check_username(username)
    if base_url is None:
        return username, "https://%s.carto.com/" % username.lower()
    base_url = normalise_base_url(base_url, allow_non_https)
    if username is None:
        username = derive_username(base_url)
    return username, base_url


def derive_username(base_url):
    parts = urlsplit(base_url)
    m = _ON_PREM_PATH.match(parts.path)
    if m:
        return m.group("name")
    host = parts.hostname or ""
    if host.endswith(".carto.com") and host.count(".") == 2:
        return host.split(".")[0]
    return None


# --- hosts the server never calls (unless the administrator allows them) ------------------

# Cloud metadata services answer anyone inside the VM with its credentials. Their addresses outside
# the link-local ranges, and their names (checked before any DNS, as DNS may not know them).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle… (link-local too)
        "169.254.170.2",  # AWS ECS task metadata (link-local too)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
METADATA_HOSTNAMES = frozenset(
    (
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class ForbiddenHost(Exception):
    """The live check would connect to a refused address (raised inside ``requests``)."""


def _address_problem(address):
    """Why the server must not call ``address`` (an ``ip_address``), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_problem(embedded)
        address = ipaddress.IPv6Address(int(address))  # without a %scope
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_link_local:
        return "link-local"
    return None


def host_problem(host, addresses=()):
    """Why ``host`` (a URL's host name or IP literal) may not be called, or None.

    ``addresses`` are what the name resolves to (strings); every one is checked, so a name that
    points at a metadata or link-local address is refused like the address itself.
    """
    name = host.lower().rstrip(".").strip("[]")
    if name in METADATA_HOSTNAMES:
        return "%s is a cloud metadata service" % host
    for text in [name] + list(addresses):
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        problem = _address_problem(address)
        if problem:
            shown = host if text == name else "%s (%s)" % (host, text)
            return "%s is %s" % (shown, problem)
    return None


def _resolve(host, port):
    """The addresses ``host`` resolves to (blocking), or () when DNS does not answer."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Not ours to report: the request itself says "not found" (or goes through a proxy).
        return ()
    return tuple(info[4][0] for info in infos)


def forbidden_host_failure(base_url, problem):
    return _failure(
        "forbidden_host",
        "%s: the server does not send API keys to link-local or cloud metadata addresses. If this "
        "really is your CARTO server, an administrator can allow it with "
        "c.CartoCredentials.allow_link_local_hosts = True." % problem,
    )


async def check_fetch_host(base_url, timeout=10.0):
    """None if the server may call ``base_url``'s host, else a ``forbidden_host`` failure dict.

    The host is refused when it is a cloud-metadata name, or when it, or any address it resolves
    to (DNS in a thread, at most ``timeout`` s; no answer is not a refusal), is link-local
    (169.254.0.0/16, fe80::/10, also inside IPv4-mapped, 6to4 and NAT64 IPv6) or a metadata
    address. Private on-premises addresses (10/8, 172.16/12, 192.168/16, fc00::/7) and loopback
    are allowed. ``check_live`` also refuses such a peer when it connects (DNS may change between).
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    problem = host_problem(host)
    if problem is None:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            addresses = await asyncio.wait_for(
                loop.run_in_executor(get_executor(), _resolve, host, port), timeout
            )
        except asyncio.TimeoutError:
            addresses = ()
        problem = host_problem(host, addresses)
    return None if problem is None else forbidden_host_failure(base_url, problem)


def _check_peer(connection, sock):
    if getattr(connection, "proxy", None) is not None or getattr(connection, "_tunnel_host", None):
        return  # the peer is the proxy, chosen by the administrator
    try:
        peer = sock.getpeername()[0]
    except (OSError, IndexError):
        return
    problem = host_problem(connection.host, [peer])
    if problem:
        sock.close()
        raise ForbiddenHost(problem)


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class PeerCheckingAdapter(HTTPAdapter):
    """Refuses (``ForbiddenHost``) a direct connection whose peer is link-local or metadata."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def me_url(base_url):
    """``{base_url}api/v3/me``: relative, so an on-premises ``/user/{name}/`` is kept. No key in it."""
    return "%sapi/v3/me" % base_url


def _failure(code, message):
    return {"ok": False, "code": code, "message": message}


# The HTTP status of a failed call to CARTO when it fails a request (POST validate answers 200 with
# ok: false instead): the input's fault is 400, CARTO's or the network's 502, silence 504.
FAILURE_STATUS = {"timeout": 504, "unreachable": 502, "not_carto": 502, "server_error": 502}

# The server's shape of each kind of failure (``_http.Failure``, the kernel's classification too):
# the code of docs/contracts.md §2 and the message. The message may use {host} (the base URL's
# host and port), {timeout} (s), {status}, {target} (where a redirect points, never holding the
# key) and {name} (the exception's class). A failed request answers FAILURE_STATUS of the code.
LIVE_FAILURES = {
    Failure.TIMEOUT: ("timeout", "{host} did not answer within {timeout:g} seconds."),
    Failure.TLS: ("unreachable", "Could not establish a secure connection to {host} (TLS error)."),
    Failure.DNS: ("unreachable", "The host {host} was not found (DNS)."),
    Failure.REFUSED: ("unreachable", "Could not connect to {host} (connection refused or reset)."),
    Failure.NETWORK: ("unreachable", "Could not reach {host} ({name})."),
    Failure.REDIRECT: (
        "not_carto",
        "{host} answered with a redirect (HTTP {status}) to {target}, which CARTO does not do: "
        "check the base URL, and use https.",
    ),
    Failure.BAD_KEY: ("bad_key", "CARTO at {host} rejected this API key (HTTP {status})."),
    Failure.NOT_FOUND: (
        "unknown_user",
        "CARTO at {host} does not know this user (HTTP 404). Check the username or the base URL.",
    ),
    # /api/v3/me takes no input to refuse: a 400 there is CARTO's (or a proxy's) doing.
    Failure.BAD_REQUEST: ("server_error", "CARTO at {host} answered HTTP {status}."),
    Failure.SERVER_ERROR: (
        "server_error",
        "CARTO at {host} had an internal error (HTTP {status}); try again later.",
    ),
    Failure.OTHER: ("server_error", "CARTO at {host} answered HTTP {status}."),
}


def live_failure(kind, **fields):
    """The failure dict of ``kind`` (a ``Failure``), its message filled with ``fields``."""
    code, message = LIVE_FAILURES[kind]
    return _failure(code, message.format(**fields))


def failure_error(failure):
    """A failure dict as the ``CredentialsError`` a request fails with (FAILURE_STATUS, else 400)."""
    return CredentialsError(
        FAILURE_STATUS.get(failure["code"], 400), failure["code"], failure["message"]
    )


# CARTO can be slow or unreachable: its calls get their own threads rather than the loop's
# default executor, which jupyter_server uses for its own work.
_executor = None
_MAX_ANSWER_BYTES = 1024 * 1024


def get_executor():
    global _executor
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="carto-credentials-validate"
        )
    return _executor


def check_peers(session):
    """Make every connection of ``session`` (http and https) refuse a link-local or metadata
    peer (``PeerCheckingAdapter``); returns ``session``."""
    session.mount("http://", PeerCheckingAdapter())
    session.mount("https://", PeerCheckingAdapter())
    return session


def _fetch_me(base_url, username, api_key, timeout, check_peer=True):
    """``(status, headers, body bytes)`` of ``GET {base_url}api/v3/me`` (runs in a thread).

    The key travels in an HTTP Basic ``Authorization`` header (username + key), never in the URL, so
    no proxy or access log on the way records it. Redirects are not followed: requests would keep
    the header for a redirect to another path of the same host, and a redirect to elsewhere means
    the base URL is wrong anyway. With ``check_peer`` a direct connection to a link-local or
    metadata address raises ``ForbiddenHost``.
    """
    with requests.Session() as session:
        if check_peer:
            check_peers(session)
        return _get_me(session, base_url, username, api_key, timeout)


def _get_me(session, base_url, username, api_key, timeout):
    with session.get(
        me_url(base_url),
        auth=auth_for(username, api_key),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        timeout=(timeout, timeout),
        allow_redirects=False,
        stream=True,
    ) as response:
        body = b""
        if response.status_code == 200:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > _MAX_ANSWER_BYTES:
                    break
        return response.status_code, response.headers, body


def network_failure(err, host, timeout):
    """The failure dict of an exception raised while calling CARTO at ``host``."""
    return live_failure(
        classify_exception(err), host=host, timeout=timeout, name=type(err).__name__
    )


async def check_live(base_url, api_key, timeout=10.0, username=None, allow_link_local=False):
    """Ask CARTO who owns ``api_key`` at ``base_url``.

    Returns ``{"ok": True, "user_info": {...}, "base_url": ...}`` or
    ``{"ok": False, "code": ..., "message": ...}`` with a code of docs/contracts.md §2 or
    ``forbidden_host`` (link-local / metadata host, see ``check_fetch_host``; never with
    ``allow_link_local``). ``timeout`` (s) bounds DNS, the connection and each read.
    """
    host = urlsplit(base_url).netloc
    if not allow_link_local:
        refused = await check_fetch_host(base_url, timeout)
        if refused is not None:
            return refused
    loop = asyncio.get_running_loop()
    try:
        code, headers, raw = await loop.run_in_executor(
            get_executor(), _fetch_me, base_url, username, api_key, timeout, not allow_link_local
        )
    except ForbiddenHost as err:
        return forbidden_host_failure(base_url, str(err))
    except requests.exceptions.RequestException as err:
        return network_failure(err, host, timeout)

    kind = classify_status(code)
    if kind is None and code != 200:
        kind = Failure.OTHER  # another success (201, 204…) is not what /api/v3/me answers
    if kind is not None:
        target = redirect_target(headers, api_key) if kind is Failure.REDIRECT else None
        return live_failure(kind, host=host, status=code, target=target)
    try:
        body = json.loads(raw.decode("utf-8")) if len(raw) <= _MAX_ANSWER_BYTES else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("user_data"), dict):
        return _failure(
            "not_carto",
            "%s answered, but not like a CARTO server (no user data in /api/v3/me). "
            "Check the base URL." % host,
        )
    return {"ok": True, "user_info": user_info(body["user_data"], api_key), "base_url": base_url}


def _holds_key(value, api_key):
    # A short key ("k") would match any text: then only the value equal to it.
    if not api_key:
        return False
    return api_key in value if len(api_key) >= 8 else value == api_key


def user_info(user_data, api_key=None):
    """The fields of ``USER_INFO_FIELDS`` found in ``user_data`` (``/api/v3/me``'s), as kept.

    Text: a string of at most its length without control, bidirectional-override or line
    separator characters; URL: the same, starting with ``https://`` or ``http://``; count: an
    integer (not a boolean) from 0 to 2**63 - 1, or a finite non-negative float. Anything else is
    dropped, and so is any string holding ``api_key`` (a server echoing it back; a key shorter
    than 8 characters only when equal to it).
    """
    kept = {}
    for name, (kind, longest) in USER_INFO_FIELDS.items():
        value = user_data.get(name)
        if kind == "count":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, int) and not 0 <= value < 2**63:
                continue
            if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
                continue
        else:
            if not isinstance(value, str) or not value or len(value) > longest:
                continue
            if _UNSHOWABLE.search(value) or _holds_key(value, api_key):
                continue
            if kind == "url" and not value.lower().startswith(("https://", "http://")):
                continue
        kept[name] = value
    return kept
