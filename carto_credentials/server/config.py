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

    def resolved_store_path(self):
        from ..paths import store_path

        return self.store_path or store_path()

    def cartoframes_creds_path(self):
        from ..paths import cartoframes_creds_path

        return cartoframes_creds_path()
