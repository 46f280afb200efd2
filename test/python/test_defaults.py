"""``set/get/unset_default_credentials``: every cartoframes argument form, and the precedence
chain explicit > code > JupyterLab push > environment > account store > creds.json > None."""

import json
import os
import subprocess
import sys

import pytest
from _carto_helpers import KEY, FakeKernel, isolated, push_message  # noqa: F401 (fixture)

from carto_credentials import (
    Credentials,
    InvalidCredentialsError,
    NoCredentialsError,
    defaults,
    get_default_credentials,
    kernel,
    paths,
    resolve_credentials,
    set_default_credentials,
    unset_default_credentials,
)

pytestmark = pytest.mark.usefixtures("isolated", "lab_dirs")


@pytest.fixture
def lab_dirs(tmp_path, monkeypatch):
    """JupyterLab's user settings and application directories of this test only."""
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "lab-user-settings"))
    monkeypatch.setenv("JUPYTERLAB_DIR", str(tmp_path / "lab-app"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.delenv("CARTO_CREDENTIALS_APP_SETTINGS_DIR", raising=False)
    monkeypatch.setattr(defaults, "_env_warned", False, raising=False)
    return tmp_path


NO_FILE = (
    "There is no default credentials file. "
    "Run `Credentials(...).save()` to create a credentials file."
)


def _set(*args, **kwargs):
    set_default_credentials(*args, **kwargs)
    return get_default_credentials()


def _write_creds_json(**content):
    path = paths.cartoframes_creds_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(content, f)
    return path


# -- every argument form ------------------------------------------------------------------------


def test_username_alone_and_with_key():
    assert _set("johnsmith") == Credentials("johnsmith", "default_public")
    assert get_default_credentials().base_url == "https://johnsmith.carto.com"
    assert _set("johnsmith", "k") == Credentials("johnsmith", "k")
    assert _set("johnsmith", "").api_key == "default_public"


def test_url_first_argument_is_a_base_url_without_username():
    c = _set("https://johnsmith.carto.com/", "k")
    assert (c.username, c.base_url, c.api_key) == (None, "https://johnsmith.carto.com", "k")


def test_http_url_needs_allow_non_secure():
    with pytest.raises(ValueError, match="over `https`"):
        set_default_credentials("http://h.example/user/u", "k")
    assert get_default_credentials() is None  # a failed set changes nothing
    assert _set("http://h.example/user/u", "k", allow_non_secure=True).allow_non_secure is True


def test_strings_that_are_neither_url_nor_json_are_usernames():
    # cartoframes then builds https://johnsmith.carto.com.carto.com; the shared username rule
    # (carto_credentials/rules.py, a deliberate difference) refuses them as usernames.
    for text in ("johnsmith.carto.com", "creds.txt"):
        with pytest.raises(ValueError, match="username is not valid"):
            set_default_credentials(text)
    assert get_default_credentials() is None
    assert _set("john-smith_2").base_url == "https://john-smith_2.carto.com"


def test_json_path_positional_or_keyword_reads_the_file_and_ignores_second(tmp_path):
    path = tmp_path / "my.JSON"
    path.write_text(
        json.dumps(
            {
                "username": "filed",
                "api_key": "fk",
                "base_url": "http://h/user/filed",
                "allow_non_secure": True,
            }
        )
    )
    c = _set(str(path), "ignored-key", allow_non_secure=False)
    assert (c.username, c.api_key, c.allow_non_secure) == ("filed", "fk", True)
    assert _set(filepath=str(path)) == c


def test_keywords_username_base_url_api_key():
    assert _set(username="u", api_key="k") == Credentials("u", "k")
    c = _set(base_url="https://onprem.example/user/u/", api_key="k")
    assert (c.username, c.base_url) == (None, "https://onprem.example/user/u")
    # cartoframes' quirks: a URL base_url drops the username, a non-URL one is dropped.
    c = _set(username="u", base_url="https://onprem.example/user/u", api_key="k")
    assert (c.username, c.base_url) == (None, "https://onprem.example/user/u")
    assert (
        _set(username="u", base_url="onprem.example", api_key="k").base_url == "https://u.carto.com"
    )
    with pytest.raises(ValueError, match="at least"):
        set_default_credentials(base_url="onprem.example", api_key="k")


def test_credentials_instance_is_stored_by_identity_and_session_is_set_on_it():
    original = Credentials("u", "k")
    assert _set(original, "ignored") is original
    assert _set(credentials=original, session="sess") is original
    assert original.session == "sess"
    assert _set("u", session="s2").session == "s2"


def test_first_positional_wins_over_keywords():
    assert _set("u", username="ignored").username == "u"


def test_no_usable_argument_reads_creds_json_or_raises_cartoframes_message():
    for call in (
        lambda: set_default_credentials(),
        lambda: set_default_credentials(api_key="k"),
        lambda: set_default_credentials({"username": "x"}),
        lambda: set_default_credentials("u", 123),
    ):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert str(info.value) == NO_FILE
    _write_creds_json(username="saved", api_key="sk")
    assert _set() == Credentials("saved", "sk")
    assert _set(api_key="k") == Credentials("saved", "sk")


def test_an_object_only_named_credentials_is_no_credentials_as_in_cartoframes():
    # e.g. google.oauth2.credentials.Credentials: cartoframes 1.2.5 falls back to its file.
    google = type(sys)("google.oauth2.credentials")

    class GoogleCredentials:
        token = "ya29.token"

    GoogleCredentials.__name__ = "Credentials"
    GoogleCredentials.__module__ = google.__name__
    for call in (
        lambda: set_default_credentials(GoogleCredentials()),
        lambda: set_default_credentials(credentials=GoogleCredentials()),
    ):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert str(info.value) == NO_FILE
    _write_creds_json(username="saved", api_key="sk")
    assert _set(GoogleCredentials()) == Credentials("saved", "sk")
    assert _set(credentials=GoogleCredentials(), api_key="k") == Credentials("saved", "sk")


def test_a_cartoframes_credentials_instance_is_accepted():
    fake_module = type(sys)("cartoframes.auth.credentials")

    class CFCredentials:
        username, api_key, base_url, session, allow_non_secure = (
            "cf",
            "ck",
            "https://cf.carto.com",
            None,
            False,
        )

    CFCredentials.__name__ = "Credentials"
    CFCredentials.__module__ = fake_module.__name__
    assert _set(CFCredentials()) == Credentials("cf", "ck")


def test_unset_clears_the_code_default():
    set_default_credentials("u", "k")
    unset_default_credentials()
    assert get_default_credentials() is None


# -- precedence -----------------------------------------------------------------------------------


def _write_store(accounts, default):
    path = paths.store_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"version": 1, "default_account": default, "accounts": accounts, "grants": {}}, f)


