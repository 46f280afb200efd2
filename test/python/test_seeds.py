"""The examples of CARTOframes' authentication guides (shared/seeds), pasted with the import
changed from ``cartoframes.auth`` / ``cartoframes.viz`` to ``carto_credentials``, behave as the
guides say."""

import json

import pytest
from _carto_helpers import isolated  # noqa: F401 (fixture)

from carto_credentials import Credentials, get_default_credentials, set_default_credentials, sql

pytestmark = pytest.mark.usefixtures("isolated")

GUIDE_KEY = "b1ff3ed88761070116180189d9a1f5cb9cc80654"


@pytest.fixture
def creds_json(tmp_path, monkeypatch):
    """The guides' example ``creds.json``, in the notebook's working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "creds.json").write_text(
        json.dumps({"username": "johnsmith", "api_key": GUIDE_KEY})
    )


def test_set_default_credentials_from_creds_json(creds_json):
    set_default_credentials("creds.json")
    creds = get_default_credentials()
    assert (creds.username, creds.api_key) == ("johnsmith", GUIDE_KEY)
    assert creds.base_url == "https://johnsmith.carto.com"


def test_credentials_from_file(creds_json):
    creds = Credentials.from_file("creds.json")
    assert (creds.username, creds.api_key) == ("johnsmith", GUIDE_KEY)
    assert GUIDE_KEY not in repr(creds), "our repr masks the key (a documented difference)"


def test_public_credentials_by_username():
    set_default_credentials(username="your_user_name", api_key="default_public")
    creds = get_default_credentials()
    assert (creds.username, creds.api_key) == ("your_user_name", "default_public")
    assert creds.base_url == "https://your_user_name.carto.com"


def test_public_credentials_by_base_url():
    set_default_credentials(base_url="https://your_user_name.carto.com/", api_key="default_public")
    creds = get_default_credentials()
    assert creds.base_url == "https://your_user_name.carto.com"
    assert creds.api_key == "default_public"


def test_api_key_defaults_to_default_public():
    assert Credentials("your_user_name").api_key == "default_public"
    set_default_credentials("your_user_name")
    assert get_default_credentials().api_key == "default_public"


def test_several_accounts_side_by_side_query_their_own_data(carto_api):
    _, api = carto_api
    credentials_a = Credentials(
        base_url=f"{api}user/alice/", api_key="alice-demo-key-0001", allow_non_secure=True
    )
    credentials_b = Credentials(base_url=f"{api}user/bob/", allow_non_secure=True)
    assert len(sql("SELECT * FROM alice_customers", credentials=credentials_a)) == 3
    assert len(sql("SELECT * FROM bob_parks", credentials=credentials_b)) == 3


def test_gcloud_credentials_for_the_data_observatory(carto_api):
    _, api = carto_api
    creds = Credentials(
        base_url=f"{api}user/alice/", api_key="alice-demo-key-0001", allow_non_secure=True
    )
    project, token = creds.get_gcloud_credentials()
    assert project and token
