"""Reading CARTOframes' own ``creds.json`` (``Credentials.save()``) to import it as an account.

Mirrors ``Credentials.from_file``: ``base_url`` wins over ``username``; ``allow_non_secure`` from the
file allows http. One deliberate difference: a file without ``api_key`` (cartoframes would use the
key ``None``) imports as ``default_public``. Errors never quote the file's content.

Only a regular file is read (opened non-blocking, checked with ``fstat``): a FIFO, socket, device or
directory is refused before any read, so nothing can make the read wait. Symbolic links are
followed (dotfile managers link creds.json), to a regular file only. Blocking: the REST handlers
call ``read_creds`` through ``fileio.Offloader``.
"""

import json
import os

from .carto3 import m2m_credentials
from .errors import CredentialsError
from .fileio import FileTooLarge, NotRegularFile, read_regular_file
from .store import PUBLIC_KEY
from .validate import check_api_key, resolve_account

MAX_CREDS_BYTES = 64 * 1024


def read_json_object(path, invalid_code, missing):
    """The JSON object in the credentials file ``path`` (a regular file of at most 64 KiB).

    Raises ``CredentialsError`` 404 ``missing[0]`` with the message ``missing[1]`` when there is no
    file, or 400 ``invalid_code`` (not a regular file, too large, unreadable, not a JSON object);
    the message names ``path``, never the content.
    """
    try:
        raw = read_regular_file(path, MAX_CREDS_BYTES)
    except FileNotFoundError:
        raise CredentialsError(404, missing[0], missing[1]) from None
    except NotRegularFile as err:
        raise CredentialsError(
            400,
            invalid_code,
            "%s is %s, not a regular file: only a credentials file is read." % (path, err.kind),
        ) from None
    except FileTooLarge:
        raise CredentialsError(
            400,
            invalid_code,
            "%s is larger than %d KiB: not a credentials file." % (path, MAX_CREDS_BYTES // 1024),
        ) from None
    except PermissionError:
        raise CredentialsError(
            400, invalid_code, "Could not read %s (permission denied)." % path
        ) from None
    except OSError as err:
        raise CredentialsError(
            400,
            invalid_code,
            "Could not read %s (%s)." % (path, err.strerror or type(err).__name__),
        ) from None
    try:
        content = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CredentialsError(400, invalid_code, "%s is not valid JSON." % path) from None
    if not isinstance(content, dict):
        raise CredentialsError(400, invalid_code, "%s does not hold a JSON object." % path)
    return content


def read_m2m_file(path, allow_http):
    """The checked M2M credentials (``carto3.m2m_credentials``) of the file ``path`` on the server,
    as carto-auth's ``CartoAuth.from_m2m(path)`` reads it. ``404 m2m_file_not_found`` or
    ``400 m2m_file_invalid``."""
    content = read_json_object(
        path,
        "m2m_file_invalid",
        ("m2m_file_not_found", "There is no file at %s on the Jupyter server." % path),
    )
    return m2m_credentials(content, path, allow_http)


def read_creds(path, forbid_non_https=False):
    """``{"username", "base_url", "api_key"}`` from a creds.json, checked like a login.

    Raises ``CredentialsError`` 404 ``import_not_found`` or 400 ``import_invalid`` (not a regular
    file, over 64 KiB, unreadable, not a JSON object, failing the login rules); the message names
    ``path``, never the content.
    """
    content = read_json_object(
        path,
        "import_invalid",
        ("import_not_found", "There is no CARTOframes credentials file at %s." % path),
    )
    username = content.get("username")
    base_url = content.get("base_url")
    api_key = content.get("api_key")
    username = username if isinstance(username, str) and username else None
    base_url = base_url if isinstance(base_url, str) and base_url else None
    if api_key is None:
        api_key = PUBLIC_KEY
    try:
        check_api_key(api_key)
        username, base_url = resolve_account(
            username, base_url, bool(content.get("allow_non_secure")) and not forbid_non_https
        )
    except CredentialsError as err:
        raise CredentialsError(
            400, "import_invalid", "%s cannot be imported: %s" % (path, err.message)
        ) from None
    return {"username": username, "base_url": base_url, "api_key": api_key}


def resolve_path(path, default_path):
    if path is None:
        return default_path
    return os.path.abspath(os.path.expanduser(path))
