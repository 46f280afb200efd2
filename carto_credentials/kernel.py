"""Kernel end of the ``carto.credentials`` comm (docs/contracts.md §1).

JupyterLab opens the comm with a ``set_credentials`` message as open data and sends later ones on
the same comm; we keep the pushed credentials under a lock (ipykernel 7 may run comm handlers on
subshell threads). When code sets or unsets the default we send ``credentials_changed`` on every
open comm. If a push is expected but not yet applied, ``pushed_credentials()`` waits once, at most
``PUSH_WAIT_SECONDS``, handling only our own queued comm messages (the cell that waits blocks the
normal dispatch of the main shell): ``_ipykernel_compat.pump`` on ipykernel 6 and 7, else an
Event (enough when comm handlers run on a subshell thread).

Nothing here imports ipykernel, and nothing outside ``_ipykernel_compat`` touches its private
internals: the module is imported in every kernel.
"""

import collections
import logging
import os
import re
import threading
from typing import NamedTuple

from . import rules
from ._masking import remember
from .access import not_allowed_hint
from .credentials import DEFAULT_PUBLIC, Credentials

TARGET = "carto.credentials"
PROTOCOL_VERSION = 1
# set_credentials of a CARTO 3 account (docs/contracts.md §4): API-key pushes stay version 1.
CARTO3_PROTOCOL_VERSION = 2
PUSH_WAIT_SECONDS = 2.0
GRANTED, PUBLIC, NOT_GRANTED, NO_ACCOUNT = "granted", "public", "not_granted", "no_account"
LOGIN_REQUIRED = "login_required"
STATES = (GRANTED, PUBLIC, NOT_GRANTED, NO_ACCOUNT)
CARTO3_STATES = (GRANTED, NOT_GRANTED, NO_ACCOUNT, LOGIN_REQUIRED)

log = logging.getLogger(__name__)


