"""The account store: the only file where API keys rest (docs/contracts.md §3).

Every change is a read-modify-write done under an exclusive ``flock`` on a sibling lock file and
re-read inside the lock, so two tabs (two requests) or two server processes never lose an
account. Writes go to a temp file in the same directory, are fsynced, then ``os.replace``d: a crash
leaves either the old or the new file, never a mix. A file that does not parse is renamed
``accounts.json.corrupt-<timestamp>`` (never overwritten) and reported.
"""

import contextlib
import copy
import datetime
import fcntl
import json
import logging
import os
import secrets
import tempfile
import threading
import time

from .errors import CredentialsError

VERSION = 1
PUBLIC_KEY = "default_public"
# What the REST API may show: everything but the key, plus the derived "public" flag.
PUBLIC_FIELDS = ("id", "label", "username", "base_url", "public", "user_info", "created_at")


def empty_store():
    return {"version": VERSION, "default_account": None, "accounts": [], "grants": {}}


def new_account_id():
    return "acc-" + secrets.token_hex(8)


def public_view(account):
    """The account as the REST API shows it: never the key."""
    view = {k: account.get(k) for k in PUBLIC_FIELDS if k != "public"}
    view["public"] = account.get("api_key") == PUBLIC_KEY
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
        for field in ("id", "base_url", "api_key"):
            if not isinstance(acc.get(field), str):
                return "an account has no valid %r" % field
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
    return None


class AccountStore:
    def __init__(self, path, log=None):
        self.path = os.path.abspath(path)
        self.log = log or logging.getLogger(__name__)
        self.lock_path = self.path + ".lock"
        # flock excludes other processes; this excludes threads of this process sharing one fd.
        self._thread_lock = threading.Lock()

    # --- locking and file I/O ---------------------------------------------------------------

    def _ensure_dir(self):
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # makedirs' mode is filtered by the umask and ignored for an existing directory.
        if os.stat(directory).st_mode & 0o077:
            os.chmod(directory, 0o700)

    @contextlib.contextmanager
    def _locked(self):
        with self._thread_lock:
            self._ensure_dir()
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                # Closing the descriptor releases the flock.
                os.close(fd)

    def _load(self, quarantine):
        """The store's content; an absent file is an empty store."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return empty_store()
        try:
            data = json.loads(raw.decode("utf-8"))
            problem = _shape_problem(data)
        except ValueError as err:
            problem = "not valid JSON: %s" % type(err).__name__
        if problem is None:
            data.setdefault("grants", {})
            data.setdefault("default_account", None)
            return data
        if not quarantine:
            raise CredentialsError(
                500,
                "store_corrupt",
                "The CARTO account store %s could not be read (%s)." % (self.path, problem),
            )
        kept_as = self._quarantine()
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
        while os.path.exists(candidate):
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
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".accounts-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o600)
                json.dump(data, f, indent=1, sort_keys=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        # Make the rename itself durable.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # --- transactions -----------------------------------------------------------------------

    def read(self):
        """A snapshot of the store (a deep copy: callers may not change the file through it)."""
        with self._locked():
            return copy.deepcopy(self._load(quarantine=True))

    def update(self, change):
        """Run ``change(data)`` on a fresh read inside the lock and write the result back.

        ``change`` returns the value to hand back to the caller; raising leaves the file untouched.
        """
        with self._locked():
            data = self._load(quarantine=True)
            result = change(data)
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
        return _find(self.read(), account_id)["api_key"]

    def set_default(self, account_id):
        def change(data):
            if account_id is not None:
                _find(data, account_id)
            data["default_account"] = account_id
            return account_id

        return self.update(change)

    def grants(self):
        return self.read()["grants"]

    def set_grant(self, path, decision):
        def change(data):
            data["grants"][path] = decision

        self.update(change)

    def remove_grant(self, path):
        def change(data):
            data["grants"].pop(path, None)

        self.update(change)


def _find(data, account_id):
    for account in data["accounts"]:
        if account["id"] == account_id:
            return account
    raise CredentialsError(
        404, "account_not_found", "There is no CARTO account with id %s." % account_id
    )
