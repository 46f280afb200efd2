"""Issue 10, server side: each kind of fault found with hostile input or real bug reports, on the
in-process jupyter_server (pytest-jupyter), base URL /user/alice/, store under jp_data_dir.

- 3(b) a grant is bound to its notebook file: dropped on delete, moved on rename (contents events),
  absent when another file took its path;
- 5 any body that does not decode (2,000 nested arrays, NaN, huge numbers, bad UTF-8, …) is a
  400 with one log line, no traceback;
- 6 only regular files are read, every file and lock operation is off the event loop and bounded;
- 7 a store path that is not a file is a clear 503 naming it; leftover temp files go at start;
- 8 one path rule for grants in bodies and raw query strings;
- 9 validate refuses link-local and cloud-metadata hosts unless the administrator allows them.
"""

import asyncio
import fcntl
import json
import logging
import os
import threading
import time
from urllib.parse import quote

import nbformat
import pytest
from conftest import carto_server_config

from carto_credentials.server import validate

CAROL_KEY = "carol-key-0003"
IO_TIMEOUT = 1.0


@pytest.fixture
def jp_base_url():
    return "/user/alice/"


@pytest.fixture
def jp_server_config(request):
    settings = {"validate_timeout": 1.0, "io_timeout": IO_TIMEOUT}
    settings.update(getattr(request, "param", {}))
    return carto_server_config(**settings)


@pytest.fixture
def api(carto_rest, caplog):
    caplog.set_level(logging.DEBUG)
    return carto_rest


def carol(**extra):
    return dict({"username": "carol", "api_key": CAROL_KEY, "validate": False}, **extra)


def assert_error(answer, status, code):
    assert answer.status == status, answer
    assert answer.json["error"]["code"] == code, answer
    return answer.json["error"]["message"]


def no_traceback(records, errors=False):
    """No record carries a traceback; none is an error unless ``errors`` (5xx are logged so)."""
    for r in records:
        assert r.exc_info is None and r.exc_text is None, r.getMessage()
        assert "Traceback" not in r.getMessage(), r.getMessage()
        assert errors or r.levelno < logging.ERROR, r.getMessage()


def ours(records):
    return [r for r in records if r.getMessage().startswith("carto-credentials:")]


def file_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def store_json(path):
    with open(path) as f:
        return json.load(f)


async def eventually(check, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.02)


# --- 3(b): a grant belongs to a notebook, not to a path ----------------------------------


def notebook(text):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(text))
    return {"type": "notebook", "format": "json", "content": nb}


async def create(api, path, text="print('mine')"):
    answer = await api.jupyter("PUT", "api/contents/" + quote(path), notebook(text))
    assert answer.status in (200, 201), answer


async def decision(api, path):
    answer = await api.get("grants", params={"path": path})
    assert answer.status == 200, answer
    assert answer.json["path"] == path
    return answer.json["decision"]


async def test_a_grant_dies_with_its_notebook_and_does_not_pass_to_the_next_one(
    api, carto_store_path
):
    await create(api, "report.ipynb")
    assert (await api.put("grants", {"path": "report.ipynb", "decision": "allow"})).status == 200
    assert await decision(api, "report.ipynb") == "allow"
    assert (await api.jupyter("DELETE", "api/contents/report.ipynb")).status == 204
    await create(api, "report.ipynb", "print('from elsewhere')")
    assert (await api.get("grants")).json == {"grants": {}}
    assert await decision(api, "report.ipynb") == "ask"


