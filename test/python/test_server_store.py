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
    with pytest.raises(OSError):
        add(store, "bob", "bob-demo-key-0002")
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
        store.add_account("%s%d" % (prefix, i), "https://x.carto.com/", "k", "x")


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
