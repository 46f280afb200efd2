"""The shared rules (carto_credentials/rules.json) against the shared cases (test/rules-cases.json).

test/rules.spec.ts runs the same cases through src/rules.ts: both languages must give the same
answer, word for word.
"""

import json
import os

import pytest

from carto_credentials import rules

CASES_PATH = os.path.join(os.path.dirname(__file__), "..", "rules-cases.json")
with open(CASES_PATH, encoding="utf-8") as _file:
    CASES = json.load(_file)["cases"]


def _input(case):
    if "input_repeat" in case:
        text, times = case["input_repeat"]
        return text * times
    return case["input"]


def _value(case):
    if "value_repeat" in case:
        text, times = case["value_repeat"]
        return text * times
    return case["value"]


def _id(case):
    shown = json.dumps(_input(case))
    return "%s:%s" % (case["field"], shown if len(shown) < 40 else shown[:37] + "...")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_shared_case(case):
    given = _input(case)
    allow_http = case.get("allow_http", False)
    if "code" not in case:
        assert rules.check(case["field"], given, allow_http) == _value(case)
        return
    with pytest.raises(rules.RuleError) as info:
        rules.check(case["field"], given, allow_http)
    err = info.value
    assert (err.field, err.code) == (case["field"], case["code"])
    assert str(err) == err.message
    if "message" in case:
        assert err.message == case["message"]
    for fragment in case.get("says", []):
        assert fragment in err.message
    shown = given.strip() if isinstance(given, str) else ""
    if len(shown) > 3 and shown != rules.PUBLIC_API_KEY and case["field"] != "base_url":
        assert shown not in err.message, "a message never shows the value"


def test_every_kind_of_problem_is_covered_by_a_case():
    kinds = set(rules.RULES["messages"]) | set(rules.RULES["base_url"]["messages"])
    seen = set()
    for case in CASES:
        if "code" not in case:
            continue
        try:
            rules.check(case["field"], _input(case), case.get("allow_http", False))
        except rules.RuleError as err:
            for kind, template in rules.RULES["messages"].items():
                head = template.split("{field}")[1].split("{")[0] if "{field}" in template else ""
                if head and head in err.message:
                    seen.add(kind)
            for kind, text in rules.RULES["base_url"]["messages"].items():
                if err.message == text:
                    seen.add(kind)
    assert kinds <= seen, sorted(kinds - seen)


def test_the_public_key_is_a_valid_key_defined_once():
    assert rules.check_api_key(rules.PUBLIC_API_KEY) == "default_public"
    from carto_credentials import credentials

    assert credentials.DEFAULT_PUBLIC is rules.PUBLIC_API_KEY


def test_rule_errors_are_value_errors():
    with pytest.raises(ValueError):
        rules.check_username("alice\n")


