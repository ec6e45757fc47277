"""CORS_ORIGINS: a page in a browser (a userscript, an extension) may call the service, and only the pages named."""

import pytest

from captcha_service import create_app
from tests.captchas import FIXTURES, base64_of

KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"
PAGE = "https://login.example.com"


@pytest.fixture(scope="module")
def cors_client():
    return create_app({"CORS_ORIGINS": f"{PAGE}, http://localhost:3000", "API_KEYS": "key-a"}).test_client()


def test_a_named_page_may_read_the_answer_and_its_request_id(cors_client):
    answer = cors_client.post(
        "/ocr", json={"image_base64": base64_of(KAPTCHA)}, headers={"Origin": PAGE, "X-API-Key": "key-a"}
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]


def test_a_preflight_is_answered_without_a_key_and_allows_the_key_header(cors_client):
    preflight = cors_client.options(
        "/ocr",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert preflight.status_code == 204 and not preflight.data
    assert preflight.headers["Access-Control-Allow-Origin"] == PAGE
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert {"content-type", "x-api-key"} <= {
        name.strip().lower() for name in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }


def test_another_page_gets_no_cors_headers_and_so_cannot_read(cors_client):
    answer = cors_client.post(
        "/ocr",
        json={"image_base64": base64_of(KAPTCHA)},
        headers={"Origin": "https://evil.example", "X-API-Key": "key-a"},
    )
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_off_by_default(client):
    answer = client.post("/ocr", json={"image_base64": base64_of(KAPTCHA)}, headers={"Origin": PAGE})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize(("path", "allowed"), [("/ocr", {"OPTIONS", "POST"}), ("/", {"OPTIONS", "GET", "HEAD"})])
def test_options_says_what_a_path_allows_with_no_body_labelled_a_page(client, path, allowed):
    # it was a 200 with an empty body labelled text/html
    answer = client.options(path)
    assert answer.status_code == 204 and not answer.data and "Content-Type" not in answer.headers
    assert {method.strip() for method in answer.headers["Allow"].split(",")} == allowed
    assert client.options("/nowhere").json["detail"]  # a path that is not: JSON 404, as any method


def test_any_page_with_a_star():
    answer = create_app({"CORS_ORIGINS": "*"}).test_client().get("/", headers={"Origin": "https://anywhere.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "setting", ["example.com", "https://example.com/login", "*, https://example.com", "ftp://example.com"]
)
def test_a_setting_that_is_no_origin_stops_the_start_up(setting):
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        create_app({"CORS_ORIGINS": setting})


def test_a_browser_extension_may_be_named():
    extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    client = create_app({"CORS_ORIGINS": extension}).test_client()
    assert client.get("/", headers={"Origin": extension}).headers["Access-Control-Allow-Origin"] == extension