STORE_ACCOUNT = {
    "id": "acc-s",
    "label": "store",
    "username": "stored",
    "base_url": "https://stored.carto.com/",
    "api_key": "store-key",
    "user_info": None,
    "created_at": "2024-01-01T00:00:00Z",
}


def _pushed(state="granted", **kw):
    fake = FakeKernel()
    kernel.register_target(fake)
    return fake.comm_manager.open(push_message(state=state, **kw))


def test_full_precedence_chain(monkeypatch):
    assert get_default_credentials() is None and defaults.default_credentials_source() is None

    _write_creds_json(username="fromfile", api_key="fk")
    assert get_default_credentials() == Credentials("fromfile", "fk")
    assert defaults.default_credentials_source() == "creds.json"

    _write_store(
        [
            {"id": "other", "username": "x", "base_url": "https://x.carto.com/", "api_key": "x"},
            STORE_ACCOUNT,
        ],
        "acc-s",
    )
    assert get_default_credentials() == Credentials(
        "stored", "store-key", "https://stored.carto.com"
    )

    monkeypatch.setenv("CARTO_USERNAME", "envuser")
    monkeypatch.setenv("CARTO_API_KEY", "envkey")
    assert get_default_credentials() == Credentials("envuser", "envkey")

    _pushed(username="alice", api_key=KEY)
    assert get_default_credentials() == Credentials("alice", KEY, "https://alice.carto.com/")
    assert defaults.default_credentials_source() == "jupyterlab"

    set_default_credentials("coder", "ck")
    assert get_default_credentials() == Credentials("coder", "ck")
    explicit = Credentials("explicit", "ek")
    assert resolve_credentials(explicit) is explicit
    assert resolve_credentials() == Credentials("coder", "ck")

    unset_default_credentials()
    assert defaults.default_credentials_source() == "jupyterlab"


