"""``Credentials``: cartoframes 1.x parity, and the documented deliberate differences."""

import json
import os
import stat

import pytest
from _carto_helpers import KEY, carto, isolated  # noqa: F401 (fixtures)

from carto_credentials import AuthenticationError, Credentials, DOError, NotFoundError, paths

pytestmark = pytest.mark.usefixtures("isolated")

NEED_ONE = "You must set at least a `username` or a `base_url` parameters"
NEED_HTTPS = (
    "`base_url`s need to be over `https`. Update your `base_url` or set `allow_non_secure`."
)
NO_FILE = (
    "There is no default credentials file. "
    "Run `Credentials(...).save()` to create a credentials file."
)


# -- construction (cartoframes' own unit tests, adapted) -------------------------------------


def test_username_and_key_derive_the_base_url_without_trailing_slash():
    c = Credentials("fake_user", "fake_api_key")
    assert (c.username, c.api_key, c.base_url) == (
        "fake_user",
        "fake_api_key",
        "https://fake_user.carto.com",
    )
    assert Credentials(username="fake_user", api_key="fake_api_key") == c


def test_api_key_defaults_to_default_public_and_explicit_none_is_kept():
    assert Credentials("fake_user").api_key == "default_public"
    assert Credentials("fake_user", None).api_key is None


def test_base_url_only_keeps_username_none_and_strips_slashes():
    c = Credentials(api_key="k", base_url="https://fake_user.carto.com///")
    assert c.username is None
    assert c.base_url == "https://fake_user.carto.com"


def test_onprem_base_url_wins_and_username_is_kept_unchanged():
    c = Credentials(
        api_key="k", username="fake_user", base_url="https://turtleland.com/user/fake_user/"
    )
    assert c.base_url == "https://turtleland.com/user/fake_user"
    assert c.username == "fake_user"


def test_username_is_not_lowercased_but_follows_the_shared_rules():
    assert Credentials("JohnSmith").base_url == "https://JohnSmith.carto.com"
    # cartoframes gives "https:// .carto.com"; we refuse it (deliberate, see rules.py).
    with pytest.raises(ValueError, match="The username contains a space"):
        Credentials(" ")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"api_key": "k"},
        {"username": None, "base_url": None},
        {"username": ""},
        {"username": 123},
    ],
)
def test_without_username_or_base_url_raises_cartoframes_message(kwargs):
    with pytest.raises(ValueError) as info:
        Credentials(**kwargs)
    assert str(info.value) == NEED_ONE


@pytest.mark.parametrize(
    "base_url",
    [
        "http://x.carto.com",
        "x.carto.com",
        "ftp://x.carto.com",
    ],
)
def test_non_https_base_url_raises_cartoframes_message(base_url):
    with pytest.raises(ValueError) as info:
        Credentials(base_url=base_url)
    assert str(info.value) == NEED_HTTPS


def test_presence_check_runs_before_https_check_and_empty_base_url_fails_https():
    with pytest.raises(ValueError, match="at least"):
        Credentials(base_url="")
    with pytest.raises(ValueError) as info:
        Credentials("u", base_url="")
    assert str(info.value) == NEED_HTTPS


def test_scheme_case_and_allow_non_secure():
    assert Credentials(base_url="HTTPS://x.carto.com").base_url == "HTTPS://x.carto.com"
    c = Credentials(base_url="http://h.example/user/u/", allow_non_secure=True)
    assert (c.base_url, c.allow_non_secure) == ("http://h.example/user/u", True)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:pw@x.carto.com",
        "https://x.carto.com/?api_key=1",
        "https://x.carto.com/#a",
    ],
)
def test_user_info_query_and_fragment_are_refused_without_echoing_the_url(base_url):
    with pytest.raises(ValueError) as info:
        Credentials(base_url=base_url)
    assert "pw" not in str(info.value) and "api_key" not in str(info.value)


def test_session_is_read_write():
    c = Credentials("u")
    assert c.session is None
    c.session = "s"
    assert c.session == "s"


# -- equality, hashing, display ---------------------------------------------------------------


