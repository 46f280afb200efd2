"""carto_credentials.server.store: the file where keys rest."""

import json
import multiprocessing
import os
import stat
import threading

import pytest

from carto_credentials.server.errors import CredentialsError
from carto_credentials.server.store import AccountStore, StoreCorrupt


@pytest.fixture
def store(tmp_path):
    return AccountStore(str(tmp_path / "carto_credentials" / "accounts.json"))


def add(store, username="alice", key="alice-demo-key-0001"):
    return store.add_account(username, "https://%s.carto.com/" % username, key, username)


def test_file_is_0600_in_a_0700_directory_and_matches_the_contract(store):
    old_umask = os.umask(0o022)
    try:
        account = add(store)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(store.path)).st_mode) == 0o700
    with open(store.path) as f:
        data = json.load(f)
    assert data["version"] == 1
    assert data["default_account"] == account["id"]
    assert data["grants"] == {}
    (stored,) = data["accounts"]
    assert set(stored) == {
        "id",
        "label",
        "username",
        "base_url",
        "api_key",
        "user_info",
        "created_at",
    }
    assert stored["api_key"] == "alice-demo-key-0001"


def test_existing_directory_with_loose_mode_is_tightened(store):
    os.makedirs(os.path.dirname(store.path), mode=0o755)
    os.chmod(os.path.dirname(store.path), 0o755)
    add(store)
    assert stat.S_IMODE(os.stat(os.path.dirname(store.path)).st_mode) == 0o700


def test_views_never_carry_the_key(store):
    account = add(store)
    assert "api_key" not in account and account["public"] is False
    assert account["id"].startswith("acc-") and len(account["id"]) == 20
    accounts, default = store.list_accounts()
    assert "alice-demo-key-0001" not in repr(accounts)
    assert store.get_key(account["id"]) == "alice-demo-key-0001"
    public = store.add_account("bob", "https://bob.carto.com/", "default_public", "bob")
    assert public["public"] is True


def test_first_account_becomes_default_and_removal_clears_it(store):
    first = add(store)
    second = add(store, "bob", "bob-demo-key-0002")
    assert store.list_accounts()[1] == first["id"]
    store.set_default(second["id"])
    store.set_grant("work/map.ipynb", "allow")
    store.remove_account(second["id"])
    accounts, default = store.list_accounts()
    assert default is None and [a["id"] for a in accounts] == [first["id"]]
    assert store.grants() == {"work/map.ipynb": "allow"}


def test_unknown_account_is_a_404_and_changes_nothing(store):
    add(store)
    before = open(store.path).read()
    for call in (
        lambda: store.set_default("acc-nope"),
        lambda: store.remove_account("acc-nope"),
        lambda: store.get_key("acc-nope"),
        lambda: store.update_account("acc-nope", label="x"),
    ):
        with pytest.raises(CredentialsError) as err:
            call()
        assert (err.value.status, err.value.code) == (404, "account_not_found")
    assert open(store.path).read() == before


def test_new_key_drops_stale_user_info(store):
    account = store.add_account(
        "alice", "https://alice.carto.com/", "k1", "alice", {"username": "alice"}
    )
    updated = store.update_account(account["id"], api_key="k2")
    assert updated["user_info"] is None and store.get_key(account["id"]) == "k2"
    assert store.update_account(account["id"], label="Work")["label"] == "Work"


def test_crash_between_write_and_replace_keeps_the_old_file(store, monkeypatch):
    add(store)
    before = open(store.path, "rb").read()

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CredentialsError) as err:
        add(store, "bob", "bob-demo-key-0002")
    assert (err.value.status, err.value.code) == (503, "store_unavailable")
    assert store.path in err.value.message
    monkeypatch.undo()
    assert open(store.path, "rb").read() == before
    # No temp file is left behind either.
    assert sorted(os.listdir(os.path.dirname(store.path))) == [
        "accounts.json",
        "accounts.json.lock",
    ]


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"version": 1, "accounts": "x"}', b"\xff\xfe"]
)
def test_corrupt_file_is_kept_reported_and_never_overwritten(store, content):
    os.makedirs(os.path.dirname(store.path))
    with open(store.path, "wb") as f:
        f.write(content)
    with pytest.raises(StoreCorrupt) as err:
        store.list_accounts()
    assert err.value.code == "store_corrupt" and err.value.status == 500
    kept = err.value.kept_as
    assert kept.startswith(store.path + ".corrupt-") and kept in err.value.message
    assert open(kept, "rb").read() == content
    # The store goes on, empty, and never writes over the kept file.
    add(store)
    assert open(kept, "rb").read() == content
    assert len(store.list_accounts()[0]) == 1


def test_second_corruption_in_the_same_second_gets_its_own_name(store):
    os.makedirs(os.path.dirname(store.path))
    kept = []
    for content in (b"{1", b"{2"):
        with open(store.path, "wb") as f:
            f.write(content)
        with pytest.raises(StoreCorrupt) as err:
            store.read()
        kept.append(err.value.kept_as)
    assert kept[0] != kept[1]
    assert [open(k, "rb").read() for k in kept] == [b"{1", b"{2"]


