import logging

import pytest

from captcha_service import create_app
from captcha_service.api.auth import load_api_keys, warn_if_open_to_the_network
from tests.captchas import CAPTCHA_FILES, base64_of

KEYS = "first-key-123,second-key-456"
BODY = {"image_base64": base64_of(CAPTCHA_FILES[0])}


@pytest.fixture(scope="module")
def keyed_app():
    return create_app({"API_KEYS": KEYS})


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer first-key-123"},
        {"Authorization": "bearer second-key-456"},
        {"X-API-Key": "second-key-456"},
    ],
    ids=["bearer", "bearer-lowercase", "x-api-key"],
)
def test_a_known_key_reads(keyed_app, headers):
    assert keyed_app.test_client().post("/ocr", json=BODY, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": ""},
        {"Authorization": "Basic Zmlyc3Qta2V5LTEyMw=="},
        {"X-API-Key": "first-key-12"},
    ],
    ids=["none", "wrong", "empty", "basic-auth", "prefix-of-a-key"],
)
def test_a_missing_or_wrong_key_is_401_json(keyed_app, headers):
    response = keyed_app.test_client().post("/ocr", json=BODY, headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "first-key" not in response.get_data(as_text=True)


def test_health_stays_open_and_tells_no_secret(keyed_app):
    response = keyed_app.test_client().get("/")
    assert response.status_code == 200
    assert "key" not in response.get_data(as_text=True).lower()


def test_without_keys_the_service_is_open(client):
    assert client.post("/ocr", json=BODY).status_code == 200


def test_keys_load_from_a_file(tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# operators\nalpha\n\n beta \n")
    assert load_api_keys("", str(key_file)) == (b"alpha", b"beta")
    assert load_api_keys("gamma", str(key_file)) == (b"gamma", b"alpha", b"beta")
    assert load_api_keys(" a , b ,") == (b"a", b"b")
    assert load_api_keys("") == ()
    with pytest.raises(ValueError, match="holds no key"):
        load_api_keys(" , ")


def test_a_missing_key_file_stops_the_start_up(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        create_app({"API_KEYS_FILE": str(tmp_path / "no-such-file")})
    (tmp_path / "empty").write_text("# nobody yet\n")
    with pytest.raises(ValueError, match="holds no key"):
        load_api_keys("", str(tmp_path / "empty"))


@pytest.mark.parametrize("setting", ["/etc/captcha-ocr/keys", "./keys.txt", "~/keys", "k1,/etc/keys"])
def test_a_path_in_api_keys_is_refused_not_taken_as_a_key(setting):
    # Once, API_KEYS=/etc/captcha-ocr/keys with no such file made the path itself the only key.
    with pytest.raises(ValueError, match="API_KEYS_FILE"):
        load_api_keys(setting)


@pytest.mark.parametrize(
    ("host", "keys", "warns"),
    [("0.0.0.0", "", True), ("127.0.0.1", "", False), ("localhost", "", False), ("0.0.0.0", "k", False)],
)
def test_an_open_service_on_the_network_is_warned_about(app, caplog, host, keys, warns):
    with caplog.at_level(logging.WARNING):
        warn_if_open_to_the_network(app.logger, host, load_api_keys(keys))
    assert ("without API keys" in caplog.text) is warns
