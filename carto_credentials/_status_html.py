"""The rich, masked display of a ``Credentials`` (``_repr_html_``): account, server and state.

The key itself never appears: only ``default_public`` (not a secret) or a masked form.
"""

from html import escape

from . import credentials as _credentials
from . import kernel
from .credentials import DEFAULT_PUBLIC, mask_key
from .defaults import code_default


def _origin(credentials):
    """Where these credentials stand in this kernel's precedence chain, without waiting."""
    if credentials == code_default():
        return "default, set by code in this kernel"
    pushed, _ = kernel.pushed_credentials(wait=False)
    if pushed is not None and credentials == pushed:
        return "default, from JupyterLab"
    return None


def credentials_html(credentials):
    api_key = credentials.api_key
    if api_key is None or api_key == "" or api_key == DEFAULT_PUBLIC:
        state = "public data only (default_public)"
    else:
        state = f"API key {mask_key(api_key)}"
    origin = _origin(credentials)
    if origin:
        state = f"{state}; {origin}"
    rows = [
        ("Account", credentials.username or "(from the server URL)"),
        ("Server", credentials.base_url),
        ("State", state),
    ]
    cells = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(name)}</th><td>{escape(str(value))}</td></tr>'
        for name, value in rows
    )
    return (
        '<div class="jp-CartoCredentials-status" style="font-family:var(--jp-ui-font-family);'
        'color:var(--jp-ui-font-color1)"><strong>CARTO credentials</strong>'
        f"<table>{cells}</table></div>"
    )


_credentials.set_html_renderer(credentials_html)