def test_not_granted_withholds_the_store_and_creds_json_but_not_the_environment(monkeypatch):
    _write_store([STORE_ACCOUNT], "acc-s")
    _write_creds_json(username="fromfile", api_key="fk")
    _pushed(state="not_granted")
    assert get_default_credentials() is None
    with pytest.raises(NoCredentialsError) as info:
        resolve_credentials()
    assert "has not allowed this notebook" in str(info.value)
    assert "Allow CARTO Access for This Notebook" in str(info.value)
    # Under the policy never, allowing the notebook would change nothing: say what would.
    _lab_setting('{"kernelAccess": "never"}')
    with pytest.raises(NoCredentialsError) as info:
        resolve_credentials()
    assert "the kernel access setting is 'Never'" in str(info.value)
    assert "Allow CARTO Access" not in str(info.value)
    os.remove(
        os.path.join(
            os.environ["JUPYTERLAB_SETTINGS_DIR"],
            "jupyterlab-carto-credentials",
            "plugin.jupyterlab-settings",
        )
    )
    monkeypatch.setenv("CARTO_BASE_URL", "https://onprem.example/user/e")
    assert get_default_credentials() == Credentials(base_url="https://onprem.example/user/e")


def test_no_account_push_falls_through_to_the_store():
    _write_store([STORE_ACCOUNT], "acc-s")
    _pushed(state="no_account")
    assert defaults.default_credentials_source() == "account store"


def test_environment_variants(monkeypatch):
    monkeypatch.setenv("CARTO_BASE_URL", "http://127.0.0.1:1/user/u")
    with pytest.raises(InvalidCredentialsError, match="CARTO_BASE_URL"):
        get_default_credentials()
    monkeypatch.setenv("CARTO_ALLOW_NON_SECURE", "1")
    monkeypatch.setenv("CARTO_API_KEY", KEY)
    c = get_default_credentials()
    assert (c.base_url, c.api_key, c.username) == ("http://127.0.0.1:1/user/u", KEY, None)
    monkeypatch.delenv("CARTO_API_KEY")
    assert get_default_credentials().api_key == "default_public"


def test_broken_store_and_creds_json_are_skipped_with_a_log_line_without_secrets(caplog):
    path = paths.store_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"version": 1, "api_key": "' + KEY + '"')  # truncated JSON
    _write_creds_json(api_key=KEY)  # neither username nor base_url
    with caplog.at_level("WARNING", logger="carto_credentials"):
        assert get_default_credentials() is None
    assert "account store" in caplog.text and "credentials file" in caplog.text
    assert KEY not in caplog.text


def test_store_default_missing_or_unknown_format_gives_nothing():
    _write_store([STORE_ACCOUNT], "acc-gone")
    assert get_default_credentials() is None
    with open(paths.store_path(), "w") as f:
        json.dump({"version": 2}, f)
    assert get_default_credentials() is None


def test_no_credentials_error_says_how_to_log_in():
    with pytest.raises(NoCredentialsError) as info:
        resolve_credentials()
    message = str(info.value)
    assert "CARTO panel" in message and "set_default_credentials" in message
    assert "CARTO_USERNAME" in message
    assert isinstance(info.value, ValueError)


# -- cartoframes is never imported by set/unset ---------------------------------------------------

FAKE_CARTOFRAMES_AUTH = """
_default_credentials = None
class Credentials:
    def __init__(self, username=None, api_key="default_public", base_url=None, session=None,
                 allow_non_secure=False):
        self.args = (username, api_key, base_url, session, allow_non_secure)
def set_default_credentials(credentials):
    global _default_credentials
    _default_credentials = credentials
def unset_default_credentials():
    global _default_credentials
    _default_credentials = None
def get_default_credentials():
    return _default_credentials
"""


@pytest.fixture
def fake_cartoframes(tmp_path, monkeypatch):
    package = tmp_path / "site" / "cartoframes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "auth.py").write_text(FAKE_CARTOFRAMES_AUTH)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield
    for name in [n for n in sys.modules if n == "cartoframes" or n.startswith("cartoframes.")]:
        del sys.modules[name]


# cartoframes.auth following set/unset (and every other level): test_cartoframes_context.py.


def test_a_broken_cartoframes_does_not_break_our_default(fake_cartoframes, tmp_path):
    (tmp_path / "site" / "cartoframes" / "auth.py").write_text("raise RuntimeError('boom')")
    set_default_credentials("u", "k")
    assert get_default_credentials() == Credentials("u", "k")


# -- grants and the kernel-access policy on the kernel's own fallbacks (issue 10, kind 3a) --------


def _lab_setting(text):
    path = os.path.join(os.environ["JUPYTERLAB_SETTINGS_DIR"], "jupyterlab-carto-credentials")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "plugin.jupyterlab-settings"), "w") as f:
        f.write(text)


