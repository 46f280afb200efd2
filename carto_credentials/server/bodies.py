"""REST request bodies: one JSON Schema per body, checked with ``jsonschema``.

The schemas say what the shape is (fields, types, lengths, no unknown fields). What a value means
(is this base URL acceptable, is this a CARTO username or key) is checked in ``validate.py`` only,
because those rules have their own error codes and also apply to imported creds.json files.

A refused body gets a 400 ``bad_request`` naming the field and what to send. Messages come from the
schemas here, never from jsonschema's own text: that quotes the offending value, which may be a key.
"""

import json
import re

from jsonschema import Draft202012Validator

from .errors import CredentialsError

MAX_BODY_BYTES = 64 * 1024
MAX_LABEL_LENGTH = 100
MAX_PATH_LENGTH = 4096
_FIELD_NAME = re.compile(r"^[A-Za-z_]{1,40}$")
_NO_CONTROL = "[^\\x00-\\x1f\\x7f]"
# jsonschema matches patterns with Python's re, whose "$" also matches before a final newline: each
# pattern below is backed by this one, which finds a control character anywhere.
_HAS_CONTROL = {"pattern": "[\\x00-\\x1f\\x7f]"}

# Each property carries "x-message": what to tell the user when that field is wrong.
LABEL = {
    "type": "string",
    "maxLength": 10 * MAX_LABEL_LENGTH,  # white space around the label is trimmed, within reason
    # 1 to 100 characters once leading and trailing white space is trimmed; no control characters.
    "pattern": "^\\s*[^\\s\\x00-\\x1f\\x7f](?:%s{0,%d}[^\\s\\x00-\\x1f\\x7f])?\\s*$"
    % (_NO_CONTROL, MAX_LABEL_LENGTH - 2),
    "not": _HAS_CONTROL,
    "x-message": "must be 1 to %d characters, without control characters" % MAX_LABEL_LENGTH,
}
NOTEBOOK_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_LENGTH,
    # Relative to the server root: no leading '/', no '..' segment, no control characters.
    "pattern": "^(?!/)(?!(?:.*/)?\\.\\.(?:/|$))%s+$" % _NO_CONTROL,
    "not": _HAS_CONTROL,
    "x-message": "must be a notebook path relative to the server root (no leading '/', no '..')",
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

SCHEMAS = {
    "new_account": NEW_ACCOUNT,
    "validate": VALIDATE,
    "account_change": ACCOUNT_CHANGE,
    "default": DEFAULT,
    "grant": GRANT,
    "import": IMPORT,
}
_VALIDATORS = {}


def _bad(message):
    return CredentialsError(400, "bad_request", message)


def _validator(schema):
    key = id(schema)
    if key not in _VALIDATORS:
        Draft202012Validator.check_schema(schema)
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


def decode(raw):
    """The JSON document in ``raw`` (bytes); an empty body is ``{}``."""
    if len(raw) > MAX_BODY_BYTES:
        raise CredentialsError(
            413, "bad_request", "The request body is larger than %d bytes." % MAX_BODY_BYTES
        )
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _bad("The request body is not valid JSON.") from None


def parse(raw, schema):
    """The JSON object in ``raw`` (bytes), checked against ``schema``; else ``400 bad_request``."""
    body = decode(raw)
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    errors = list(_validator(schema).iter_errors(body))
    if errors:
        raise _bad(_message(min(errors, key=lambda e: _rank(schema, e)), schema))
    return body


def check_value(schema, name, value):
    """``value`` (e.g. a query argument) checked against one property schema of this module."""
    if next(_validator(schema).iter_errors(value), None) is not None:
        raise _bad("The field '%s' %s." % (name, schema["x-message"]))
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
    properties = schema["properties"]
    if not error.path:
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(properties))
            name = unknown[0] if unknown else ""
            # A field name is shown only if it looks like one (a pasted key could be a name).
            shown = "'%s'" % name if _FIELD_NAME.match(name) else "with an unexpected name"
            return "Unknown field %s; expected only %s." % (shown, ", ".join(sorted(properties)))
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in error.instance]
            return "The field '%s' is required." % (missing[0] if missing else "?")
        if "x-message" in schema:
            return schema["x-message"]
        return "The request body does not have the expected fields."
    name = error.path[0]
    if error.instance is None and "null" not in _types(properties[name]):
        return "The field '%s' must not be null." % name
    return "The field '%s' %s." % (name, properties[name]["x-message"])


def _types(prop):
    types = prop.get("type", [])
    return [types] if isinstance(types, str) else types