def test_the_module_needs_nothing_but_the_standard_library():
    import subprocess
    import sys

    code = (
        "import sys, importlib.util, os;"
        "spec = importlib.util.spec_from_file_location('r', %r);"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "('jupyter_server', 'tornado', 'requests', 'carto_credentials'));"
        "print(bad); sys.exit(1 if bad else 0)" % rules.__file__
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the same rules where they are applied: REST, Credentials, the comm ------------------------

KEY = "rules-key-0123456789"


@pytest.fixture
def jp_server_config():
    from conftest import carto_server_config

    return carto_server_config()


def _body(**extra):
    return dict({"username": "carol", "api_key": KEY, "validate": False}, **extra)


@pytest.mark.parametrize(
    "change, code, says",
    [
        ({"username": "alice\n"}, "bad_username", "U+000A"),
        ({"username": "ali\u202ece"}, "bad_username", "bidirectional"),
        ({"api_key": "default_public\n"}, "bad_key_format", "U+000A"),
        ({"api_key": "key\u0000"}, "bad_key_format", "U+0000"),
        ({"api_key": "key with space"}, "bad_key_format", "space"),
        ({"base_url": "https:"}, "bad_url", "no host name"),
        ({"base_url": "https://x.example/\r\n"}, "bad_url", "U+000D"),
        ({"base_url": "https://u:p@x.example/"}, "bad_url", "user name or password"),
        ({"base_url": "https://x.example/?a=1"}, "bad_url", "query string"),
        ({"base_url": "https://x.example/#a"}, "bad_url", "fragment"),
        ({"label": "work\u202e"}, "bad_request", "'label' is refused: The label contains a bidi"),
        ({"label": "a\u2028b"}, "bad_request", "'label' is refused: The label contains an invis"),
    ],
)
async def test_rest_refuses_with_the_rules_message(
    carto_rest, carto_store_path, change, code, says
):
    body = _body(**change)
    answer = await carto_rest.post("accounts", body)
    assert answer.status == 400 and answer.json["error"]["code"] == code, answer.json
    message = answer.json["error"]["message"]
    assert says in message
    field = next(iter(change))
    if field != "label":
        with pytest.raises(rules.RuleError) as info:
            rules.check(field, change[field])
        assert message == info.value.message, "the server says what the panel says"
    assert KEY not in message
    assert not os.path.exists(carto_store_path)


async def test_rest_reads_an_organisation_profile_url_as_the_api_path(carto_rest):
    body = _body(base_url="https://org.example/u/alice/")
    del body["username"]
    answer = await carto_rest.post("accounts", body)
    assert answer.status == 201, answer.json
    assert answer.json["base_url"] == "https://org.example/user/alice/"
    assert answer.json["username"] == "alice"


async def test_rest_keeps_default_public_public_and_trims_labels(carto_rest):
    answer = await carto_rest.post(
        "accounts", _body(api_key="default_public", label=" Team \ufeff")
    )
    assert answer.status == 201 and answer.json["public"] is True
    assert answer.json["label"] == "Team"


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"username": "alice\n"}, "The username contains an invisible control character"),
        ({"username": "alice", "api_key": "default_public\n"}, "The API key contains"),
        ({"username": "alice", "api_key": "k\u202e"}, "bidirectional"),
        ({"base_url": "https:"}, "no host name"),
        ({"base_url": "https://x.example/user/a\n"}, "U+000A"),
        ({"base_url": "https://x.example/a b"}, "contains a space"),
        ({"base_url": "https://x.example/a//b"}, "path is not valid"),
        ({"base_url": "https://user:pw@x.carto.com"}, "user name or password"),
        ({"base_url": "https://x.carto.com/?api_key=1"}, "query string"),
        ({"base_url": "https://x.carto.com/#a"}, "fragment"),
        ({"base_url": "ftp://x.example/", "allow_non_secure": True}, "must start with https://"),
    ],
)
def test_credentials_refuses_with_a_clear_value_error(kwargs, says):
    from carto_credentials import Credentials

    with pytest.raises(ValueError) as info:
        Credentials(**kwargs)
    assert says in str(info.value)
    assert isinstance(info.value, rules.RuleError)


def test_credentials_reads_an_organisation_profile_url_and_keeps_cartoframes_forms():
    from carto_credentials import Credentials

    assert Credentials(base_url="https://org.example/u/alice/").base_url == (
        "https://org.example/user/alice"
    )
    assert Credentials(base_url="HTTPS://Org.example/u/alice").base_url == (
        "HTTPS://Org.example/user/alice"
    )
    # cartoframes' own forms and quirks stay: case, no trailing '/', None or '' keys.
    assert Credentials(base_url="https://X.carto.com/").base_url == "https://X.carto.com"
    assert Credentials("u", None).api_key is None
    assert Credentials("u", "").api_key == ""
    http = Credentials(base_url="http://h.example/user/u/", allow_non_secure=True)
    assert http.base_url == "http://h.example/user/u"


@pytest.mark.parametrize(
    "account, field",
    [
        ({"username": "alice\n"}, "username"),
        ({"username": "al\u202eice"}, "username"),
        ({"api_key": KEY + "\r\n"}, "api_key"),
        ({"api_key": KEY + " "}, "api_key"),
        ({"api_key": "\u0000" + KEY}, "api_key"),
        ({"base_url": "https:"}, "base_url"),
        ({"base_url": "https://alice.carto.com/\n"}, "base_url"),
        ({"base_url": "https://alice.carto.com/ "}, "base_url"),
        ({"base_url": "https://alice.carto.com/\u0000"}, "base_url"),
        ({"base_url": "https://u:p@alice.carto.com/"}, "base_url"),
        ({"base_url": "https://alice.carto.com/?x"}, "base_url"),
        ({"base_url": "ftp://alice.carto.com/"}, "base_url"),
    ],
)
def test_the_comm_parser_refuses_what_the_server_refuses(account, field):
    from _carto_helpers import push_message

    from carto_credentials import kernel

    message = push_message(api_key=KEY)
    message["account"].update(account)
    with pytest.raises(kernel.MalformedMessage) as info:
        kernel.parse_set_credentials(message)
    assert str(info.value).startswith("`account.%s`: The " % field)
    assert KEY not in str(info.value)


def test_the_comm_parser_reads_an_organisation_profile_url():
    from _carto_helpers import push_message

    from carto_credentials import kernel

    push = kernel.parse_set_credentials(
        push_message(api_key=KEY, base_url="https://org.example/u/alice/")
    )
    assert push.credentials.base_url == "https://org.example/user/alice"
