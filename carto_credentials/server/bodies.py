"""REST request bodies: one JSON Schema per body, checked with ``jsonschema``.

The schemas say what the shape is (fields, types, lengths, no unknown fields). What a value means
(is this base URL acceptable, is this a CARTO username or key) is checked in ``validate.py`` only,
because those rules have their own error codes and also apply to imported creds.json files.

A refused body gets a 400 ``bad_request`` naming the field and what to send. Messages come from the
schemas here, never from jsonschema's own text: that quotes the offending value, which may be a key.

Any body that does not decode is one ``400 bad_request`` (``413`` when too large), never a 500:
invalid UTF-8 or JSON, nesting deeper than ``MAX_DEPTH``, ``NaN``/``Infinity``, numbers too big for
a float or over Python's digit limit, strings holding lone surrogates.

Query strings are parsed here too, from the raw ``request.query`` (``query_arguments``): the web
framework's own accessors strip white space and rewrite control characters, so a value could differ
from the one a body would carry.
"""

import json
import math
import re
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator

from .. import rules
from .errors import CredentialsError

MAX_BODY_BYTES = 64 * 1024
MAX_LABEL_LENGTH = rules.MAX_LENGTHS["label"]
MAX_PATH_LENGTH = 4096
# Our bodies are flat objects (depth 1); anything nested deeper than this is refused unparsed.
MAX_DEPTH = 20
MAX_QUERY_BYTES = 16 * 1024
_FIELD_NAME = re.compile(r"^[A-Za-z_]{1,40}$")
_NO_CONTROL = "[^\\x00-\\x1f\\x7f]"
# jsonschema matches patterns with Python's re, whose "$" also matches before a final newline: each
# pattern below is backed by this one, which finds a control character anywhere.
_HAS_CONTROL = {"pattern": "[\\x00-\\x1f\\x7f]"}
# Grant paths also refuse C1 controls, line/paragraph separators and bidirectional controls (they
# make a path in a dialog read as another one).
_PATH_FORBIDDEN = "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069"

# Each property carries "x-message": what to tell the user when that field is wrong. A property
# with "x-rule" is then checked (and trimmed) by that rule of rules.json, as in the kernel and panel.
LABEL = {
    "type": "string",
    "maxLength": 10 * MAX_LABEL_LENGTH,  # white space around the label is trimmed, within reason
    "x-rule": "label",
    "x-message": "must be 1 to %d characters, without control characters" % MAX_LABEL_LENGTH,
}
# The one rule for a grant's notebook path, in PUT bodies and in query strings (GET, DELETE).
NOTEBOOK_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_LENGTH,
    # Relative to the server root: no leading '/', no '..' segment, no control characters.
    "pattern": "^(?!/)(?!(?:.*/)?\\.\\.(?:/|$))[^%s]+$" % _PATH_FORBIDDEN,
    "not": {"pattern": "[%s]" % _PATH_FORBIDDEN},
    "x-message": "must be a notebook path relative to the server root (no leading '/', no '..', "
    "no control or bidirectional-override characters)",
}
JSON_FILE_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_LENGTH,
    "pattern": "^%s*\\.[Jj][Ss][Oo][Nn]$" % _NO_CONTROL,
    "not": _HAS_CONTROL,
    "x-message": "must be the path of a .json file",
}
# Only the type here: an empty or malformed key is bad_key_format (validate.check_api_key).
API_KEY = {"type": "string", "x-message": "must be a string ('default_public' for public data)"}
USERNAME = {"type": "string", "x-message": "must be a string"}
BASE_URL = {"type": "string", "x-message": "must be a string"}
FLAG = {"type": "boolean", "x-message": "must be true or false"}


def _object(properties, required=(), **extra):
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }
    schema.update(extra)
    return schema


_LOGIN = {"username": USERNAME, "base_url": BASE_URL, "api_key": API_KEY, "allow_non_https": FLAG}