class _Bridge:
    """All comm state of this kernel process, guarded by ``lock``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.applied = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.kernel = None
            self.comms = []
            self.pushed = None
            self.state = None
            self.version = None  # of the last push applied
            self.carto3 = None  # a Carto3Login (version 2 pushes)
            self.account_id = None
            self.session_path = None
            self.kernel_id = None
            self.waited = False
            self.wait_timed_out = False
            self.replayed_messages = {}
            self.code_default = None
        self.applied.clear()


_bridge = _Bridge()


# -- registration ----------------------------------------------------------------------------


def register_target(kernel=None):
    """Register the comm target on ``kernel`` (default: the running IPython kernel).

    Returns ``False``, without raising, outside a kernel.
    """
    if kernel is None:
        kernel = _current_kernel()
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        return False
    manager.register_target(TARGET, _on_open)
    with _bridge.lock:
        _bridge.kernel = kernel
    try:
        from . import _ipykernel_compat

        _ipykernel_compat.install(kernel, _is_ours)
    except Exception as exc:  # the wait then falls back to a plain Event: never break a kernel
        log.debug("Could not prepare the credentials wait: %s", type(exc).__name__)
    try:
        from . import _masking  # known keys are masked in everything the kernel sends

        _masking.install(kernel, owns_comm)
    except Exception as exc:
        log.warning("Could not install the output masking: %s", type(exc).__name__)
    return True


def _current_kernel():
    import sys

    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        return getattr(get_ipython(), "kernel", None)
    except Exception:
        return None


# -- frontend -> kernel ------------------------------------------------------------------------


class SetCredentials(NamedTuple):
    """A validated ``set_credentials`` message (the key is only inside ``credentials``, a CARTO 3
    token only inside ``carto3``)."""

    state: str
    credentials: "Credentials | None"
    account_id: "str | None"
    session_path: "str | None"
    kernel_id: "str | None"
    version: int = 1
    carto3: "Carto3Login | None" = None


class Carto3Login(NamedTuple):
    """A CARTO 3 login (carto-auth's modes ``oauth`` / ``m2m``) and its access token;
    ``expires_at``: Unix epoch seconds (UTC); ``expired``: it needs a new login. Its repr never
    shows the token."""

    account_id: str
    label: str
    kind: str
    api_base_url: str
    access_token: str
    expires_at: int
    expired: bool = False

    def expired_copy(self):
        return self._replace(expired=True)

    def __repr__(self):
        return "Carto3Login(%r, kind=%r, api_base_url=%r, expires_at=%r, expired=%r)" % (
            self.label,
            self.kind,
            self.api_base_url,
            self.expires_at,
            self.expired,
        )


class MalformedMessage(ValueError):
    """A message that does not follow the contract; its text never quotes the message."""


# Field limits and required keys mirror src/protocol.ts (zod strictObject), the single source;
# username, base URL and key follow rules.json (rules.py), as on the server and in the panel.
_PUSH_KEYS = {"version", "type", "session_path", "kernel_id", "state", "account"}
_ACCOUNT_KEYS = {"id", "label", "username", "base_url", "api_key"}


def _check_keys(data, expected, what):
    if set(data) != expected:
        raise MalformedMessage(f"{what} has missing or unknown fields")


def _string(data, key, max_length, min_length=0, nullable=False):
    value = data.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not min_length <= len(value) <= max_length:
        raise MalformedMessage(f"`{key}` is not a valid string")
    return value


def parse_set_credentials(data):
    """Check a ``set_credentials`` message by hand and return a ``SetCredentials``.

    Raises ``MalformedMessage`` (whose text names the problem, never a value).
    """
    if not isinstance(data, dict):
        raise MalformedMessage("not an object")
    version = data.get("version")
    if type(version) not in (int, float) or version not in (
        PROTOCOL_VERSION,
        CARTO3_PROTOCOL_VERSION,
    ):
        raise MalformedMessage("unknown version")
    if data.get("type") != "set_credentials":
        raise MalformedMessage("unknown type")
    _check_keys(data, _PUSH_KEYS, "message")
    if version == CARTO3_PROTOCOL_VERSION:
        return _parse_carto3(data)
    state = data.get("state")
    if state not in STATES:
        raise MalformedMessage("unknown state")
    session_path = _string(data, "session_path", 4096)
    kernel_id = _string(data, "kernel_id", 200)
    account = data.get("account")
    if state in (NOT_GRANTED, NO_ACCOUNT):
        if account is not None:
            raise MalformedMessage(f"`account` must be null for state {state}")
        return SetCredentials(state, None, None, session_path, kernel_id)
    if not isinstance(account, dict):
        raise MalformedMessage("`account` is not an object")
    _check_keys(account, _ACCOUNT_KEYS, "`account`")
    account_id = _string(account, "id", 200, 1)
    _string(account, "label", 200, 1)
    username, api_key = account.get("username"), account.get("api_key")
    try:
        # The rules the server stored them under (rules.json, as everywhere); the server only
        # accepts http:// accounts when the user allowed them.
        if username is not None:
            rules.check_username(username)
        base_url = rules.normalise_base_url(account.get("base_url"), allow_http=True)
        rules.check_api_key(api_key)
    except rules.RuleError as err:
        raise MalformedMessage("`account.%s`: %s" % (err.field, err.message)) from None
    if state == PUBLIC and api_key != DEFAULT_PUBLIC:
        raise MalformedMessage("state `public` with a key other than default_public")
    try:
        credentials = Credentials(
            username=username,
            api_key=api_key,
            base_url=base_url,
            allow_non_secure=base_url.startswith("http://"),
        )
    except (ValueError, TypeError):
        raise MalformedMessage("invalid `account.base_url`") from None
    return SetCredentials(state, credentials, account_id, session_path, kernel_id)


_CARTO3_ACCOUNT_KEYS = {"id", "label", "kind", "api_base_url", "access_token", "expires_at"}
_TOKEN = re.compile(r"^[\x21-\x7e]{1,8192}$")
_MAX_SAFE_INTEGER = 2**53 - 1


def _parse_carto3(data):
    """The version 2 ``set_credentials`` (a CARTO 3 account, or ``login_required``)."""
    state = data.get("state")
    if state not in CARTO3_STATES:
        raise MalformedMessage("unknown state")
    session_path = _string(data, "session_path", 4096)
    kernel_id = _string(data, "kernel_id", 200)
    account = data.get("account")
    if state != GRANTED:
        if account is not None:
            raise MalformedMessage(f"`account` must be null for state {state}")
        return SetCredentials(state, None, None, session_path, kernel_id, CARTO3_PROTOCOL_VERSION)
    if not isinstance(account, dict):
        raise MalformedMessage("`account` is not an object")
    _check_keys(account, _CARTO3_ACCOUNT_KEYS, "`account`")
    account_id = _string(account, "id", 200, 1)
    label = _string(account, "label", 200, 1)
    if account.get("kind") not in ("oauth", "m2m"):
        raise MalformedMessage("`account.kind` is not oauth or m2m")
    token = account.get("access_token")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise MalformedMessage("`account.access_token` is not a valid token")
    expires_at = account.get("expires_at")
    if isinstance(expires_at, float) and expires_at.is_integer():
        expires_at = int(expires_at)
    if type(expires_at) is not int or not 0 <= expires_at <= _MAX_SAFE_INTEGER:
        raise MalformedMessage("`account.expires_at` is not epoch seconds")
    try:
        api_base_url = rules.normalise_base_url(account.get("api_base_url"), allow_http=True)
    except rules.RuleError as err:
        raise MalformedMessage("`account.api_base_url`: %s" % err.message) from None
    login = Carto3Login(
        account_id, label, account["kind"], api_base_url.rstrip("/"), token, expires_at
    )
    return SetCredentials(
        state, None, account_id, session_path, kernel_id, CARTO3_PROTOCOL_VERSION, login
    )


def _apply(data, kind):
    try:
        push = parse_set_credentials(data)
    except MalformedMessage as exc:
        log.warning("Ignored a malformed %s on comm target %s: %s", kind, TARGET, exc)
        return False
    if push.carto3 is not None:
        # Masked in everything the kernel sends; pydeck maps drawn with it stay showable (_masking).
        remember(push.carto3.access_token, push.carto3.account_id)
    with _bridge.lock:
        # A version 1 push is an API-key account (no CARTO 3 login), a version 2 one a CARTO 3
        # login (no API key); login_required keeps the login known, marked expired.
        if push.state == LOGIN_REQUIRED:
            previous = _bridge.carto3
            _bridge.carto3 = previous.expired_copy() if previous is not None else None
        else:
            _bridge.carto3 = push.carto3
        _bridge.version = push.version
        _bridge.pushed = push.credentials
        _bridge.state = push.state
        _bridge.account_id = push.account_id
        _bridge.session_path = push.session_path
        _bridge.kernel_id = push.kernel_id
    _bridge.applied.set()
    effective_changed()
    return True


def _on_open(comm, open_msg):
    with _bridge.lock:
        _bridge.comms.append(comm)
    comm.on_msg(lambda msg: _on_msg(msg))
    comm.on_close(lambda msg: _forget(comm))
    _apply(_comm_data(open_msg), "comm_open")
    # A frontend that arrives after code set the default (second tab, reconnect) learns it too,
    # unless JupyterLab said this notebook is not granted: then no key set in code is replayed
    # to a comm opened later (live broadcasts to comms already open still happen).
    with _bridge.lock:
        if _bridge.state == NOT_GRANTED:
            return
        replayed = list(_bridge.replayed_messages.values())
        current = _bridge.code_default
    if current is not None:
        _send(comm, changed_message(current))
    for message in replayed:
        _send(comm, message)


def _on_msg(msg):
    _apply(_comm_data(msg), "comm_msg")


def _comm_data(msg):
    try:
        return msg["content"]["data"]
    except (KeyError, TypeError):
        return None


def _forget(comm):
    with _bridge.lock:
        _bridge.comms = [c for c in _bridge.comms if c is not comm]


def owns_comm(comm_id):
    """Whether ``comm_id`` is one of our ``carto.credentials`` comms (their messages are not
    masked: they carry a key only when code set it)."""
    with _bridge.lock:
        return any(c.comm_id == comm_id for c in _bridge.comms)


# -- listeners -----------------------------------------------------------------------------------

_listeners = []


def add_change_listener(callback):
    """Call ``callback()`` (any thread, no argument) after a push or code changed the effective
    credentials (``_cartoframes`` drops its cached cartoframes object). Idempotent."""
    if callback not in _listeners:
        _listeners.append(callback)


def effective_changed():
    """Run the change listeners; one that fails is logged by type and skipped."""
    for callback in list(_listeners):
        try:
            callback()
        except Exception as exc:
            log.warning("A credentials change listener failed: %s", type(exc).__name__)


# -- kernel -> frontend ------------------------------------------------------------------------


def changed_message(credentials):
    """The ``credentials_changed`` message for credentials set by code (``None``: unset)."""
    if credentials is None:
        return {"version": PROTOCOL_VERSION, "type": "credentials_changed", "credentials": None}
    username, api_key = credentials.username, credentials.api_key
    return {
        "version": PROTOCOL_VERSION,
        "type": "credentials_changed",
        "credentials": {
            # The schema wants null or a non-empty string; cartoframes allows more.
            "username": username if isinstance(username, str) and username else None,
            # Contract form of a base URL: with a trailing slash.
            "base_url": credentials.base_url + "/",
            # An empty or missing key means the public key, as in cartoframes' map code.
            "api_key": api_key if isinstance(api_key, str) and api_key else DEFAULT_PUBLIC,
        },
    }


def notify_code_default(credentials):
    """Tell every open comm that code set (or, with ``None``, unset) the default; a comm opened
    later is told on open (``defaults`` calls this on every set and unset)."""
    with _bridge.lock:
        _bridge.code_default = credentials
        comms = list(_bridge.comms)
    message = changed_message(credentials)
    for comm in comms:
        _send(comm, message)


def send_to_every_frontend(key, message):
    """Send ``message`` on every open comm now, and on every comm opened later (a second tab,
    a reconnect); a later call with the same ``key`` replaces it. Returns how many comms
    it reached now. Used by the map widgets to register credentials set in code by reference.
    """
    with _bridge.lock:
        _bridge.replayed_messages[key] = message
        comms = list(_bridge.comms)
    for comm in comms:
        _send(comm, message)
    return len(comms)


def _send(comm, message):
    try:
        comm.send(message)
    except Exception as exc:
        log.warning(
            "Could not send %s on comm target %s: %s", message["type"], TARGET, type(exc).__name__
        )


# -- reading the pushed credentials ------------------------------------------------------------


def pushed_credentials(wait=True):
    """``(credentials, state)`` pushed by JupyterLab; ``(None, None)`` if nothing was pushed.

    Waits once, at most ``PUSH_WAIT_SECONDS``, if a push is expected: the target is registered
    in a kernel started by Jupyter server for a notebook (``JPY_SESSION_NAME``) and nothing came.
    """
    with _bridge.lock:
        if _bridge.state is not None:
            return _bridge.pushed, _bridge.state
        expected = (
            _bridge.kernel is not None
            and not _bridge.waited
            and bool(os.environ.get("JPY_SESSION_NAME"))
        )
        if not (expected and wait):
            return None, None
        _bridge.waited = True
        kernel = _bridge.kernel
    _wait_for_push(kernel, PUSH_WAIT_SECONDS)
    with _bridge.lock:
        if _bridge.state is None:
            _bridge.wait_timed_out = True
        return _bridge.pushed, _bridge.state


Carto3Push = collections.namedtuple("Carto3Push", "login state version session_path")


def carto3_push(wait=True):
    """``Carto3Push(login, state, version, session_path)`` of the last push (all ``None`` without
    one): ``login`` is a ``Carto3Login`` after a version 2 push, else ``None``. Waits as
    ``pushed_credentials`` does."""
    pushed_credentials(wait=wait)
    with _bridge.lock:
        return Carto3Push(_bridge.carto3, _bridge.state, _bridge.version, _bridge.session_path)


def missing_push_hint():
    """A sentence for 'no credentials' errors that explains what the comm saw, or ``None``."""
    with _bridge.lock:
        state, timed_out = _bridge.state, _bridge.wait_timed_out
    if state == NOT_GRANTED:
        return (
            "JupyterLab has not allowed this notebook to use your CARTO account: "
            + not_allowed_hint()
        )
    if timed_out:
        return (
            f"JupyterLab did not send credentials to this kernel within {PUSH_WAIT_SECONDS:g} s: is the "
            "jupyterlab-carto-credentials extension enabled?"
        )
    return None


def status():
    """What the bridge knows, without the key (for debugging and tests)."""
    with _bridge.lock:
        pushed = _bridge.pushed
        return {
            "registered": _bridge.kernel is not None,
            "open_comms": len(_bridge.comms),
            "state": _bridge.state,
            "account_id": _bridge.account_id,
            "username": pushed.username if pushed else None,
            "base_url": pushed.base_url if pushed else None,
            "session_path": _bridge.session_path,
            "kernel_id": _bridge.kernel_id,
        }


def _wait_for_push(kernel, timeout):
    from . import _ipykernel_compat

    if not _ipykernel_compat.pump(kernel, _is_ours, _bridge.applied.is_set, timeout):
        _bridge.applied.wait(timeout)


def _is_ours(msg_type, content):
    """Whether a queued shell message is for this bridge (what the pump may handle early)."""
    if not isinstance(content, dict):
        return False
    if msg_type == "comm_open":
        return content.get("target_name") == TARGET
    if msg_type == "comm_msg":
        with _bridge.lock:
            return content.get("comm_id") in {c.comm_id for c in _bridge.comms}
    return False
