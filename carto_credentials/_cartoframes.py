"""CARTOframes follows the kernel's effective credentials (docs/kernel-api.md, "CARTOframes").

``install()`` (called by the startup file and by the silent bootstrap) puts a finder on
``sys.meta_path`` that does nothing until ``cartoframes.auth.defaults`` is imported; right after that
module runs — before ``cartoframes.auth`` or any other cartoframes module binds its names — the
finder replaces its three functions, and the file writer of ``cartoframes.auth.Credentials``:

- ``get_default_credentials()`` answers ``carto_credentials.get_default_credentials()`` (code-set,
  JupyterLab push, environment, account store, ``creds.json``) as a real
  ``cartoframes.auth.Credentials`` (``allow_non_secure`` carried over), so every cartoframes call
  without ``credentials=`` uses the notebook's account and follows later pushes;
- ``set_default_credentials(...)`` builds its value exactly as cartoframes does, then sets it as
  *our* code default (it wins; JupyterLab is told with ``credentials_changed``);
- ``unset_default_credentials()`` forgets the code default: the JupyterLab account applies again;
- ``Credentials.save()`` writes its file mode 0600 (``_save_privately``), not 0644.

A kernel that never imports cartoframes never imports it (the finder only compares a name). If
cartoframes was imported before ``install()`` ran, the module is patched at once and names already
bound to the original functions (``from cartoframes.auth import ...``) are rebound.
"""

import functools
import json
import logging
import os
import sys
import threading

from . import defaults, kernel
from ._import_hook import AfterImportFinder
from .credentials import write_private

TARGET_MODULE = "cartoframes.auth.defaults"
CREDENTIALS_MODULE = "cartoframes.auth.credentials"
UTILS_MODULE = "cartoframes.utils.utils"
_MARK = "_carto_credentials_patched"

log = logging.getLogger(__name__)

_lock = threading.Lock()
# (our Credentials, its fields, the cartoframes Credentials): one cartoframes object per value, so
# its caches (user id, DO token, session) survive between calls, and an object set through
# cartoframes is returned as is (cartoframes' own identity semantics).
_cache = None


# -- installation ---------------------------------------------------------------------------------


class _Finder(AfterImportFinder):
    """Patches ``cartoframes.auth.defaults`` right after it is imported."""

    target = TARGET_MODULE

    def patch(self, module):
        patch(module)


def install():
    """Make cartoframes follow this kernel's credentials, now or when it is imported. Idempotent;
    never raises (a kernel start must not break)."""
    try:
        _Finder.install()
        kernel.add_change_listener(_forget_cache)
        module = sys.modules.get(TARGET_MODULE)
        if module is not None and not getattr(module, _MARK, False):
            originals = _originals(module)
            patch(module)
            _rebind(originals, module)
        return True
    except Exception as exc:
        log.warning(
            "Could not make cartoframes follow the CARTO credentials: %s", type(exc).__name__
        )
        return False


def _originals(module):
    names = ("get_default_credentials", "set_default_credentials", "unset_default_credentials")
    return {name: getattr(module, name, None) for name in names}


def _rebind(originals, module):
    """Names bound to the originals before we patched (cartoframes modules, ``__main__``)."""
    by_id = {id(f): name for name, f in originals.items() if f is not None}
    for name, mod in list(sys.modules.items()):
        if mod is None or mod is module:
            continue
        if not (name == "__main__" or name == "cartoframes" or name.startswith("cartoframes.")):
            continue
        namespace = getattr(mod, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if id(value) in by_id and value is originals[by_id[id(value)]]:
                namespace[attr] = getattr(module, by_id[id(value)])


# -- the patch --------------------------------------------------------------------------------------


def patch(module):
    """Replace the default-credentials functions of ``module`` (``cartoframes.auth.defaults``)."""
    if getattr(module, _MARK, False):
        return
    original_get = module.get_default_credentials
    original_set = module.set_default_credentials
    original_unset = getattr(module, "unset_default_credentials", None)

    @functools.wraps(original_get)
    def get_default_credentials():
        value = to_cartoframes(defaults.get_default_credentials(), module)
        module._default_credentials = value  # for code that reads cartoframes' global
        return value

    @functools.wraps(original_set)
    def set_default_credentials(*args, **kwargs):
        build = getattr(module, "_set_credentials", None)
        if build is not None:
            value = build(*args, **kwargs)
        else:  # a cartoframes without the builder: let its own function fill its global
            original_set(*args, **kwargs)
            value = module._default_credentials
        code_set(value)

    def unset_default_credentials():
        defaults.unset_default_credentials()
        module._default_credentials = None

    if original_unset is not None:
        unset_default_credentials = functools.wraps(original_unset)(unset_default_credentials)

    module.get_default_credentials = get_default_credentials
    module.set_default_credentials = set_default_credentials
    module.unset_default_credentials = unset_default_credentials
    _save_privately(sys.modules.get(CREDENTIALS_MODULE), sys.modules.get(UTILS_MODULE))
    setattr(module, _MARK, True)


def _save_privately(credentials_module, utils_module):
    """``cartoframes.auth.Credentials.save()`` writes its file mode 0600 (its default directory
    0700), as our ``Credentials.save`` does, instead of cartoframes 1.2.5's 0644 / 0755: the
    ``save_in_config`` its module bound is replaced by one that writes the same JSON to the same
    path, returns the same path and raises the same errors. Needs both modules (imported by
    ``cartoframes.auth.defaults``); else cartoframes is left as it is."""
    if credentials_module is None or utils_module is None:
        return
    original = getattr(credentials_module, "save_in_config", None)
    config_dir = getattr(utils_module, "USER_CONFIG_DIR", None)
    config_path = getattr(utils_module, "default_config_path", None)
    if original is None or config_dir is None or config_path is None:
        return

    @functools.wraps(original)
    def save_in_config(content, filename=None, filepath=None):
        if filepath is None:
            os.makedirs(config_dir, mode=0o700, exist_ok=True)
            filepath = config_path(filename)
        write_private(filepath, json.dumps(content))
        return filepath

    credentials_module.save_in_config = save_in_config


def code_set(value):
    """``value`` (a cartoframes Credentials) becomes the kernel's code-set default."""
    global _cache
    defaults.set_default_credentials(value)  # converts, validates, tells JupyterLab
    ours = defaults.code_default()
    with _lock:
        _cache = (ours, _fields(ours), value)


def to_cartoframes(ours, module=None):
    """Our ``Credentials`` as a ``cartoframes.auth.Credentials`` (``None`` stays ``None``)."""
    global _cache
    if ours is None:
        return None
    fields = _fields(ours)
    with _lock:
        cached = _cache
    if cached is not None and (cached[0] is ours or cached[1] == fields):
        return cached[2]
    cls = _cartoframes_class(module)
    value = cls(
        ours.username,
        ours.api_key,
        ours.base_url,
        ours.session,
        bool(ours.allow_non_secure),
    )
    with _lock:
        _cache = (ours, fields, value)
    return value


def _fields(credentials):
    return (
        credentials.username,
        credentials.api_key,
        credentials.base_url,
        bool(credentials.allow_non_secure),
        id(credentials.session) if credentials.session is not None else None,
    )


def _cartoframes_class(module):
    cls = getattr(module, "Credentials", None) if module is not None else None
    if cls is None:
        from cartoframes.auth import Credentials as cls
    return cls


def _forget_cache():
    """The listener ``kernel`` calls when a push or code changes the effective credentials."""
    global _cache
    with _lock:
        _cache = None
