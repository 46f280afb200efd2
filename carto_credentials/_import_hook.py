"""Run a function right after one module is imported: the shared part of the hooks that make
cartoframes (``_cartoframes``) and carto-auth (``_carto_auth_hook``) use the notebook's login.

A subclass of ``AfterImportFinder`` names its ``target`` module and its ``patch(module)``. On
``sys.meta_path`` it finds nothing itself: for its target only, it asks the other finders and wraps
the loader they give, so ``patch`` runs once the module's own code has run, before any other
module binds its names. A kernel that never imports the target never imports it.
"""

import sys


class AfterImportFinder:
    """Meta path finder that wraps the loader of ``target`` (a dotted module name)."""

    target = ""

    def patch(self, module):
        raise NotImplementedError

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.target:
            return None
        for finder in sys.meta_path:
            if isinstance(finder, AfterImportFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, self.patch)
                return spec
        return None

    def invalidate_caches(self):
        pass

    @classmethod
    def install(cls):
        """Put one finder of this class first on ``sys.meta_path`` (idempotent)."""
        if not any(isinstance(f, cls) for f in sys.meta_path):
            sys.meta_path.insert(0, cls())


class _PatchingLoader:
    """Delegates to the module's own loader, then patches the module it ran."""

    def __init__(self, loader, patch):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)
