"""The account store: the only file where API keys rest (docs/contracts.md §3).

Every change is a read-modify-write done under an exclusive ``flock`` on a sibling lock file and
re-read inside the lock, so two tabs (two requests) or two server processes never lose an
account. Writes go to a temp file in the same directory, are fsynced, then ``os.replace``d: a crash
leaves either the old or the new file, never a mix. A file that does not parse is renamed
``accounts.json.corrupt-<timestamp>`` (never overwritten) and reported.

Every method blocks (file I/O, ``flock``): the REST handlers call them through
``fileio.Offloader``. Waiting for the locks is bounded by ``lock_timeout`` (``StoreBusy``, 503). A
store path that is not a regular file, or that cannot be read or written, is ``StoreUnavailable``
(503) naming the path and what to do; nothing is overwritten then.

Grants (``{"path": "allow" | "deny"}``) are bound to the notebook file they were given to:
``grant_files`` maps a path to the ``fileid.identity`` of the file at that path when the grant was
given (``null``: no file was there). A grant whose file is no longer the one at its path does not
hold and is dropped. Grants without a ``grant_files`` entry (recorded by an older version, or on a
contents manager without files) hold by path.
"""

import contextlib
import copy
import datetime
import errno
import fcntl
import glob
import json
import logging
import os
import secrets
import tempfile
import threading
import time

from .. import rules
from . import fileid
from .errors import CredentialsError
from .fileio import FileTooLarge, NotRegularFile, open_regular, read_regular_file

VERSION = 1
PUBLIC_KEY = rules.PUBLIC_API_KEY
# Kinds of account (docs/contracts.md §4): an API key, or a CARTO 3 login (carto-auth's modes).
API_KEY, OAUTH, M2M = "api_key", "oauth", "m2m"
CARTO3_KINDS = (OAUTH, M2M)
# What the REST API may show: everything but the key, token and secret, plus derived fields.
PUBLIC_FIELDS = (
    "id",
    "kind",
    "label",
    "username",
    "base_url",
    "api_base_url",
    "expires_at",
    "public",
    "status",
    "user_info",
    "created_at",
)
# Fields each kind of stored account must have as strings (an absent "kind" is API_KEY).
_REQUIRED_TEXT = {
    API_KEY: ("id", "base_url", "api_key"),
    OAUTH: ("id", "api_base_url", "access_token"),
    M2M: ("id", "api_base_url", "access_token", "client_id", "client_secret"),
}


# The store is small (a few KiB per account); anything far larger is not ours.
MAX_STORE_BYTES = 16 * 1024 * 1024
TEMP_PREFIX, TEMP_SUFFIX = ".accounts-", ".tmp"
# What ``identify(path)`` returns when it cannot tell which file is at ``path`` (a contents
# manager without files, a path it refuses, a stat error).
UNKNOWN = "unknown"


def empty_store():
    return {
        "version": VERSION,
        "default_account": None,
        "accounts": [],
        "grants": {},
        "grant_files": {},
    }


def new_account_id():
    return "acc-" + secrets.token_hex(8)


def kind_of(account):
    return account.get("kind") or API_KEY


def token_expired(account, now=None):
    """Whether a CARTO 3 account's access token has expired (``expires_at``: epoch seconds, UTC)."""
    return account["expires_at"] <= (time.time() if now is None else now)


def status_of(account, now=None):
    """``"login_required"``: an OAuth token that expired (CARTO issues no refresh token), or an
    M2M client CARTO refused at its last renewal; else ``"ok"``."""
    kind = kind_of(account)
    if kind == OAUTH and token_expired(account, now):
        return "login_required"
    if kind == M2M and account.get("refused"):
        return "login_required"
    return "ok"


def public_view(account):
    """The account as the REST API shows it: never the key, token or secret."""
    derived = ("public", "status", "kind")
    view = {k: account.get(k) for k in PUBLIC_FIELDS if k not in derived}
    view["kind"] = kind_of(account)
    view["public"] = account.get("api_key") == PUBLIC_KEY
    view["status"] = status_of(account)
    return view


class StoreCorrupt(CredentialsError):
    def __init__(self, path, kept_as, reason):
        super().__init__(
            500,
            "store_corrupt",
            "The CARTO account store %s could not be read (%s). It was kept as %s and a new, "
            "empty store is used from now on; log in again, or repair that file and move it back."
            % (path, reason, kept_as),
        )
        self.kept_as = kept_as


class StoreUnavailable(CredentialsError):
    """The store (or its directory or lock file) at ``path`` cannot be used; nothing was changed."""

    def __init__(self, path, what):
        super().__init__(
            503,
            "store_unavailable",
            "The CARTO account store cannot be used: %s. Nothing was changed." % what,
        )
        self.path = path


