"""Server settings (c.CartoCredentials.*) on a server at the root base URL "/"."""

import json
import os

import pytest
from conftest import JupyterServer


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter-config")
    store = str(root / "elsewhere" / "store.json")
    server = JupyterServer(
        root,
        base_url="/",
        args=[
            "--CartoCredentials.store_path=%s" % store,
            "--CartoCredentials.forbid_non_https=True",
        ],
    ).start()
    server.store_path = store
    try:
        yield server
    finally:
        server.stop()


def test_store_path_setting_and_root_base_url(configured):
    resp = configured.http.post(
        configured.api("accounts"),
        data=json.dumps({"username": "carol", "api_key": "k", "validate": False}),
    )
    assert resp.status_code == 201
    assert configured.api("accounts").startswith(
        "http://127.0.0.1:%d/carto-credentials/" % configured.port
    )
    with open(configured.store_path) as f:
        assert [a["username"] for a in json.load(f)["accounts"]] == ["carol"]
    assert not os.path.exists(
        os.path.join(configured.dirs["data"], "carto_credentials", "accounts.json")
    )


def test_forbid_non_https_overrides_the_request(configured, carto_api):
    _, carto = carto_api
    body = {
        "base_url": carto + "user/alice/",
        "api_key": "alice-demo-key-0001",
        "allow_non_https": True,
    }
    resp = configured.http.post(configured.api("validate"), data=json.dumps(body))
    assert resp.json()["code"] == "not_https"
    resp = configured.http.post(configured.api("accounts"), data=json.dumps(body))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "not_https"


def test_forbid_non_https_applies_to_imports(configured, tmp_path):
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
    resp = configured.http.post(configured.api("import"), data=json.dumps({"path": str(path)}))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "import_invalid"
    assert "https" in resp.json()["error"]["message"]