def _override(policy):
    path = os.path.join(os.environ["JUPYTERLAB_DIR"], "settings")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "overrides.json"), "w") as f:
        json.dump({"jupyterlab-carto-credentials:plugin": {"kernelAccess": policy}}, f)


def _store_with_grants(grants):
    path = paths.store_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(
            {
                "version": 1,
                "default_account": "acc-s",
                "accounts": [STORE_ACCOUNT],
                "grants": grants,
            },
            f,
        )


@pytest.fixture
def no_push(monkeypatch, tmp_path):
    """A kernel started by jupyter_server for a notebook whose push never comes (short wait)."""
    monkeypatch.setattr(kernel, "PUSH_WAIT_SECONDS", 0.2)
    kernel.register_target(FakeKernel())

    def session(os_path):
        monkeypatch.setenv("JPY_SESSION_NAME", os_path)

    return session


STORED = Credentials("stored", "store-key", "https://stored.carto.com")


@pytest.mark.parametrize(
    "hint",
    ["/srv/notebooks/work/map.ipynb", "work/map.ipynb"],  # jupyter_server: OS path, or as given
)
def test_a_denied_notebook_without_a_push_gets_no_store_key_nor_creds_json(no_push, hint):
    _store_with_grants({"work/map.ipynb": "deny", "other.ipynb": "allow"})
    _write_creds_json(username="fromfile", api_key="fk")
    no_push(hint)
    assert get_default_credentials() is None
    with pytest.raises(NoCredentialsError) as info:
        resolve_credentials()
    assert "denied access" in str(info.value) and "store-key" not in str(info.value)


def test_an_undecided_or_allowed_notebook_without_a_push_gets_the_store_default(no_push):
    _store_with_grants({"work/map.ipynb": "deny", "b.ipynb": "allow"})
    no_push("/srv/notebooks/work/other.ipynb")  # undecided (policy ask): other front ends work
    assert get_default_credentials() == STORED
    kernel._bridge.reset()
    kernel.register_target(FakeKernel())
    no_push("/srv/notebooks/b.ipynb")
    assert get_default_credentials() == STORED


def test_the_pushed_session_path_is_the_grant_key(no_push):
    _store_with_grants({"work/map.ipynb": "deny"})
    no_push("/srv/elsewhere.ipynb")
    _pushed(state="no_account")  # session_path work/map.ipynb
    assert get_default_credentials() is None


@pytest.mark.parametrize(
    "settings",
    [
        '{\n    // managed by JupyterLab\n    "kernelAccess": "never",\n}',
        '{"kernelAccess": "never", "showStatusBar": false}',
        "{kernelAccess: 'never' /* JSON5 */}",
        # JSON5 as jupyterlab_server reads it: the key inside a string is not the setting.
        "{note: \"kernelAccess: 'always'\", kernelAccess: 'never', limit: 0x10,}",
    ],
)
def test_policy_never_withholds_every_fallback_but_the_environment(no_push, monkeypatch, settings):
    _store_with_grants({"work/map.ipynb": "allow"})
    _write_creds_json(username="fromfile", api_key="fk")
    _lab_setting(settings)
    no_push("/srv/work/map.ipynb")
    assert get_default_credentials() is None
    with pytest.raises(NoCredentialsError, match="policy in the CARTO settings is `never`"):
        resolve_credentials()
    monkeypatch.setenv("CARTO_USERNAME", "envuser")
    assert get_default_credentials() == Credentials("envuser")


def test_policy_from_an_administrators_override_unless_the_user_chose(no_push):
    _store_with_grants({})
    _override("never")
    no_push("/srv/a.ipynb")
    assert get_default_credentials() is None
    _lab_setting('{\n    // "kernelAccess": "never",\n    "kernelAccess": "always"\n}')
    assert get_default_credentials() == STORED


def test_policy_always_ignores_a_deny_grant(no_push):
    _store_with_grants({"a.ipynb": "deny"})
    _lab_setting('{"kernelAccess": "always"}')
    no_push("/srv/a.ipynb")
    assert get_default_credentials() == STORED


def test_a_late_not_granted_revokes_what_a_fallback_gave(no_push):
    _store_with_grants({})
    no_push("/srv/work/map.ipynb")
    assert get_default_credentials() == STORED  # after the bounded wait
    _pushed(state="not_granted")
    assert get_default_credentials() is None
    assert defaults.default_credentials_source() is None