class StoreBusy(CredentialsError):
    def __init__(self, lock_path, timeout):
        super().__init__(
            503,
            "store_busy",
            "The CARTO account store is locked (lock file %s) and was not released within %g "
            "seconds: another Jupyter server process may be stuck. Nothing was changed; try again."
            % (lock_path, timeout),
        )


def _unavailable(path, err, thing="it"):
    """``StoreUnavailable`` for the ``OSError`` ``err`` met on ``path``, with what to do."""
    if isinstance(err, NotRegularFile):
        what = (
            "%s is %s, not a file; rename or remove it (the store is created again at the next "
            "login)" % (path, err.kind)
        )
    elif isinstance(err, FileTooLarge):
        what = "%s is larger than %d bytes, which no account store is; move it away" % (
            path,
            err.limit,
        )
    elif isinstance(err, PermissionError):
        what = "%s: permission denied; make %s yours (files mode 0600, directory 0700)" % (
            path,
            thing,
        )
    elif err.errno == errno.ELOOP:
        what = "%s is a symbolic link, which is not followed here; replace it with a file" % path
    elif err.errno == errno.ENOSPC:
        what = "%s: the disk is full" % path
    elif err.errno == errno.EROFS:
        what = (
            "%s is on a read-only file system; set c.CartoCredentials.store_path to a writable "
            "place" % path
        )
    elif err.errno in (errno.ENOTDIR, errno.EEXIST):
        what = "%s: a part of this path is a file where a directory is expected" % path
    else:
        what = "%s: %s" % (path, err.strerror or type(err).__name__)
    return StoreUnavailable(path, what)


