"""Administrator / test settings of the server extension (``c.CartoCredentials.…``)."""

from traitlets import Bool, Float, Unicode
from traitlets.config import Configurable


class CartoCredentials(Configurable):
    """The CARTO account store of jupyterlab-carto-credentials."""

    validate_timeout = Float(
        10.0,
        config=True,
        help="Seconds to wait for CARTO's /api/v3/me when checking a login (connect and answer).",
    )
    store_path = Unicode(
        "",
        config=True,
        help="The account store file. Empty: {jupyter_data_dir}/carto_credentials/accounts.json.",
    )
    io_timeout = Float(
        10.0,
        config=True,
        help="Seconds a file operation of the account store or an import (lock wait, read, "
        "write) may take before the request fails with 503 store_busy / 504 io_timeout.",
    )
    allow_link_local_hosts = Bool(
        False,
        config=True,
        help="Let 'validate' call base URLs whose host is link-local (169.254.0.0/16, fe80::/10) "
        "or a cloud metadata service (169.254.169.254, metadata.google.internal, …). Off: such "
        "hosts are refused (forbidden_host), so a login form cannot make the server fetch cloud "
        "credentials. Private on-premises hosts (10/8, 192.168/16, …) are always allowed.",
    )
    forbid_non_https = Bool(
        False,
        config=True,
        help="Refuse http:// base URLs even when the user's settings allow them.",
    )

    # --- CARTO 3 (docs/contracts.md §4); defaults are CARTO's, as carto-auth 0.2.0 uses them ---
    oauth_url = Unicode(
        "https://auth.carto.com",
        config=True,
        help="CARTO 3's OAuth server: {oauth_url}/authorize and {oauth_url}/oauth/token.",
    )
    accounts_url = Unicode(
        "https://accounts.app.carto.com",
        config=True,
        help="CARTO 3's accounts service, asked for the tenant of a login ({accounts_url}/accounts) "
        "when no API base URL is given.",
    )
    oauth_audience = Unicode(
        "carto-cloud-native-api", config=True, help="The audience of CARTO 3 access tokens."
    )
    oauth_public_client_id = Unicode(
        "0dxb8HR3ATXCxJiPOJVHsLoHoAtbRX6u",
        config=True,
        help="CARTO's public OAuth client (carto-auth's CLIENT_ID), used by the 'paste the code' "
        "login.",
    )
    oauth_public_redirect_uri = Unicode(
        "https://app.carto.com/auth/token",
        config=True,
        help="Where CARTO shows the code to paste (carto-auth's REDIRECT_URI_CLI).",
    )
    oauth_client_id = Unicode(
        "",
        config=True,
        help="An OAuth client registered at CARTO whose redirect URI is this server's "
        "{base_url}carto-credentials/oauth/callback. Empty: only the 'paste the code' login.",
    )
    oauth_redirect_uri = Unicode(
        "",
        config=True,
        help="The redirect URI registered for oauth_client_id, when a proxy makes this server's "
        "public URL differ from what requests show. Empty: derived from the request.",
    )
    oauth_login_timeout = Float(
        600.0,
        config=True,
        help="Seconds a started CARTO 3 login (its PKCE verifier, in memory only) stays usable.",
    )
    token_renew_margin = Float(
        300.0,
        config=True,
        help="Machine-to-machine tokens with fewer seconds than this left are renewed.",
    )
    token_renew_interval = Float(
        60.0,
        config=True,
        help="Seconds between the server's checks for machine-to-machine tokens to renew.",
    )

    def resolved_store_path(self):
        from ..paths import store_path

        return self.store_path or store_path()

    def cartoframes_creds_path(self):
        from ..paths import cartoframes_creds_path

        return cartoframes_creds_path()
