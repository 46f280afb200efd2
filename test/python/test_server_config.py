"""Server settings (c.CartoCredentials.*) on an in-process server at the root base URL "/"."""

import json
import os

import pytest
from conftest import carto_server_config

ALICE_KEY = "alice-demo-key-0001"


@pytest.fixture
def jp_base_url():
    return "/"


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "elsewhere" / "store.json")


@pytest.fixture
def jp_server_config(store_path):
    return carto_server_config(store_path=store_path, forbid_non_https=True)


async def test_store_path_setting_and_root_base_url(
    carto_rest, store_path, jp_data_dir, http_server_client, jp_auth_header
):
    answer = await carto_rest.post(
        "accounts", {"username": "carol", "api_key": "carol-key-0003", "validate": False}
    )
    assert answer.status == 201
    direct = await http_server_client.fetch("/carto-credentials/accounts", headers=jp_auth_header)
    assert [a["username"] for a in json.loads(direct.body)["accounts"]] == ["carol"]
    with open(store_path) as f:
        assert [a["username"] for a in json.load(f)["accounts"]] == ["carol"]
    assert not os.path.exists(os.path.join(str(jp_data_dir), "carto_credentials", "accounts.json"))


async def test_forbid_non_https_overrides_the_request(carto_rest, carto_api):
    _, carto = carto_api
    body = {"base_url": carto + "user/alice/", "api_key": ALICE_KEY, "allow_non_https": True}
    answer = await carto_rest.post("validate", body)
    assert answer.json["code"] == "not_https"
    answer = await carto_rest.post("accounts", body)
    assert answer.status == 400 and answer.json["error"]["code"] == "not_https"


async def test_forbid_non_https_applies_to_imports(carto_rest, tmp_path):
    path = tmp_path / "creds.json"
    path.write_text(
        json.dumps(
            {
                "username": "u",
                "api_key": "k",
                "base_url": "http://h.example/user/u",
                "allow_non_secure": True,
            }
        )
    )
    answer = await carto_rest.post("import", {"path": str(path)})
    assert answer.status == 400 and answer.json["error"]["code"] == "import_invalid"
    assert "https" in answer.json["error"]["message"]