def test_equality_compares_key_username_and_normalised_base_url_only():
    assert Credentials("u", "k") == Credentials("u", "k", base_url="https://u.carto.com/")
    assert Credentials("u", "k", session=1) == Credentials("u", "k", session=2)
    assert Credentials("u") != Credentials(base_url="https://u.carto.com")
    assert Credentials("u", "k") != Credentials("u", "other")


def test_comparing_with_non_credentials_is_false_not_an_error():
    c = Credentials("u", "k")
    assert (c == "u") is False
    assert (c != None) is True  # noqa: E711
    assert c != {"username": "u", "api_key": "k"}


def test_instances_are_hashable_consistently_with_equality():
    a = Credentials("u", "k")
    b = Credentials("u", "k", base_url="https://u.carto.com/")
    assert hash(a) == hash(b)
    assert len({a, b, Credentials("u", "k2")}) == 2


def test_repr_and_str_mask_the_key_keeping_the_last_four_characters():
    c = Credentials("fake_user", KEY)
    expected = (
        "Credentials(username='fake_user', api_key='***4567', "
        "base_url='https://fake_user.carto.com')"
    )
    assert repr(c) == expected and str(c) == expected and f"{c}" == expected
    assert KEY[:-4] not in repr(c)


def test_repr_shows_default_public_none_and_fully_masks_short_keys():
    assert repr(Credentials("u")) == (
        "Credentials(username='u', api_key='default_public', base_url='https://u.carto.com')"
    )
    assert "username='None', api_key='None'" in repr(
        Credentials(api_key=None, base_url="https://u.carto.com")
    )
    assert "api_key='***'" in repr(Credentials("u", "short-secret"))
    assert "short" not in repr(Credentials("u", "short-secret"))


# -- from_credentials / from_file ---------------------------------------------------------------


def test_from_credentials_copies_every_field():
    c = Credentials("u", "k", session="s", base_url="http://h/user/u", allow_non_secure=True)
    copy = Credentials.from_credentials(c)
    assert copy == c and copy is not c
    assert (copy.session, copy.allow_non_secure) == ("s", True)


def test_from_credentials_rejects_other_objects():
    with pytest.raises(ValueError) as info:
        Credentials.from_credentials({})
    assert str(info.value) == "`credentials` must be a Credentials class instance."


def test_from_file_missing_file_keeps_cartoframes_message_for_the_default_file_only(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        Credentials.from_file()
    assert str(info.value) == NO_FILE
    # cartoframes says "no default credentials file" for any path; we name the one asked for.
    for path, shown in (
        (str(tmp_path / "nope.json"), repr(str(tmp_path / "nope.json"))),
        ("", "''"),
    ):
        with pytest.raises(FileNotFoundError) as info:
            Credentials.from_file(path)
        assert str(info.value) == (
            f"There is no credentials file at {shown}. Check the path, or run "
            f"`Credentials(...).save({shown})` to create it."
        )
    with pytest.raises(FileNotFoundError, match="nope.json"):
        Credentials.from_file(tmp_path / "nope.json")  # a pathlib.Path, as open() takes


def test_from_file_quirks(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"username": "u", "extra": 1}))
    c = Credentials.from_file(str(path), session="sess")
    assert (c.api_key, c.allow_non_secure, c.session) == (None, None, "sess")

    path.write_text(json.dumps({"base_url": "http://h/user/u", "api_key": "k"}))
    with pytest.raises(ValueError, match="https"):
        Credentials.from_file(str(path))

    path.write_text(json.dumps({"api_key": "k"}))
    with pytest.raises(ValueError, match="at least"):
        Credentials.from_file(str(path))


