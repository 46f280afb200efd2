# Installed into {sys.prefix}/etc/ipython/startup/ by jupyterlab-carto-credentials.
# Registers the `carto.credentials` comm target in every IPython kernel of this environment, so
# JupyterLab's credentials arrive before the first cell and after every restart. Silent and
# harmless in terminal IPython or when the package is gone: it must never break a kernel start.
def _carto_credentials_startup():
    try:
        kernel = getattr(get_ipython(), "kernel", None)  # noqa: F821 (IPython's startup namespace)
        if kernel is None:
            return
        from carto_credentials.kernel import register_target

        register_target(kernel)
        from carto_credentials import _cartoframes

        _cartoframes.install()  # cartoframes.auth follows these credentials once imported
        from carto_credentials import _carto_auth_hook

        _carto_auth_hook.install()  # carto-auth's CartoAuth.from_* share the CARTO 3 login
    except Exception:
        pass


_carto_credentials_startup()
del _carto_credentials_startup
