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