def test_failed_change_writes_nothing(store):
    add(store)
    before = open(store.path, "rb").read()

    def change(data):
        data["accounts"].clear()
        raise CredentialsError(400, "bad_request", "refused")

    with pytest.raises(CredentialsError):
        store.update(change)
    assert open(store.path, "rb").read() == before


def test_concurrent_threads_never_lose_an_account(store):
    threads = [
        threading.Thread(target=add, args=(store, "user%d" % i, "key-%d" % i)) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["username"] for a in store.list_accounts()[0]) == sorted(
        "user%d" % i for i in range(20)
    )


def _add_in_other_process(path, prefix, n):
    store = AccountStore(path)
    for i in range(n):
        store.add_account("%s%d" % (prefix, i), "https://x.carto.com/", "k%s%d" % (prefix, i), "x")


def test_concurrent_processes_never_lose_an_account(store):
    # fork: the children inherit sys.path; each has its own thread lock, so only flock protects.
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_add_in_other_process, args=(store.path, "p%d-" % p, 10))
        for p in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(store.list_accounts()[0]) == 30


# --- issue 10: bounded locks, a store path that is not a file, temp files, bound grants -----


def test_waiting_for_the_lock_is_bounded(tmp_path):
    import fcntl
    import time

    from carto_credentials.server.store import StoreBusy

    store = AccountStore(str(tmp_path / "s" / "accounts.json"), lock_timeout=0.3)
    os.makedirs(os.path.dirname(store.path))
    fd = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file description: another process, for flock
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy) as err:
            store.list_accounts()
        assert 0.25 < time.monotonic() - started < 2
    finally:
        os.close(fd)
    assert (err.value.status, err.value.code) == (503, "store_busy")
    assert store.lock_path in err.value.message
    assert store.list_accounts() == ([], None)


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlinked lock"])
def test_a_store_path_that_is_not_a_file_is_unavailable_and_left_alone(store, kind):
    from carto_credentials.server.store import StoreUnavailable

    os.makedirs(os.path.dirname(store.path))
    if kind == "directory":
        os.mkdir(store.path)
        path = store.path
    elif kind == "fifo":
        os.mkfifo(store.path)
        path = store.path
    else:
        os.symlink("/etc/passwd", store.lock_path)
        path = store.lock_path

    def listing():  # the lock file is ours to create
        return sorted(set(os.listdir(os.path.dirname(store.path))) - {"accounts.json.lock"})

    before = listing()
    for call in (store.list_accounts, lambda: add(store), lambda: store.set_grant("a", "allow")):
        with pytest.raises(StoreUnavailable) as err:
            call()
        assert (err.value.status, err.value.code) == (503, "store_unavailable")
        assert path in err.value.message
    assert listing() == before
    if kind == "directory":
        assert os.listdir(store.path) == []


def test_leftover_temp_files_are_removed_under_the_lock(store):
    add(store)
    directory = os.path.dirname(store.path)
    for name in (".accounts-abc.tmp", ".accounts-def.tmp", "accounts-x.tmp", ".accounts-x.json"):
        with open(os.path.join(directory, name), "w") as f:
            f.write("key")
    removed = store.remove_temp_files()
    assert sorted(os.path.basename(p) for p in removed) == [
        ".accounts-abc.tmp",
        ".accounts-def.tmp",
    ]
    assert sorted(os.listdir(directory)) == [
        ".accounts-x.json",
        "accounts-x.tmp",
        "accounts.json",
        "accounts.json.lock",
    ]


def test_grants_hold_only_while_their_file_is_the_same(store):
    from carto_credentials.server.store import UNKNOWN

    one = {"dev": 1, "ino": 10, "btime_ns": 100}
    files = {"a.ipynb": one, "b.ipynb": None, "c.ipynb": one, "d.ipynb": one}
    now = {
        "a.ipynb": dict(one),  # the same file
        "b.ipynb": None,  # still no file there
        "c.ipynb": dict(one, btime_ns=200),  # same inode number, another file
        "d.ipynb": UNKNOWN,  # cannot tell now
        "e.ipynb": None,
    }
    for path, binding in files.items():
        store.set_grant(path, "allow", binding)
    store.set_grant("e.ipynb", "deny")  # unbound: held by path
    assert store.grants(now.get) == {"a.ipynb": "allow", "b.ipynb": "allow", "e.ipynb": "deny"}
    with open(store.path) as f:
        data = json.load(f)
    # The replaced one is gone from the file; the unknown one is kept for later.
    assert set(data["grants"]) == {"a.ipynb", "b.ipynb", "d.ipynb", "e.ipynb"}
    assert set(data["grant_files"]) == {"a.ipynb", "b.ipynb", "d.ipynb"}
    assert store.grant("a.ipynb", now.get) == "allow" and store.grant("c.ipynb", now.get) is None


