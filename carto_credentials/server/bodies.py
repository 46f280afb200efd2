"""Strict checking of REST request bodies: right types, sane lengths, no unknown fields.

A bad body gets a 400 ``bad_request`` that names the field, never its value (it may be a key).
"""

import json
import re

from .errors import CredentialsError

MAX_BODY_BYTES = 64 * 1024
MAX_LABEL_LENGTH = 100
MAX_PATH_LENGTH = 4096
_FIELD_NAME = re.compile(r"^[A-Za-z_]{1,40}$")


def _bad(message):
    return CredentialsError(400, "bad_request", message)


class Field:
    def __init__(self, types, required=False, nullable=False, check=None):
        self.types = types
        self.required = required
        self.nullable = nullable
        self.check = check


def parse(raw, fields):
    """The JSON object in ``raw`` (bytes) checked against ``fields`` (name -> Field)."""
    if len(raw) > MAX_BODY_BYTES:
        raise CredentialsError(
            413, "bad_request", "The request body is larger than %d bytes." % MAX_BODY_BYTES
        )
    if not raw.strip():
        body = {}
    else:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise _bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    for name in body:
        if name not in fields:
            shown = "'%s'" % name if _FIELD_NAME.match(name) else "with an unexpected name"
            raise _bad("Unknown field %s; expected only %s." % (shown, ", ".join(sorted(fields))))
    for name, field in fields.items():
        if name not in body:
            if field.required:
                raise _bad("The field '%s' is required." % name)
            continue
        value = body[name]
        if value is None:
            if not field.nullable:
                raise _bad("The field '%s' must not be null." % name)
            continue
        # bool is an int in Python; keep true/false out of numeric fields and vice versa.
        if not isinstance(value, field.types) or (
            isinstance(value, bool) and bool not in _as_tuple(field.types)
        ):
            raise _bad("The field '%s' has the wrong type." % name)
        if field.check is not None:
            body[name] = field.check(name, value)
    return body


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _has_control(text):
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def label(name, value):
    value = value.strip()
    if not value or len(value) > MAX_LABEL_LENGTH or _has_control(value):
        raise _bad(
            "The field '%s' must be 1 to %d characters, without control characters."
            % (name, MAX_LABEL_LENGTH)
        )
    return value


def notebook_path(name, value):
    if (
        not value
        or len(value) > MAX_PATH_LENGTH
        or _has_control(value)
        or value.startswith("/")
        or ".." in value.split("/")
    ):
        raise _bad(
            "The field '%s' must be a notebook path relative to the server root (no leading '/', "
            "no '..')." % name
        )
    return value


def decision(name, value):
    if value not in ("allow", "deny"):
        raise _bad("The field '%s' must be 'allow' or 'deny'." % name)
    return value


def json_file_path(name, value):
    if (
        not value
        or len(value) > MAX_PATH_LENGTH
        or _has_control(value)
        or not value.lower().endswith(".json")
    ):
        raise _bad("The field '%s' must be the path of a .json file." % name)
    return value