async def test_deleting_through_jupyter_drops_the_grant_from_the_store_file(api, carto_store_path):
    # The contents event alone (no REST read of grants afterwards) removes it from the file,
    # which the kernel reads too; a directory takes the grants under it along.
    await create(api, "gone.ipynb")
    await api.jupyter("PUT", "api/contents/team", {"type": "directory"})
    await create(api, "team/a.ipynb")
    await create(api, "team/b.ipynb")
    await create(api, "teammate.ipynb")
    for path in ("gone.ipynb", "team/a.ipynb", "team/b.ipynb", "teammate.ipynb"):
        await api.put("grants", {"path": path, "decision": "allow"})
    assert (await api.jupyter("DELETE", "api/contents/gone.ipynb")).status == 204
    assert (await api.jupyter("DELETE", "api/contents/team/a.ipynb")).status == 204
    assert (await api.jupyter("DELETE", "api/contents/team/b.ipynb")).status == 204
    assert (await api.jupyter("DELETE", "api/contents/team")).status == 204

    def left():
        grants = store_json(carto_store_path)["grants"]
        return grants if set(grants) == {"teammate.ipynb"} else None

    assert await eventually(left) == {"teammate.ipynb": "allow"}


async def test_renaming_through_jupyter_moves_the_grant(api, carto_store_path):
    await create(api, "draft.ipynb")
    await api.jupyter("PUT", "api/contents/old", {"type": "directory"})
    await create(api, "old/map.ipynb")
    await api.put("grants", {"path": "draft.ipynb", "decision": "allow"})
    await api.put("grants", {"path": "old/map.ipynb", "decision": "deny"})
    answer = await api.jupyter("PATCH", "api/contents/draft.ipynb", {"path": "final.ipynb"})
    assert answer.status == 200, answer
    answer = await api.jupyter("PATCH", "api/contents/old", {"path": "new"})
    assert answer.status == 200, answer

    def moved():
        grants = store_json(carto_store_path)["grants"]
        return grants if "final.ipynb" in grants and "new/map.ipynb" in grants else None

    assert await eventually(moved) == {"final.ipynb": "allow", "new/map.ipynb": "deny"}
    assert await decision(api, "final.ipynb") == "allow"
    assert await decision(api, "new/map.ipynb") == "deny"
    assert await decision(api, "draft.ipynb") == "ask"


async def test_a_notebook_replaced_outside_jupyter_is_asked_again(
    api, jp_root_dir, carto_store_path
):
    await create(api, "shared.ipynb")
    await api.put("grants", {"path": "shared.ipynb", "decision": "allow"})
    # Saving through Jupyter keeps the file (and the grant).
    await create(api, "shared.ipynb", "print('edited')")
    assert await decision(api, "shared.ipynb") == "allow"
    # git checkout / cp over it: another file at the same path.
    other = jp_root_dir / "incoming.tmp"
    other.write_text(json.dumps(notebook("print('theirs')")["content"]))
    os.replace(other, jp_root_dir / "shared.ipynb")
    assert await decision(api, "shared.ipynb") == "ask"
    assert "shared.ipynb" not in store_json(carto_store_path)["grants"]


async def test_a_notebook_deleted_and_recreated_outside_jupyter_is_asked_again(api, jp_root_dir):
    # rm + create: ext4 often hands the same inode number back; the birth time tells them apart.
    from carto_credentials.server import fileid

    path = jp_root_dir / "again.ipynb"
    await create(api, "again.ipynb")
    if fileid.identity(str(path))["btime_ns"] is None:
        pytest.skip("no file birth time on this platform: inode and device only")
    await api.put("grants", {"path": "again.ipynb", "decision": "allow"})
    os.remove(path)
    path.write_text(json.dumps(notebook("print('new')")["content"]))
    assert await decision(api, "again.ipynb") == "ask"


async def test_a_grant_given_where_no_file_was_holds_only_while_there_is_none(api, jp_root_dir):
    # A console's session path names no file; a notebook created there later is another thing.
    await api.put("grants", {"path": "Console 1", "decision": "allow"})
    assert await decision(api, "Console 1") == "allow"
    (jp_root_dir / "Console 1").write_text("{}")
    assert await decision(api, "Console 1") == "ask"


# --- 5: bodies that do not decode ---------------------------------------------------------

DEEP = b"[" * 2000 + b"]" * 2000