# POST accounts
NEW_ACCOUNT = _object(dict(_LOGIN, label=LABEL, validate=FLAG), required=["api_key"])
# POST validate
VALIDATE = _object(_LOGIN, required=["api_key"])
# PATCH accounts/{id}
ACCOUNT_CHANGE = _object(
    {"label": LABEL, "api_key": API_KEY},
    minProperties=1,
    **{"x-message": "Give a new 'label' or 'api_key'."},
)
# PUT default
DEFAULT = _object(
    {
        "account_id": {
            "type": ["string", "null"],
            "x-message": "must be an account id, or null for no default",
        }
    },
    required=["account_id"],
)
# PUT grants
GRANT = _object(
    {
        "path": NOTEBOOK_PATH,
        "decision": {"enum": ["allow", "deny"], "x-message": "must be 'allow' or 'deny'"},
    },
    required=["path", "decision"],
)
# POST import
IMPORT = _object({"path": JSON_FILE_PATH})

# CARTO 3 (docs/contracts.md §4). What a value means (a URL, a client id) is checked in carto3.py.
_M2M_CREDENTIALS = {
    "type": "object",
    "x-message": "must be the M2M credentials JSON object: api_base_url, client_id, "
    "client_secret (CARTO Workspace → Developers → Credentials)",
}
_KIND_M2M = {"const": "m2m", "x-message": "must be 'm2m' (API-key logins have no 'kind')"}
# POST accounts, a machine-to-machine client: its credentials JSON, or its path on the server.
NEW_M2M_ACCOUNT = _object(
    {
        "kind": _KIND_M2M,
        "credentials": _M2M_CREDENTIALS,
        "path": JSON_FILE_PATH,
        "label": LABEL,
        "allow_non_https": FLAG,
    },
    required=["kind"],
    minProperties=2,
    **{"x-message": "Give the M2M 'credentials' object or the 'path' of its file on the server."},
)
_OPTIONAL_TEXT = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^[\\x21-\\x7e]+$",
    "x-message": "must be 1 to 200 visible ASCII characters",
}
# POST oauth/start
OAUTH_START = _object(
    {
        "flow": {"enum": ["redirect", "paste"], "x-message": "must be 'redirect' or 'paste'"},
        "org": _OPTIONAL_TEXT,
        "api_base_url": BASE_URL,
        "label": LABEL,
        "account_id": _OPTIONAL_TEXT,
        "allow_non_https": FLAG,
    },
    required=["flow"],
)
# POST oauth/exchange
OAUTH_EXCHANGE = _object(
    {
        "state": _OPTIONAL_TEXT,
        "code": {
            "type": "string",
            "minLength": 1,
            "maxLength": 8192,
            "x-message": "must be the code CARTO showed (or the address of that page)",
        },
    },
    required=["state", "code"],
)

SCHEMAS = {
    "new_account": NEW_ACCOUNT,
    "validate": VALIDATE,
    "account_change": ACCOUNT_CHANGE,
    "default": DEFAULT,
    "grant": GRANT,
    "import": IMPORT,
    "new_m2m_account": NEW_M2M_ACCOUNT,
    "oauth_start": OAUTH_START,
    "oauth_exchange": OAUTH_EXCHANGE,
}
_VALIDATORS = {}


def _bad(message, field=None):
    return CredentialsError(400, "bad_request", message, field)


def _validator(schema):
    key = id(schema)
    if key not in _VALIDATORS:
        Draft202012Validator.check_schema(schema)
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE = re.compile("[\\ud800-\\udfff]")


def _depth(raw):
    """How deeply arrays and objects nest in the JSON text ``raw`` (bytes), strings skipped."""
    depth = deepest = 0
    for byte in _STRING.sub(b"", raw):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _check_strings(value):
    """Raise ValueError if a string (or key) anywhere in ``value`` holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ValueError("lone surrogate")
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())


def decode(raw):
    """The JSON document in ``raw`` (bytes); an empty body is ``{}``.

    Raises ``CredentialsError`` 413 (over ``MAX_BODY_BYTES``) or 400 ``bad_request`` for anything
    that is not plain JSON (see the module docstring); never another exception.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise CredentialsError(
            413, "bad_request", "The request body is larger than %d bytes." % MAX_BODY_BYTES
        )
    if not raw.strip():
        return {}
    if _depth(raw) > MAX_DEPTH:
        raise _bad("The request body nests arrays or objects too deeply (over %d)." % MAX_DEPTH)
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
        _check_strings(value)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("The request body is not valid JSON (UTF-8, no NaN or Infinity).") from None
    return value


