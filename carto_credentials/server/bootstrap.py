"""The code the frontend runs, silently, in a kernel that closed the credentials comm straight back.

Such a kernel did not run our IPython startup file: either its environment has the package but not
the startup file, or it lacks the package altogether (a kernel from another environment on this
machine). The package is pure Python, so in the second case the kernel loads this server's copy by
path — without putting the server's site-packages on the kernel's path.
"""

import json
import os

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_TEMPLATE = """\
def _carto_credentials_bootstrap(package_dir):
    import os
    import sys
    try:
        import carto_credentials.kernel as kernel
    except ImportError:
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "carto_credentials", os.path.join(package_dir, "__init__.py"),
            submodule_search_locations=[package_dir])
        module = importlib.util.module_from_spec(spec)
        sys.modules["carto_credentials"] = module
        try:
            spec.loader.exec_module(module)
            import carto_credentials.kernel as kernel
        except Exception:
            sys.modules.pop("carto_credentials", None)
            raise
    kernel.register_target()
    import carto_credentials._cartoframes as cartoframes_hook
    cartoframes_hook.install()
    import carto_credentials._carto_auth_hook as carto_auth_hook
    carto_auth_hook.install()
try:
    _carto_credentials_bootstrap(__PACKAGE_DIR__)
except Exception:
    pass
del _carto_credentials_bootstrap
"""


def bootstrap_code(package_dir=PACKAGE_DIR):
    """Python source for a silent execute request; `package_dir` is embedded as a literal."""
    return _TEMPLATE.replace("__PACKAGE_DIR__", json.dumps(package_dir))