@pytest.mark.parametrize(
    "method, path, raw, status",
    [
        ("PUT", "grants", DEEP, 400),
        ("PUT", "grants", b'{"path": ' + DEEP + b', "decision": "allow"}', 400),
        ("POST", "accounts", b'{"label": ' + b'{"a": ' * 1500 + b"1" + b"}" * 1500 + b"}", 400),
        ("POST", "validate", b'{"api_key": "k", "x": NaN}', 400),
        ("PUT", "default", b'{"account_id": 1e999}', 400),
        ("PUT", "default", b'{"account_id": ' + b"9" * 5000 + b"}", 400),
        ("PATCH", "accounts/acc-0000000000000000", b'{"label": "\xff\xfe"}', 400),
        ("POST", "import", b'{"path": "\\ud800.json"}', 400),
        ("PUT", "grants", b'{"path": "a.ipynb", "decision": "allow"' + b" " * 70000 + b"}", 413),
    ],
)
async def test_a_body_that_does_not_decode_is_a_bad_request_with_one_log_line(
    api, caplog, carto_store_path, method, path, raw, status
):
    await api.post("accounts", carol())
    before = file_bytes(carto_store_path)
    caplog.clear()
    answer = await api.raw(method, path, raw)
    assert_error(answer, status, "bad_request")
    assert file_bytes(carto_store_path) == before
    records = caplog.get_records("call")
    no_traceback(records)
    assert len(ours(records)) == 1, [r.getMessage() for r in ours(records)]


# --- 6: no file or lock operation can stall the server ------------------------------------


class Fifo:
    """A FIFO at ``path``. The server shares the test's event loop: if it opened the FIFO
    blocking, the test could not go on, so a thread writes to it after 5 s (failing, not hanging)."""

    def __init__(self, path):
        self.path = str(path)
        os.mkfifo(self.path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._unblock, daemon=True)
        self._thread.start()

    def _unblock(self):
        if self._stop.wait(5):
            return
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader (yet)
                time.sleep(0.05)
                continue
            os.write(fd, b"{}")
            os.close(fd)
            return

    def close(self):
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def fifo(tmp_path):
    made = Fifo(tmp_path / "x.json")
    yield made.path
    made.close()


async def timed(coro):
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


async def later(delay, coro):
    await asyncio.sleep(delay)
    return await timed(coro)


async def test_importing_a_fifo_is_refused_at_once_and_never_stalls_the_server(
    api, fifo, carto_store_path
):
    (answer, took), (status, status_took) = await asyncio.gather(
        timed(api.post("import", {"path": fifo})),
        later(0.1, api.jupyter("GET", "api/status")),
    )
    message = assert_error(answer, 400, "import_invalid")
    assert fifo in message and "named pipe (FIFO)" in message
    # Refused before the I/O bound (a blocked read would last until it), and the server answered
    # another request meanwhile, not after.
    assert took < IO_TIMEOUT and status.status == 200
    assert not os.path.exists(carto_store_path)


async def test_a_fifo_as_cartoframes_creds_json_is_not_available(api, carto_home):
    from carto_credentials.paths import cartoframes_creds_path

    path = cartoframes_creds_path()
    os.makedirs(os.path.dirname(path))
    made = Fifo(path)
    try:
        answer, took = await timed(api.get("import"))
    finally:
        made.close()
    assert answer.status == 200 and answer.json["available"] is False
    assert took < IO_TIMEOUT  # not read until the I/O bound: refused as what it is