def parse(raw, schema):
    """The JSON object in ``raw`` (bytes), checked against ``schema``; else ``400 bad_request``."""
    return check(decode(raw), schema)


def check(body, schema):
    """``body`` (a decoded JSON value) checked against ``schema``; else ``400 bad_request``."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    errors = list(_validator(schema).iter_errors(body))
    if errors:
        raise _bad(*_message(min(errors, key=lambda e: _rank(schema, e)), schema))
    for name, prop in schema["properties"].items():
        if "x-rule" in prop and name in body:
            try:
                body[name] = rules.check(prop["x-rule"], body[name])
            except rules.RuleError as err:
                raise _bad("The field '%s' is refused: %s" % (name, err.message), name) from None
    return body


_CACHE_BUSTER = re.compile(r"[0-9]{1,20}\Z")


def query_arguments(query, allowed):
    """``{name: value}`` of the raw query string ``query`` (``request.query``), decoded as is.

    Values keep their white space and control characters (so the schema sees what was sent);
    ``+`` is a space, ``%XX`` must decode to UTF-8. ``token`` and ``_xsrf`` (Jupyter's own) are
    ignored, and so is a bare number: the cache buster ``@jupyterlab/services``' ``makeRequest``
    appends (``?<epoch ms>`` or ``&<epoch ms>``) to every request of the front end. An argument not
    in ``allowed``, one given twice, or a malformed query string is a 400 ``bad_request``.
    """
    if len(query or "") > MAX_QUERY_BYTES:
        raise _bad("The query string is longer than %d characters." % MAX_QUERY_BYTES)
    query = "&".join(part for part in (query or "").split("&") if not _CACHE_BUSTER.match(part))
    if not query:
        return {}
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=20,
        )
    except (ValueError, UnicodeDecodeError):
        raise _bad("The query string is malformed (name=value pairs, UTF-8).") from None
    found = {}
    for name, value in pairs:
        if name in ("token", "_xsrf"):
            continue
        if name not in allowed:
            shown = "'%s'" % name if _FIELD_NAME.match(name) else "with an unexpected name"
            raise _bad("Unknown query argument %s; expected only %s." % (shown, ", ".join(allowed)))
        if name in found:
            raise _bad("The query argument '%s' is given more than once." % name)
        found[name] = value
    return found


def check_value(schema, name, value):
    """``value`` (e.g. a query argument) checked against one property schema of this module."""
    if next(_validator(schema).iter_errors(value), None) is not None:
        raise _bad("The field '%s' %s." % (name, schema["x-message"]), name)
    return value


# Which problem to report first: unknown fields, then missing ones, then each field in the
# schema's order. Only one is reported; fixing it shows the next.
def _rank(schema, error):
    if not error.path:
        order = {"additionalProperties": 0, "required": 1}
        return (order.get(error.validator, 2), 0)
    names = list(schema["properties"])
    field = error.path[0]
    return (3, names.index(field) if field in names else len(names))


def _message(error, schema):
    """``(message, field)`` of a schema ``error``: ``field`` names the body's field it is about,
    or is ``None``."""
    properties = schema["properties"]
    if not error.path:
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(properties))
            name = unknown[0] if unknown else ""
            # A field name is shown only if it looks like one (a pasted key could be a name).
            shown = "'%s'" % name if _FIELD_NAME.match(name) else "with an unexpected name"
            return "Unknown field %s; expected only %s." % (
                shown,
                ", ".join(sorted(properties)),
            ), None
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in error.instance]
            if not missing:
                return "The field '?' is required.", None
            return "The field '%s' is required." % missing[0], missing[0]
        if "x-message" in schema:
            return schema["x-message"], None
        return "The request body does not have the expected fields.", None
    name = error.path[0]
    if error.instance is None and "null" not in _types(properties[name]):
        return "The field '%s' must not be null." % name, name
    return "The field '%s' %s." % (name, properties[name]["x-message"]), name


def _types(prop):
    types = prop.get("type", [])
    return [types] if isinstance(types, str) else types