@pytest.mark.parametrize(
    "content, error, says",
    [
        # cartoframes' exception types, with the file named and what is wrong, never the content.
        (
            '{"username": "u", "api_key": "secret-key-0001"',
            json.JSONDecodeError,
            "is not valid JSON",
        ),
        ("{not json", json.JSONDecodeError, "is not valid JSON (Expecting property name"),
        ("", json.JSONDecodeError, "is not valid JSON (Expecting value)"),
        ('["u", "secret-key-0001"]', AttributeError, "holds a JSON array, not an object"),
        ('"secret-key-0001"', AttributeError, "holds a JSON string, not an object"),
        ("null", AttributeError, "holds a JSON null, not an object"),
        ("true", AttributeError, "holds a JSON boolean, not an object"),
        ("1e3", AttributeError, "holds a JSON number, not an object"),
    ],
)
def test_from_file_bad_content_names_the_file_and_keeps_cartoframes_exception_type(
    tmp_path, content, error, says
):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(error) as info:
        Credentials.from_file(str(path))
    message = str(info.value)
    assert message.startswith(f"The credentials file {str(path)!r} ") and says in message
    assert "secret-key-0001" not in message
    # No chained exception shows json's own error (whose doc is the file's content) either.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


# -- save / delete ------------------------------------------------------------------------------


def test_save_to_default_path_writes_cartoframes_format_with_mode_0600(capsys):
    Credentials("u", "k").save()
    path = paths.cartoframes_creds_path()
    with open(path) as f:
        assert f.read() == (
            '{"username": "u", "api_key": "k", '
            '"base_url": "https://u.carto.com", "allow_non_secure": false}'
        )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert capsys.readouterr().out == (
        f"User credentials for `u` were successfully saved to `{path}`\n"
    )
    assert Credentials.from_file() == Credentials("u", "k")


def test_save_tightens_an_existing_world_readable_file_and_never_prints_the_key(tmp_path, capsys):
    path = tmp_path / "creds.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    Credentials(base_url="http://h.example/user/u", api_key=KEY, allow_non_secure=True).save(
        str(path)
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["username"] is None
    out = capsys.readouterr().out
    assert (
        out == "User credentials for `http://h.example/user/u` were successfully saved to "
        f"`{path}`\n"
    )
    assert KEY not in out


def test_save_does_not_create_parent_of_explicit_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        Credentials("u").save(str(tmp_path / "missing" / "c.json"))
    with pytest.raises(FileNotFoundError):
        Credentials("u").save("")


def test_delete_removes_and_reports_never_raises(tmp_path, capsys):
    path = tmp_path / "c.json"
    Credentials("u").save(str(path))
    capsys.readouterr()
    Credentials.delete(str(path))
    assert not path.exists()
    assert capsys.readouterr().out == f"Credentials at {path} successfully removed.\n"
    Credentials("u").delete(str(path))  # works on an instance too
    assert capsys.readouterr().out == f"No credential file found at {path}.\n"


def test_delete_with_empty_string_deletes_the_default_file():
    Credentials("u").save()
    Credentials.delete("")
    assert not os.path.exists(paths.cartoframes_creds_path())
    with pytest.raises(FileNotFoundError):
        Credentials.from_file()


# -- HTTP: me_data, user_id, Data Observatory ----------------------------------------------------


def _local(carto, key=KEY, prefix=""):
    return Credentials(base_url=carto.url + prefix, api_key=key, allow_non_secure=True)


def test_me_data_calls_api_v3_me_with_the_key_and_keeps_onprem_prefix(carto):
    carto.route("/user/u/api/v3/me", payload={"user_data": {"id": "uid-1", "username": "u"}})
    c = _local(carto, prefix="/user/u/")
    assert c.me_data == {"user_data": {"id": "uid-1", "username": "u"}}
    request = carto.requests[-1]
    assert (request["method"], request["path"], request["basic"]) == (
        "GET",
        "/user/u/api/v3/me",
        ("", KEY),
    )
    assert request["params"] == {}


def test_me_data_returns_cartos_error_body_on_an_http_error_as_cartoframes(carto):
    # cartoframes 1.2.5 does not check the status (test_carto_api_cartoframes runs the real one).
    carto.route("/api/v3/me", status=401, payload={"errors": ["Unauthorized"]})
    c = _local(carto)
    assert c.me_data == {"errors": ["Unauthorized"]}
    assert c.user_id is None
    carto.route("/api/v3/me", status=404, payload={"errors": ["not found"], "user_data": None})
    assert _local(carto).me_data == {"errors": ["not found"], "user_data": None}
    assert _local(carto).user_id is None