def _shape_problem(data):
    """Why ``data`` is not a version-1 store, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("version") != VERSION:
        return "unknown version %r" % (data.get("version"),)
    accounts = data.get("accounts")
    if not isinstance(accounts, list):
        return "'accounts' is not a list"
    ids = set()
    for acc in accounts:
        if not isinstance(acc, dict):
            return "an account is not an object"
        kind = kind_of(acc)
        if kind not in _REQUIRED_TEXT:
            return "an account has an unknown kind"
        for field in _REQUIRED_TEXT[kind]:
            if not isinstance(acc.get(field), str):
                return "an account has no valid %r" % field
        expires_at = acc.get("expires_at")
        if kind in CARTO3_KINDS and (
            isinstance(expires_at, bool) or not isinstance(expires_at, (int, float))
        ):
            return "an account has no valid 'expires_at'"
        if acc["id"] in ids:
            return "duplicate account id"
        ids.add(acc["id"])
    default = data.get("default_account")
    if default is not None and not isinstance(default, str):
        return "'default_account' is not a string"
    grants = data.get("grants", {})
    if not isinstance(grants, dict) or any(
        not isinstance(k, str) or v not in ("allow", "deny") for k, v in grants.items()
    ):
        return "'grants' is not a map of path to allow/deny"
    grant_files = data.get("grant_files", {})
    if not isinstance(grant_files, dict) or not all(
        fileid.is_identity(v) for v in grant_files.values()
    ):
        return "'grant_files' is not a map of path to file identity"
    return None


class AccountStore:
    """The store at ``path``; ``lock_timeout`` (s) bounds each wait for its locks."""

    def __init__(self, path, log=None, lock_timeout=10.0):
        self.path = os.path.abspath(path)
        self.log = log or logging.getLogger(__name__)
        self.lock_path = self.path + ".lock"
        self.lock_timeout = float(lock_timeout)
        # flock excludes other processes; this excludes threads of this process sharing one fd.
        self._thread_lock = threading.Lock()

    # --- locking and file I/O ---------------------------------------------------------------

    def _ensure_dir(self):
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            # makedirs' mode is filtered by the umask and ignored for an existing directory.
            if os.stat(directory).st_mode & 0o077:
                os.chmod(directory, 0o700)
        except OSError as err:
            raise _unavailable(directory, err, "the directory") from None

    @contextlib.contextmanager
    def _locked(self, timeout=None):
        timeout = self.lock_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=timeout):
            raise StoreBusy(self.lock_path, timeout)
        try:
            self._ensure_dir()
            try:
                fd = open_regular(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600, False)
            except OSError as err:
                raise _unavailable(self.lock_path, err) from None
            try:
                delay = 0.005
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise StoreBusy(self.lock_path, timeout) from None
                        time.sleep(delay)
                        delay = min(2 * delay, 0.05)
                yield
            finally:
                # Closing the descriptor releases the flock.
                os.close(fd)
        finally:
            self._thread_lock.release()

    def _load(self, quarantine):
        """The store's content; an absent file is an empty store."""
        try:
            raw = read_regular_file(self.path, MAX_STORE_BYTES)
        except FileNotFoundError:
            return empty_store()
        except OSError as err:
            raise _unavailable(self.path, err) from None
        try:
            data = json.loads(raw.decode("utf-8"))
            problem = _shape_problem(data)
        except (ValueError, RecursionError) as err:
            problem = "not valid JSON: %s" % type(err).__name__
        if problem is None:
            data.setdefault("grants", {})
            data.setdefault("default_account", None)
            data.setdefault("grant_files", {})
            return data
        if not quarantine:
            raise CredentialsError(
                500,
                "store_corrupt",
                "The CARTO account store %s could not be read (%s)." % (self.path, problem),
            )
        try:
            kept_as = self._quarantine()
        except OSError as err:
            raise _unavailable(self.path, err) from None
        self.log.error(
            "carto-credentials: account store %s is unreadable (%s); kept as %s",
            self.path,
            problem,
            kept_as,
        )
        raise StoreCorrupt(self.path, kept_as, problem)

    def _quarantine(self):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        candidate = "%s.corrupt-%s" % (self.path, stamp)
        n = 1
        while os.path.lexists(candidate):
            n += 1
            candidate = "%s.corrupt-%s-%d" % (self.path, stamp, n)
        try:
            # link + unlink rather than rename: link fails instead of replacing an existing file.
            os.link(self.path, candidate)
            os.unlink(self.path)
        except (PermissionError, NotImplementedError):  # file systems without hard links
            os.rename(self.path, candidate)
        return candidate

    def _write(self, data):
        directory = os.path.dirname(self.path)
        data = dict(data)
        # Grant bindings only for grants that exist; no empty map in stores without grants.
        files = {p: i for p, i in data.get("grant_files", {}).items() if p in data["grants"]}
        if files:
            data["grant_files"] = files
        else:
            data.pop("grant_files", None)
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        except OSError as err:
            raise _unavailable(directory, err, "the directory") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o600)
                json.dump(data, f, indent=1, sort_keys=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException as err:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if isinstance(err, OSError):
                raise _unavailable(self.path, err) from None
            raise
        # Make the rename itself durable.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def remove_temp_files(self, timeout=2.0):
        """Remove ``.accounts-*.tmp`` files (they may hold keys) that a killed server left behind.

        Done under the lock: every writer holds it while its temp file exists, so any temp file
        seen then is a leftover. Returns the removed paths; ``StoreBusy`` after ``timeout`` s.
        """
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            return []
        removed = []
        with self._locked(timeout):
            pattern = os.path.join(glob.escape(directory), TEMP_PREFIX + "*" + TEMP_SUFFIX)
            for path in glob.glob(pattern):
                try:
                    if os.path.isfile(path) and not os.path.islink(path):
                        os.unlink(path)
                        removed.append(path)
                except OSError as err:
                    self.log.warning("carto-credentials: could not remove %s: %s", path, err)
        return removed

    # --- transactions -----------------------------------------------------------------------

    def read(self):
        """A snapshot of the store (a deep copy: callers may not change the file through it)."""
        with self._locked():
            return copy.deepcopy(self._load(quarantine=True))

    def update(self, change):
        """Run ``change(data)`` on a fresh read inside the lock and write the result back.

        ``change`` returns the value to hand back to the caller; raising leaves the file untouched,
        and so does a change that changes nothing (no rewrite, no new mtime for readers to see).
        """
        with self._locked():
            data = self._load(quarantine=True)
            before = copy.deepcopy(data)
            result = change(data)
            if data != before:
                self._write(data)
            return result

    # --- operations -------------------------------------------------------------------------

    def list_accounts(self):
        data = self.read()
        return [public_view(a) for a in data["accounts"]], data["default_account"]

    def add_account(self, username, base_url, api_key, label, user_info=None):
        account = {
            "id": new_account_id(),
            "label": label,
            "username": username,
            "base_url": base_url,
            "api_key": api_key,
            "user_info": user_info,
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
        }

        def change(data):
            _refuse_twin(data, account)
            data["accounts"].append(account)
            # The first login becomes the default: one account needs no choosing.
            if data["default_account"] is None and len(data["accounts"]) == 1:
                data["default_account"] = account["id"]
            return public_view(account)

        return self.update(change)

    def update_account(self, account_id, label=None, api_key=None):
        def change(data):
            account = _find(data, account_id)
            if label is not None:
                account["label"] = label
            if api_key is not None:
                account["api_key"] = api_key
                # The user info described what the old key could see.
                account["user_info"] = None
            return public_view(account)

        return self.update(change)

    def remove_account(self, account_id):
        def change(data):
            account = _find(data, account_id)
            data["accounts"].remove(account)
            if data["default_account"] == account_id:
                data["default_account"] = None

        self.update(change)

    def get_key(self, account_id):
        """The API key of an ``api_key`` account (``400 not_an_api_key`` for a CARTO 3 one)."""
        account = _find(self.read(), account_id)
        if kind_of(account) != API_KEY:
            raise CredentialsError(
                400,
                "not_an_api_key",
                "The account %s is a CARTO 3 login, not an API key." % account_id,
            )
        return account["api_key"]

    def account(self, account_id):
        """The stored account, secrets included (for the server's own use: renewals, the key)."""
        return _find(self.read(), account_id)

    def add_carto3_account(self, kind, label, api_base_url, token, expires_at, **fields):
        """Store a CARTO 3 login (``kind`` OAUTH or M2M) with its first token; its public view.
        ``fields``: ``org`` (OAUTH), ``client_id`` and ``client_secret`` (M2M), ``user_info``.
        ``409 duplicate_account`` for an M2M client already stored (``_refuse_twin``)."""
        account = _new_carto3_account(kind, label, api_base_url, token, expires_at, fields)
        return self.update(lambda data: _append(data, account))

    def log_in_oauth(self, label, api_base_url, token, expires_at, org=None, user_info=None):
        """``(public view, created)`` of an OAuth login: the stored login of the same CARTO user
        (``user_info["email"]``, same API base URL and organisation) gets the new token, so
        signing in again renews it instead of adding a twin; else a new account is stored. Without
        an email (the API base URL was given, so CARTO's accounts service was not asked) logins
        cannot be told apart and each is stored."""
        account = _new_carto3_account(
            OAUTH, label, api_base_url, token, expires_at, {"org": org, "user_info": user_info}
        )
        email = (user_info or {}).get("email")

        def change(data):
            for stored in data["accounts"]:
                if (
                    email
                    and kind_of(stored) == OAUTH
                    and stored.get("api_base_url") == api_base_url
                    and stored.get("org") == org
                    and (stored.get("user_info") or {}).get("email") == email
                ):
                    stored.pop("refused", None)
                    stored.update(access_token=token, expires_at=expires_at, user_info=user_info)
                    return public_view(stored), False
            return _append(data, account), True

        return self.update(change)

    def set_token(
        self, account_id, token, expires_at, api_base_url=None, refused=False, email=None
    ):
        """A new access token (a renewal or a new login) for the CARTO 3 account ``account_id``;
        ``refused``: CARTO refused the M2M client (the token is left as it was). ``email``: the
        CARTO user a new login is of, when known; ``400 oauth_other_user`` (nothing changed) when
        the account is another user's."""

        def change(data):
            account = _find(data, account_id)
            if kind_of(account) not in CARTO3_KINDS:
                raise CredentialsError(
                    400, "not_carto3", "The account %s is not a CARTO 3 login." % account_id
                )
            stored_email = (account.get("user_info") or {}).get("email")
            if email and stored_email and email != stored_email:
                raise CredentialsError(
                    400,
                    "oauth_other_user",
                    "CARTO logged you in as %s, not as %s, whose login “%s” this is: log in again "
                    "as %s (sign out of CARTO in the login window first), or add %s with “Log in "
                    "with CARTO”." % (email, stored_email, account["label"], stored_email, email),
                )
            if refused:
                account["refused"] = True
                return public_view(account)
            account.pop("refused", None)
            account["access_token"] = token
            account["expires_at"] = expires_at
            if api_base_url:
                account["api_base_url"] = api_base_url
            return public_view(account)

        return self.update(change)

    def set_default(self, account_id):
        def change(data):
            if account_id is not None:
                _find(data, account_id)
            data["default_account"] = account_id
            return account_id

        return self.update(change)

    def grants(self, identify=None):
        """``{path: "allow" | "deny"}`` of the grants that hold.

        ``identify(path)`` gives the ``fileid.identity`` of the file now at ``path`` (None: no
        file) or ``UNKNOWN``. A grant bound to a file that is no longer the one at its path is
        left out and removed from the store; one whose file cannot be identified now is left out
        and kept. Without ``identify`` every stored grant is listed.
        """
        data = self.read()
        if identify is None:
            return data["grants"]
        gone, unsure = _stale(data, identify)
        if gone:
            self.update(lambda fresh: _drop_stale(fresh, identify))
        return {p: d for p, d in data["grants"].items() if p not in gone and p not in unsure}

    def grant(self, path, identify=None):
        """The decision for ``path`` that holds (see ``grants``), or None."""
        return self.grants(identify).get(path)

    def set_grant(self, path, decision, binding=UNKNOWN):
        """Record ``decision`` for ``path``, bound to ``binding`` (an identity, None for "no file
        there", or ``UNKNOWN``: held by path)."""

        def change(data):
            data["grants"][path] = decision
            if binding is UNKNOWN:
                data["grant_files"].pop(path, None)
            else:
                data["grant_files"][path] = binding

        self.update(change)

    def remove_grant(self, path):
        def change(data):
            data["grants"].pop(path, None)
            data["grant_files"].pop(path, None)

        self.update(change)

    def drop_grants_under(self, path):
        """Remove the grants of ``path`` and of everything under it (a deleted notebook or
        directory). Returns the removed paths; writes nothing when there are none."""
        return self._change_grants_under(path, None)

    def move_grants(self, old, new):
        """Grants of ``old`` and everything under it move to ``new`` (a rename), with their
        bindings, replacing grants already recorded there. Returns the moved (old) paths."""
        return self._change_grants_under(old, new)

    def _change_grants_under(self, old, new):
        def affected(data):
            return [p for p in data["grants"] if p == old or p.startswith(old + "/")]

        if not affected(self.read()):
            return []

        def change(data):
            paths = affected(data)
            moved = [(p, data["grants"].pop(p), data["grant_files"].pop(p, UNKNOWN)) for p in paths]
            if new is not None:
                for p, decision, binding in moved:
                    target = new + p[len(old) :]
                    data["grants"][target] = decision
                    data["grant_files"].pop(target, None)
                    if binding is not UNKNOWN:
                        data["grant_files"][target] = binding
            return paths

        return self.update(change)


def _stale(data, identify):
    """``(gone, unsure)``: bound grants whose file is another one now, and those not checkable."""
    gone, unsure = set(), set()
    for path, recorded in data["grant_files"].items():
        if path not in data["grants"]:
            continue
        current = identify(path)
        if current is UNKNOWN:
            unsure.add(path)
        elif not fileid.same_file(recorded, current):
            gone.add(path)
    return gone, unsure


def _drop_stale(data, identify):
    gone, _ = _stale(data, identify)
    for path in gone:
        data["grants"].pop(path, None)
        data["grant_files"].pop(path, None)


def _new_carto3_account(kind, label, api_base_url, token, expires_at, fields):
    fields = dict(fields)
    account = {
        "id": new_account_id(),
        "kind": kind,
        "label": label,
        "username": None,
        "base_url": None,
        "api_base_url": api_base_url,
        "access_token": token,
        "expires_at": expires_at,
        "user_info": fields.pop("user_info", None),
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    account.update(fields)
    return account


def _append(data, account):
    """Add ``account`` to the store's ``data`` (the first one becomes the default); its view."""
    _refuse_twin(data, account)
    data["accounts"].append(account)
    if data["default_account"] is None and len(data["accounts"]) == 1:
        data["default_account"] = account["id"]
    return public_view(account)


def _refuse_twin(data, new):
    """``409 duplicate_account`` when ``new`` is a login the store already holds: the same API key
    at the same base URL, or the same M2M client at the same API base URL. A second copy would
    only make choosing an account ambiguous; another key of the same user (say, a scoped one) is
    a different login. OAuth logins are not refused: signing in again renews the stored one
    (``log_in_oauth``)."""
    kind = kind_of(new)
    for account in data["accounts"]:
        if kind_of(account) != kind:
            continue
        if kind == API_KEY:
            same = account.get("base_url") == new["base_url"] and secrets.compare_digest(
                str(account.get("api_key")).encode(), new["api_key"].encode()
            )
            what = "This API key of %s at %s" % (new["username"], new["base_url"])
        elif kind == M2M:
            same = (
                account.get("api_base_url") == new["api_base_url"]
                and account.get("client_id") == new["client_id"]
            )
            what = "This M2M client (%s)" % new["client_id"]
        else:
            continue
        if same:
            raise CredentialsError(
                409,
                "duplicate_account",
                "%s is already in the CARTO panel, as “%s”: use that account, or log out of it "
                "first." % (what, account["label"]),
            )


def _find(data, account_id):
    for account in data["accounts"]:
        if account["id"] == account_id:
            return account
    raise CredentialsError(
        404, "account_not_found", "There is no CARTO account with id %s." % account_id
    )
