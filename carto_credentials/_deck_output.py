"""pydeck maps that draw with a CARTO 3 login: shown live, saved masked (docs/kernel-api.md, Maps).

pydeck-carto code puts the access token into the map's HTML (``vector_query_source(access_token=…)``
ends up in the deck JSON of pydeck 0.9's ``io/templates/index.j2`` page, inside an
``<iframe srcdoc>``). The kernel's output filter masks it there like every known key, so that
page alone cannot load its tiles. For such an output the filter adds one more MIME type,
``DECK_MIME``, whose JSON is::

    {"html": <the text/html, each access token replaced by a placeholder>,
     "logins": {<placeholder>: <account id of the CARTO 3 login the token belongs to>}}

The JupyterLab extension renders it (``src/deckOutput.ts``) with the *current* token of each
named login, for trusted outputs of a notebook that may use that login; the saved notebook only
ever holds placeholders and masks. Elsewhere (nbviewer, an untrusted notebook) the masked
``text/html`` shows, with ``DECK_NOTICE`` on top.
"""

import json
import os

# The MIME type and the placeholders' prefix are the front end's (src/protocol.ts), exported with
# the comm protocol's schema: one definition both sides read. Placeholders are the prefix and a
# number, written the same raw, in JSON, in a URL and in HTML (srcdoc).
with open(os.path.join(os.path.dirname(__file__), "protocol.schema.json"), encoding="utf-8") as _f:
    _SHARED = json.load(_f)["deck_output"]
DECK_MIME = _SHARED["mime_type"]
PLACEHOLDER_PREFIX = _SHARED["placeholder_prefix"]
# pydeck 0.9's page calls createDeck(...) (pydeck/io/templates/index.j2): how its output is known.
PYDECK_MARKER = "createDeck("
DECK_NOTICE = (
    '<div class="carto-credentials-masked-map" style="padding:6px 10px;margin:0 0 4px;'
    'border-left:4px solid #d9822b;background:#fff7e6;color:#333;font:13px sans-serif">'
    "<b>This map cannot load its CARTO data here.</b> The CARTO 3 access token it uses was masked "
    "before it left the kernel. JupyterLab with jupyterlab-carto-credentials shows the map with "
    "the login's current token (in a trusted notebook), and never saves it.</div>"
)


def deck_bundle(html, token_accounts, masker_class):
    """``DECK_MIME``'s JSON for a pydeck ``html`` (a string) that holds access tokens of
    ``token_accounts`` (``{token: account id}``), or ``None`` when it is not pydeck's page or holds
    none of them. ``masker_class`` is ``_masking.Masker`` (passed in: ``_masking`` imports this
    module), so every written form of a token is found as the filter finds it."""
    if PYDECK_MARKER not in html or not token_accounts:
        return None
    # Numbered among the tokens this page holds, so the same page gets the same placeholders
    # whatever other logins the kernel knew before.
    present = [token for token in token_accounts if masker_class([token]).text(html)[1]]
    placeholders = {token: "%s%d" % (PLACEHOLDER_PREFIX, i) for i, token in enumerate(present)}
    if not placeholders:
        return None
    replaced, changed = masker_class(list(placeholders), replacement=placeholders.get).text(html)
    if not changed:
        return None
    return {
        "html": replaced,
        "logins": {
            placeholder: token_accounts[token]
            for token, placeholder in placeholders.items()
            if placeholder in replaced
        },
    }


def html_text(data):
    """The ``text/html`` of a MIME bundle ``data`` as one string (nbformat also allows a list of
    lines), or ``None`` when it has none."""
    html = data.get("text/html") if isinstance(data, dict) else None
    if isinstance(html, list):
        html = "".join(part for part in html if isinstance(part, str))
    return html if isinstance(html, str) else None


def with_deck_bundle(original_data, masked_data, token_accounts, masker_class):
    """``masked_data`` (an output's MIME bundle, already masked) with ``DECK_MIME`` and the
    notice added when ``original_data`` is a pydeck page drawing with a CARTO 3 login; else
    ``masked_data`` itself."""
    html = html_text(original_data)
    if html is None or not isinstance(masked_data, dict):
        return masked_data
    bundle = deck_bundle(html, token_accounts, masker_class)
    if bundle is None:
        return masked_data
    shown = html_text(masked_data) or ""
    return dict(masked_data, **{"text/html": DECK_NOTICE + shown, DECK_MIME: bundle})