def test_the_kernel_reads_the_store_with_the_servers_parser(monkeypatch):
    from carto_credentials.server import store

    calls = []
    original = store._shape_problem
    monkeypatch.setattr(store, "_shape_problem", lambda data: calls.append(1) or original(data))
    _store_with_grants({})
    assert get_default_credentials() == STORED and calls
    # A store the server would refuse (here: a grant that is neither allow nor deny) is refused.
    _store_with_grants({"a.ipynb": "maybe"})
    assert get_default_credentials() is None
    # ...and reading it imports no Jupyter server code (pytest-jupyter has, in this process).
    code = (
        "import sys; from carto_credentials import access; access.read_store(); "
        "assert 'carto_credentials.server.store' in sys.modules; "
        "print([m for m in sys.modules if m.split('.')[0] in ('jupyter_server', 'tornado')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the environment's messages (issue 10, kind 10) -----------------------------------------------


def test_a_key_without_username_or_base_url_is_warned_about_once(monkeypatch):
    monkeypatch.setenv("CARTO_API_KEY", KEY)
    _write_creds_json(username="fromfile", api_key="fk")
    with pytest.warns(UserWarning) as caught:
        assert get_default_credentials() == Credentials("fromfile", "fk")
    message = str(caught[0].message)
    assert "CARTO_USERNAME" in message and "CARTO_BASE_URL" in message and KEY not in message
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_default_credentials()  # once


def test_an_http_base_url_in_the_environment_names_carto_allow_non_secure(monkeypatch):
    monkeypatch.setenv("CARTO_BASE_URL", "http://127.0.0.1:1/user/u")
    with pytest.raises(InvalidCredentialsError) as info:
        get_default_credentials()
    assert "CARTO_ALLOW_NON_SECURE=1" in str(info.value) and ".." not in str(info.value)


def _annotated(schema, values):
    """The settings file as JupyterLab 4 writes it (settingregistry's annotatedPlugin)."""
    lines = ["{", "    // " + schema["title"], "    // jupyterlab-carto-credentials:plugin"]
    lines += ["    // " + schema["description"], "    // " + "*" * 40, ""]
    entries = []
    for key in sorted(values):
        props = schema["properties"][key]
        entries.append(
            "\n".join(
                [
                    "    // " + props["title"],
                    "    // " + props["description"],
                    "    " + json.dumps(key) + ": " + json.dumps(values[key]),
                ]
            )
        )
    return "\n".join(lines) + ",\n\n".join(entries) + "\n}"


def test_policy_in_the_file_jupyterlab_server_writes(no_push):
    from jupyterlab_server.settings_utils import SETTINGS_EXTENSION, _path

    plugin = "jupyterlab-carto-credentials:plugin"
    root = os.environ["JUPYTERLAB_SETTINGS_DIR"]
    assert paths.lab_user_settings_path(plugin) == _path(root, plugin, False, SETTINGS_EXTENSION)
    with open(os.path.join(os.path.dirname(paths.__file__), "..", "schema", "plugin.json")) as f:
        schema = json.load(f)
    _store_with_grants({})
    no_push("/srv/a.ipynb")
    values = {"baseUrlTemplate": "https://carto.example.com/user/{username}/", "kernelAccess": ""}
    for policy, expected in (("never", None), ("always", STORED), ("ask", STORED)):
        values["kernelAccess"] = policy
        _lab_setting(_annotated(schema, values))
        assert get_default_credentials() == expected, policy


def test_a_deny_bound_to_a_replaced_notebook_no_longer_holds_as_on_the_server(no_push, tmp_path):
    from carto_credentials.server import fileid

    notebook = tmp_path / "srv" / "work" / "map.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    _store_with_grants({"work/map.ipynb": "deny"})
    with open(paths.store_path()) as f:
        content = json.load(f)
    content["grant_files"] = {"work/map.ipynb": fileid.identity(str(notebook))}
    with open(paths.store_path(), "w") as f:
        json.dump(content, f)
    no_push(str(notebook))
    assert get_default_credentials() is None  # the very notebook that was denied
    replacement = tmp_path / "srv" / "work" / "new.ipynb"
    replacement.write_text("{}")
    os.replace(replacement, notebook)  # another file under the same name
    assert get_default_credentials() == STORED  # undecided, as the server sees it
    # Without an OS path the binding cannot be checked: the deny is kept.
    no_push("work/map.ipynb")
    assert get_default_credentials() is None
