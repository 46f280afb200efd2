"""What a CARTO username, API key, account label and base URL may be: the rules of ``rules.json``.

``rules.json`` is the one definition; the panel applies the same file (``src/rules.ts``), and
``test/rules-cases.json`` holds the cases both sides are tested on. This module is the values layer:
it imports nothing else of the package, so the server, the kernel and ``Credentials`` all use it.

Every check is a full-string match (``fullmatch``, never ``$``, which also matches before a final
newline); control characters, lone surrogates and bidirectional-text controls are refused with a
message naming the field, the character (``U+000A``) and its position, never the value.

Host labels may hold ``_``: not valid in host names, but DNS serves it and cartoframes accepts it
(its own tests use ``https://fake_user.carto.com``), so refusing it would break working creds.json.
"""

import json
import os
import re

with open(os.path.join(os.path.dirname(__file__), "rules.json"), encoding="utf-8") as _file:
    RULES = json.load(_file)

PUBLIC_API_KEY = RULES["public_api_key"]
KEY_MASK = RULES["key_mask"]


def mask_key(api_key):
    """How a key shows (``rules.json`` ``key_mask``): ``***`` plus its last 4 characters when it
    has 16 or more, else ``***``; ``None`` and ``default_public`` (not a secret) as they are."""
    if api_key is None or api_key == PUBLIC_API_KEY:
        return str(api_key)
    shown = KEY_MASK["prefix"]
    if isinstance(api_key, str) and len(api_key) >= KEY_MASK["visible_from_length"]:
        shown += api_key[-KEY_MASK["visible_suffix"] :]
    return shown


FIELDS = RULES["fields"]
MAX_LENGTHS = {name: field["max_length"] for name, field in FIELDS.items()}