@pytest.fixture
def held_lock(carto_store_path):
    """The store's lock held by "another process" (another open file description) for 4 s."""
    os.makedirs(os.path.dirname(carto_store_path), exist_ok=True)
    fd = os.open(carto_store_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    timer = threading.Timer(4.0, os.close, [fd])
    timer.start()
    yield carto_store_path + ".lock"
    if timer.cancel() is None and timer.is_alive() is False:
        try:
            os.close(fd)
        except OSError:
            pass


async def test_a_lock_nobody_releases_is_a_503_and_other_endpoints_keep_answering(api, held_lock):
    (answer, took), (other, other_took) = await asyncio.gather(
        timed(api.get("accounts")),
        later(0.1, api.get("kernel-bootstrap")),
    )
    message = assert_error(answer, 503, "store_busy")
    assert held_lock in message
    assert IO_TIMEOUT * 0.9 < took
    # The other endpoint answered while this one waited for the lock.
    assert other.status == 200 and 0.1 + other_took < took


async def test_a_stalled_file_system_is_a_504_naming_the_store(api, carto_store_path, monkeypatch):
    from carto_credentials.server import store as store_module

    def hung(path, limit):
        time.sleep(3 * IO_TIMEOUT)
        raise FileNotFoundError(path)

    monkeypatch.setattr(store_module, "read_regular_file", hung)
    (answer, took), (status, status_took) = await asyncio.gather(
        timed(api.get("grants")),
        later(0.1, api.jupyter("GET", "api/status")),
    )
    message = assert_error(answer, 504, "io_timeout")
    assert carto_store_path in message
    assert took < 3 * IO_TIMEOUT  # the stalled read (3 × the bound) was not waited for
    assert status.status == 200 and 0.1 + status_took < took


# --- 7: a store that is not a file --------------------------------------------------------

STORE_CALLS = [
    ("GET", "accounts", None),
    ("POST", "accounts", carol()),
    ("PATCH", "accounts/acc-0000000000000000", {"label": "x"}),
    ("DELETE", "accounts/acc-0000000000000000", None),
    ("GET", "accounts/acc-0000000000000000/key", None),
    ("PUT", "default", {"account_id": None}),
    ("GET", "grants", None),
    ("PUT", "grants", {"path": "a.ipynb", "decision": "allow"}),
    ("DELETE", "grants?path=a.ipynb", None),
]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
async def test_a_store_that_is_not_a_file_is_a_clear_error_everywhere_and_stays_untouched(
    api, caplog, carto_store_path, tmp_path, kind
):
    os.makedirs(os.path.dirname(carto_store_path), exist_ok=True)
    made = None
    if kind == "directory":
        os.mkdir(carto_store_path)
        with open(os.path.join(carto_store_path, "notes.txt"), "w") as f:
            f.write("mine")
        says = "is a directory"
    else:
        made = Fifo(carto_store_path)
        says = "is a named pipe (FIFO)"
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"username": "dave", "api_key": "dave-key-0004"}))
    calls = STORE_CALLS + [("POST", "import", {"path": str(creds)})]
    try:
        for method, path, body in calls:
            raw = None if body is None else json.dumps(body)
            answer = await api.raw(method, path, raw)
            message = assert_error(answer, 503, "store_unavailable")
            assert carto_store_path in message and says in message, message
            assert "rename or remove it" in message
    finally:
        if made:
            made.close()
    # The rest of the server is fine, and nothing was replaced or written into it.
    assert (await api.get("kernel-bootstrap")).status == 200
    if kind == "directory":
        assert os.listdir(carto_store_path) == ["notes.txt"]
    else:
        assert os.path.exists(carto_store_path) and not os.path.isfile(carto_store_path)
    records = caplog.get_records("call")
    no_traceback(records, errors=True)
    # One line of ours per request, saying what is wrong.
    assert len([r for r in ours(records) if "store_unavailable" in r.getMessage()]) == len(calls)


@pytest.fixture
def leftovers(jp_data_dir):
    """Temp files of a killed server (they hold keys) and an unrelated file, before the start."""
    directory = jp_data_dir / "carto_credentials"
    directory.mkdir(mode=0o700)
    for name in (".accounts-k1ll3d.tmp", ".accounts-x.tmp", ".accounts-keep.json"):
        (directory / name).write_text('{"api_key": "left-behind-key"}')
    return directory


async def test_temp_files_left_by_a_killed_server_are_removed_at_start(leftovers, api):
    assert sorted(os.listdir(leftovers)) == [".accounts-keep.json", "accounts.json.lock"]
    assert (await api.post("accounts", carol())).status == 201