def test_grants_follow_deletes_and_renames_of_paths_and_directories(store):
    for path in ("team", "team/a.ipynb", "team/sub/b.ipynb", "teammate.ipynb", "x.ipynb"):
        store.set_grant(path, "allow", {"dev": 1, "ino": len(path), "btime_ns": None})
    assert sorted(store.move_grants("team", "crew")) == ["team", "team/a.ipynb", "team/sub/b.ipynb"]
    assert sorted(store.grants()) == [
        "crew",
        "crew/a.ipynb",
        "crew/sub/b.ipynb",
        "teammate.ipynb",
        "x.ipynb",
    ]
    with open(store.path) as f:
        assert json.load(f)["grant_files"]["crew/sub/b.ipynb"]["ino"] == len("team/sub/b.ipynb")
    assert sorted(store.drop_grants_under("crew")) == ["crew", "crew/a.ipynb", "crew/sub/b.ipynb"]
    assert sorted(store.grants()) == ["teammate.ipynb", "x.ipynb"]
    before = open(store.path, "rb").read()
    assert store.drop_grants_under("nothing") == [] and store.move_grants("no", "ne") == []
    assert open(store.path, "rb").read() == before


@pytest.mark.parametrize(
    "where, err, says",
    [
        ("read", PermissionError(13, "Permission denied"), "permission denied; make it yours"),
        ("write", OSError(28, "No space left on device"), "the disk is full"),
        ("write", OSError(30, "Read-only file system"), "c.CartoCredentials.store_path"),
    ],
)
def test_unreadable_or_unwritable_store_says_what_to_do(store, monkeypatch, where, err, says):
    from carto_credentials.server import store as store_module
    from carto_credentials.server.store import StoreUnavailable

    add(store)
    before = open(store.path, "rb").read()

    def fail(*args, **kwargs):
        raise err

    if where == "read":
        monkeypatch.setattr(store_module, "read_regular_file", fail)
    else:
        monkeypatch.setattr(store_module.os, "fsync", fail)
    with pytest.raises(StoreUnavailable) as raised:
        add(store, "bob", "bob-demo-key-0002")
    assert says in raised.value.message and store.path in raised.value.message
    monkeypatch.undo()
    assert open(store.path, "rb").read() == before
    assert sorted(os.listdir(os.path.dirname(store.path))) == [
        "accounts.json",
        "accounts.json.lock",
    ]


def test_a_change_that_changes_nothing_does_not_rewrite_the_store(tmp_path):
    s = AccountStore(str(tmp_path / "accounts.json"))
    s.set_grant("a.ipynb", "allow")
    before = os.stat(s.path)
    s.set_grant("a.ipynb", "allow")
    s.remove_grant("never-granted.ipynb")
    after = os.stat(s.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    s.set_grant("a.ipynb", "deny")
    assert os.stat(s.path).st_ino != before.st_ino  # written: a new file replaced the old one


def test_the_same_key_at_the_same_base_url_is_stored_once(store):
    first = add(store)
    with pytest.raises(CredentialsError) as err:
        store.add_account("alice", "https://alice.carto.com/", "alice-demo-key-0001", "again")
    assert (err.value.status, err.value.code) == (409, "duplicate_account")
    assert str(err.value) == (
        "This API key of alice at https://alice.carto.com/ is already in the CARTO panel, as "
        "“alice”: use that account, or log out of it first."
    )
    assert [a["id"] for a in store.list_accounts()[0]] == [first["id"]]
    # Another key of the same user, or the same key at another server, is another login.
    store.add_account("alice", "https://alice.carto.com/", "alice-scoped-key-0002", "scoped")
    store.add_account("alice", "https://carto.example/user/alice/", "alice-demo-key-0001", "own")
    assert len(store.list_accounts()[0]) == 3


def test_the_same_m2m_client_is_stored_once_whatever_its_secret(store):
    def add_m2m(api_base_url, client_id, secret):
        return store.add_carto3_account(
            "m2m",
            "m2m",
            api_base_url,
            "t" * 20,
            4_000_000_000,
            client_id=client_id,
            client_secret=secret,
        )

    add_m2m("https://api.example", "client-a", "secret-0001")
    with pytest.raises(CredentialsError) as err:
        add_m2m("https://api.example", "client-a", "secret-0002")
    assert err.value.code == "duplicate_account"
    assert "This M2M client (client-a) is already in the CARTO panel" in str(err.value)
    assert "secret-000" not in str(err.value)
    add_m2m("https://api.example", "client-b", "secret-0001")
    add_m2m("https://api.other.example", "client-a", "secret-0001")
    assert len(store.list_accounts()[0]) == 3


def test_a_stored_key_with_any_characters_is_compared_without_failing(store):
    # secrets.compare_digest refuses non-ASCII str: keys are compared as UTF-8 bytes.
    store.add_account("alice", "https://alice.carto.com/", "clé-ñ-0001", "hand-edited")
    store.add_account("alice", "https://alice.carto.com/", "alice-demo-key-0001", "alice")
    with pytest.raises(CredentialsError) as err:
        store.add_account("alice", "https://alice.carto.com/", "clé-ñ-0001", "again")
    assert err.value.code == "duplicate_account"