_CHARACTERS = {name: re.compile(p) for name, p in RULES["characters"].items()}
_PATTERNS = {name: re.compile(f["pattern"]) for name, f in FIELDS.items() if "pattern" in f}
_URL = RULES["base_url"]
_URL_PATTERNS = {
    name: re.compile(_URL[name])
    for name in (
        "url",
        "authority",
        "host_label",
        "ipv4",
        "ipv6_group",
        "path",
        "bad_segment",
        "organisation_path",
    )
}
_SPACE_RUN = RULES["characters"]["space"] + "+"
_TRIM = re.compile("^%s|%s$" % (_SPACE_RUN, _SPACE_RUN))
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class RuleError(ValueError):
    """A value that breaks a rule: ``field``, ``code`` (the REST error code) and ``message``."""

    def __init__(self, field, code, message):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def render(template, **values):
    """``template`` with ``{name}`` filled in (unknown names are left as they are)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _problem(field, kind, **values):
    spec = FIELDS[field]
    rule = render(spec["rule"], public_api_key=PUBLIC_API_KEY)
    message = render(
        RULES["messages"][kind],
        field=spec["name"],
        rule=rule,
        max_length=spec["max_length"],
        **values,
    )
    return RuleError(field, spec["code"], message)


def _url_problem(kind):
    code = "not_https" if kind == "not_https" else FIELDS["base_url"]["code"]
    return RuleError("base_url", code, _URL["messages"][kind])


def _first(pattern, value):
    """``(char, position)`` of the first character of ``value`` in ``pattern``, or None."""
    found = pattern.search(value)
    if found is None:
        return None
    return "U+%04X" % ord(found.group(0)), found.start() + 1


def _check_text(field, value):
    """``value`` (of ``field``) checked for type, characters and length, trimmed if the field is."""
    spec = FIELDS[field]
    if not isinstance(value, str):
        raise _problem(field, "not_text")
    checks = RULES["character_checks"]
    for kind in checks["spaces_allowed" if spec["spaces"] else "no_spaces"]:
        found = _first(_CHARACTERS[kind], value)
        if found:
            raise _problem(field, kind, char=found[0], position=found[1])
    if spec.get("trim"):
        value = _TRIM.sub("", value)
    if not value:
        raise _problem(field, "empty")
    if len(value) > spec["max_length"]:
        raise _problem(field, "too_long")
    if field in _PATTERNS and not _PATTERNS[field].fullmatch(value):
        raise _problem(field, "format")
    return value


def check_username(value):
    """``value`` if it is a CARTO username, else ``RuleError`` (code ``bad_username``)."""
    return _check_text("username", value)


def check_api_key(value):
    """``value`` if it is an API key (``default_public`` included), else ``RuleError``."""
    return _check_text("api_key", value)


def check_label(value):
    """``value`` without the spaces around it, if it is an account label, else ``RuleError``."""
    return _check_text("label", value)


def _ipv6(text):
    halves = text.split("::")
    if len(halves) > 2:
        return False
    groups = [g for half in halves for g in (half.split(":") if half else [])]
    count = len(groups)
    if groups and "." in groups[-1]:
        if not _URL_PATTERNS["ipv4"].fullmatch(groups.pop()):
            return False
        count += 1  # an IPv4 tail stands for two groups
    if not all(_URL_PATTERNS["ipv6_group"].fullmatch(g) for g in groups):
        return False
    return count < 8 if len(halves) == 2 else count == 8


def _valid_host(host):
    if host.startswith("["):
        return _ipv6(host[1:-1])
    labels = host[:-1] if host.endswith(".") else host
    return len(host) <= _URL["host_max_length"] and all(
        _URL_PATTERNS["host_label"].fullmatch(label) for label in labels.split(".")
    )


def split_base_url(value, allow_http=False):
    """``(scheme, host, port, path)`` of a base URL as given (after the character checks).

    Raises ``RuleError`` (code ``bad_url``, or ``not_https`` for http when not allowed).
    """
    _check_text("base_url", value)
    url = _URL_PATTERNS["url"].fullmatch(value)
    if url is None:
        raise _url_problem("scheme")
    scheme, has_authority, authority, path, query, fragment = url.groups()
    if scheme.lower() == _URL["insecure_scheme"]:
        if not allow_http:
            raise _url_problem("not_https")
    elif scheme.lower() != _URL["secure_scheme"]:
        raise _url_problem("scheme")
    if has_authority is None:
        raise _url_problem("no_host")
    if "@" in authority:
        raise _url_problem("user_info")
    if query is not None:
        raise _url_problem("query")
    if fragment is not None:
        raise _url_problem("fragment")
    parts = _URL_PATTERNS["authority"].fullmatch(authority)
    if parts is None:
        raise _url_problem("host")
    host, port = parts.groups()
    if not host:
        raise _url_problem("no_host")
    if not _valid_host(host):
        raise _url_problem("host")
    if port and not 1 <= int(port) <= 65535:
        raise _url_problem("port")
    if not _URL_PATTERNS["path"].fullmatch(path):
        raise _url_problem("path")
    return scheme, host, port or None, path


def user_path(path):
    """``path`` with an organisation profile path ``/u/NAME/`` turned into the API's ``/user/NAME/``."""
    org = _URL_PATTERNS["organisation_path"].fullmatch(path)
    return "/user/%s/" % org.group(1) if org else path


def normalise_base_url(value, allow_http=False):
    """The base URL in its one stored form: lower-case scheme and host, ``/u/NAME/`` read as
    ``/user/NAME/``, one trailing ``/``. Raises ``RuleError``."""
    scheme, host, port, path = split_base_url(value, allow_http)
    path = user_path(path.rstrip("/")).rstrip("/") + "/"  # one trailing '/', as cartoframes
    if _URL_PATTERNS["bad_segment"].search(path):
        raise _url_problem("path")
    netloc = host.lower() + (":%d" % int(port) if port else "")
    return "%s://%s%s" % (scheme.lower(), netloc, path)


def with_user_path(value):
    """``value`` (a base URL) checked as ``normalise_base_url`` does, http allowed, and returned as
    given but with ``/u/NAME/`` as ``/user/NAME/``: what ``Credentials`` keeps (cartoframes keeps
    case and form). Raises ``RuleError``."""
    normalise_base_url(value, allow_http=True)
    path = split_base_url(value, allow_http=True)[3]
    return value[: len(value) - len(path)] + user_path(path.rstrip("/"))


def check(field, value, allow_http=False):
    """The checked (and, for labels and base URLs, normalised) ``value`` of ``field``."""
    if field == "base_url":
        return normalise_base_url(value, allow_http)
    return _check_text(field, value)