# --- 8: one path rule, bodies and query strings alike --------------------------------------


def uri_component(text):
    """What the frontend sends: JavaScript's encodeURIComponent."""
    return quote(text, safe="-_.!~*'()")


@pytest.mark.parametrize(
    "path",
    [
        " nb.ipynb",
        "nb.ipynb ",
        "a b/c+d.ipynb",
        "100%.ipynb",
        "a&b=c#d?.ipynb",
        "carte d'été/mapa ñ 地図.ipynb",
        "emoji 🗺.ipynb",
    ],
)
async def test_every_path_that_can_be_granted_can_be_removed(api, path):
    assert (await api.put("grants", {"path": path, "decision": "allow"})).status == 200
    answer = await api.raw("GET", "grants?path=" + uri_component(path))
    assert answer.json == {"path": path, "decision": "allow"}
    answer = await api.raw("DELETE", "grants?path=" + uri_component(path))
    assert answer.status == 204
    assert (await api.get("grants")).json == {"grants": {}}


@pytest.mark.parametrize(
    "query",
    [
        "path=%01target.ipynb",
        "path=target.ipynb%0A",
        "path=%00target.ipynb",
        "path=%E2%80%AEtarget.ipynb",  # right-to-left override
        "path=%C2%85target.ipynb",  # NEL, a C1 control
        "path=/target.ipynb",
        "path=../target.ipynb",
        "path=",
        "path=%FFtarget.ipynb",
        "path=target.ipynb&path=other.ipynb",
        "path=target.ipynb&recursive=1",
        "path",
        "",
    ],
)
async def test_a_query_path_the_body_rule_refuses_is_refused_not_rewritten(
    api, carto_store_path, query
):
    await api.put("grants", {"path": "target.ipynb", "decision": "allow"})
    before = file_bytes(carto_store_path)
    assert_error(await api.raw("DELETE", "grants?" + query), 400, "bad_request")
    assert file_bytes(carto_store_path) == before
    assert (await api.get("grants")).json == {"grants": {"target.ipynb": "allow"}}


@pytest.mark.parametrize(
    "path", ["\x01target.ipynb", "\u202etarget.ipynb", "tar\u2028get.ipynb", "\x85target.ipynb"]
)
async def test_the_body_rule_refuses_the_same_characters(api, path):
    message = assert_error(
        await api.put("grants", {"path": path, "decision": "allow"}), 400, "bad_request"
    )
    assert "'path' must be a notebook path" in message


async def test_the_token_in_the_query_string_is_not_an_unknown_argument(api, jp_serverapp):
    await api.put("grants", {"path": "t.ipynb", "decision": "deny"})
    answer = await api.raw(
        "GET", "grants?token=%s&path=t.ipynb" % jp_serverapp.identity_provider.token
    )
    assert answer.json == {"path": "t.ipynb", "decision": "deny"}


async def test_jupyterlab_s_cache_buster_in_the_query_string_is_not_an_argument(api):
    # @jupyterlab/services' makeRequest appends ?<epoch ms> (or &<epoch ms>) to its requests.
    await api.put("grants", {"path": "t.ipynb", "decision": "deny"})
    answer = await api.raw("GET", "grants?1764512345678")
    assert answer.status == 200 and answer.json == {"grants": {"t.ipynb": "deny"}}
    answer = await api.raw("GET", "grants?path=t.ipynb&1764512345678")
    assert answer.json == {"path": "t.ipynb", "decision": "deny"}
    assert (await api.raw("DELETE", "grants?path=t.ipynb&1764512345678")).status == 204
    assert (await api.get("grants")).json == {"grants": {}}


# --- 9: validate does not fetch link-local or metadata hosts --------------------------------