def test_me_data_gives_nothing_without_a_json_answer(carto):
    carto.route("/api/v3/me", payload=b"<html>")
    assert _local(carto).me_data == {}
    carto.route("/api/v3/me", status=500, payload=b"<html>")
    assert _local(carto).me_data == {}
    assert Credentials(base_url="http://127.0.0.1:9", allow_non_secure=True).me_data == {}
    # carto-python raises CartoRateLimitException on a 429 with Retry-After (me_data: {}).
    carto.route(
        "/api/v3/me", status=429, payload={"errors": ["limit"]}, headers={"Retry-After": "3"}
    )
    assert _local(carto).me_data == {}
    carto.route("/api/v3/me", status=429, payload={"errors": ["limit"]})
    assert _local(carto).me_data == {"errors": ["limit"]}


def test_me_data_never_follows_a_redirect_with_the_key(carto):
    carto.route(
        "/api/v3/me",
        status=301,
        payload={"errors": ["moved"]},
        headers={"Location": carto.url + "/elsewhere/api/v3/me"},
    )
    assert _local(carto).me_data == {}
    assert [r["path"] for r in carto.requests] == ["/api/v3/me"]


def test_user_id_is_cached_once_truthy(carto):
    carto.route("/api/v3/me", payload={"user_data": {"id": "uid-1"}})
    c = _local(carto)
    assert c.user_id == "uid-1" and c.user_id == "uid-1"
    assert len(carto.requests) == 1
    carto.route("/api/v3/me", payload={})
    assert _local(carto).user_id is None


def test_get_gcloud_credentials_uses_do_token_endpoint_and_caches(carto):
    carto.route(
        "/user/u/api/v4/do/token",
        payload={"access_token": "gtoken", "bq_project": "proj", "instant_licensing": True},
    )
    c = _local(carto, prefix="/user/u")
    assert c.get_gcloud_credentials() == ("proj", "gtoken")
    assert c.is_instant_licensing_active() is True
    assert [r["path"] for r in carto.requests] == ["/user/u/api/v4/do/token"]
    assert carto.requests[0]["basic"] == ("", KEY) and carto.requests[0]["params"] == {}


def test_get_gcloud_credentials_do_not_enabled_gives_cartoframes_message(carto):
    carto.route(
        "/api/v4/do/token",
        status=500,
        payload={"errors": ["The user does not have Data Observatory enabled"]},
    )
    with pytest.raises(DOError) as info:
        _local(carto).get_gcloud_credentials()
    assert str(info.value).startswith(
        "We are sorry, the Data Observatory is not enabled for your account yet."
    )


def test_get_gcloud_credentials_bad_key_error_has_no_key(carto):
    carto.route("/api/v4/do/token", status=401, payload={"errors": ["Unauthorized"]})
    with pytest.raises(AuthenticationError) as info:
        _local(carto).get_gcloud_credentials()
    assert KEY not in str(info.value) and "/api/v4/do/token" in str(info.value)


def test_a_requests_style_session_is_used_when_given():
    class Response:
        status_code = 200
        content = b'{"user_data": {"id": "from-session"}}'

    class Session:
        calls = []

        def request(self, method, url, **kwargs):
            self.calls.append((method, url, kwargs["params"], kwargs["auth"]))
            assert kwargs["allow_redirects"] is False
            return Response()

    c = Credentials("u", "k", session=Session())
    assert c.user_id == "from-session"
    assert Session.calls == [("GET", "https://u.carto.com/api/v3/me", {}, ("u", "k"))]


def test_cartos_sentences_are_not_followed_by_a_second_period(carto):
    # Issue 10 kind 10: "…correct domain.. Check…".
    carto.route(
        "/api/v4/do/token",
        status=404,
        payload={
            "errors": [
                "Sorry, we can't find CARTO user 'x'. Please check that you have entered the "
                "correct domain."
            ]
        },
    )
    with pytest.raises(NotFoundError) as info:
        _local(carto).get_gcloud_credentials()
    assert "correct domain. Check the username" in str(info.value)
    assert ".." not in str(info.value)