@pytest.fixture
def fetches(monkeypatch):
    """Every live fetch the server would make, answered as CARTO would (no network)."""
    calls = []

    def fake_fetch(base_url, username, api_key, timeout, check_peer=True):
        calls.append(base_url)
        body = json.dumps({"user_data": {"username": "x", "cloud_token": "secret"}}).encode()
        return 200, {}, body

    monkeypatch.setattr(validate, "_fetch_me", fake_fetch)
    return calls


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]:8080/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://100.100.100.200/",
    ],
)
async def test_validate_refuses_link_local_and_metadata_hosts(api, fetches, base_url):
    body = {"base_url": base_url, "api_key": CAROL_KEY, "allow_non_https": True}
    answer = await api.post("validate", body)
    assert answer.status == 200 and answer.json["ok"] is False, answer
    assert answer.json["code"] == "forbidden_host"
    assert "allow_link_local_hosts" in answer.json["message"]
    message = assert_error(
        await api.post("accounts", dict(body, validate=True)), 400, "forbidden_host"
    )
    assert "link-local" in message or "metadata" in message
    assert fetches == []


async def test_validate_refuses_a_name_that_resolves_to_a_metadata_address(
    api, fetches, monkeypatch
):
    real = validate.socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "carto.evil.example":
            return [(2, 1, 6, "", ("169.254.169.254", 443)), (2, 1, 6, "", ("93.184.216.34", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(validate.socket, "getaddrinfo", resolver)
    answer = await api.post(
        "validate", {"base_url": "https://carto.evil.example/", "api_key": CAROL_KEY}
    )
    assert answer.json["code"] == "forbidden_host"
    assert "carto.evil.example (169.254.169.254)" in answer.json["message"]
    assert fetches == []


@pytest.mark.parametrize(
    "base_url", ["http://10.1.2.3/user/carol/", "http://192.168.1.20:8080/", "http://[fd12::7]/"]
)
async def test_private_on_premises_hosts_stay_allowed(api, fetches, base_url):
    body = {"base_url": base_url, "api_key": CAROL_KEY, "allow_non_https": True}
    answer = await api.post("validate", body)
    assert answer.json["ok"] is True, answer
    assert fetches == [validate.normalise_base_url(base_url, True)]


@pytest.mark.parametrize("jp_server_config", [{"allow_link_local_hosts": True}], indirect=True)
async def test_the_administrator_can_allow_link_local_hosts(api, fetches):
    body = {"base_url": "http://169.254.10.10/", "api_key": CAROL_KEY, "allow_non_https": True}
    answer = await api.post("validate", body)
    assert answer.json["ok"] is True, answer
    assert fetches == ["http://169.254.10.10/"]


async def test_only_documented_user_fields_are_kept(api, fetches):
    body = {"base_url": "http://10.1.2.3/", "api_key": CAROL_KEY, "allow_non_https": True}
    answer = await api.post("validate", body)
    assert answer.json["user_info"] == {"username": "x"}


# --- a real server process: its whole output, not only log records ------------------------


def test_hostile_requests_leave_no_traceback_in_a_real_servers_output(jupyter_server, tmp_path):
    fifo = str(tmp_path / "pipe.json")
    os.mkfifo(fifo)
    http, api = jupyter_server.http, jupyter_server.api
    hostile = [
        ("PUT", "grants", DEEP, 400),
        ("POST", "accounts", b'{"api_key": "k", "label": NaN}', 400),
        ("POST", "validate", b'{"api_key": "\xff"}', 400),
        ("POST", "import", json.dumps({"path": fifo}).encode(), 400),
        ("DELETE", "grants?path=%01target.ipynb", None, 400),
        ("GET", "grants?path=%FF", None, 400),
    ]
    for method, path, body, status in hostile:
        answer = http.request(method, api(path), data=body, timeout=10)
        assert answer.status_code == status, (method, path, answer.text)
    answer = http.post(
        api("validate"),
        json={"base_url": "http://169.254.169.254/", "api_key": "k", "allow_non_https": True},
        timeout=10,
    )
    assert answer.json()["code"] == "forbidden_host"
    assert http.get(jupyter_server.url("api/status"), timeout=5).status_code == 200
    output = jupyter_server.log()
    assert "Traceback" not in output and " 500 " not in output, output[-3000:]
