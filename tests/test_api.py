"""The HTTP contract of the older FastAPI service, through the Flask test client."""

import base64
import io
import json
import re

import pytest
from PIL import Image

from captcha_service.version import __version__
from tests.captchas import CAPTCHA_FILES, UNFAMILIAR, base64_of, label_of

A_CAPTCHA = next(path for path in CAPTCHA_FILES if label_of(path).startswith("0"))


def blank_image_base64():
    buffer = io.BytesIO()
    Image.new("RGB", (160, 60), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def assert_read(response, digits):
    assert response.status_code == 200, response.json
    assert response.json["digits"] == digits
    assert response.json["number"] == int(digits)
    assert 0.9 <= response.json["confidence"] <= 1.0


@pytest.mark.parametrize("path", CAPTCHA_FILES, ids=lambda path: path.name)
def test_reads_real_captchas(client, path):
    assert_read(client.post("/ocr", json={"image_base64": base64_of(path)}), label_of(path))


def test_digits_keep_the_leading_zero_that_number_loses(client):
    response = client.post("/ocr", json={"image_base64": base64_of(A_CAPTCHA)})
    assert response.json["digits"].startswith("0")
    assert len(str(response.json["number"])) < len(response.json["digits"])


@pytest.mark.parametrize(
    "body",
    [
        {"text": base64_of(A_CAPTCHA)},
        {"image_base64": "data:image/png;base64," + base64_of(A_CAPTCHA)},
        {"image_base64": base64_of(A_CAPTCHA).rstrip("=") + "\n"},
        {"image_base64": base64_of(A_CAPTCHA), "text": base64_of(A_CAPTCHA)},
        {"image_base64": base64_of(A_CAPTCHA), "client": "bot-7", "retries": 2},
    ],
    ids=["legacy-text", "data-url", "no-padding-newline", "both-fields-equal", "unknown-fields"],
)
def test_accepts_every_input_form(client, body):
    assert_read(client.post("/ocr", json=body), label_of(A_CAPTCHA))


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "image_base64: missing; send the base64 image in 'image_base64' (or its aliases 'text', 'image')"),
        ({"other": "x"}, "image_base64: missing"),
        ({"image_base64": ""}, "image_base64: is empty"),
        ({"text": ""}, "image_base64: is empty"),
        ({"image_base64": None}, "image_base64: must be a base64 string, not null"),
        ({"image_base64": 1234}, "image_base64: must be a base64 string"),
        ({"image_base64": ["a"]}, "image_base64: must be a base64 string"),
        (
            {"image_base64": "iVBORw0K", "text": "R0lGOD"},
            "'image_base64' and 'text' hold different images; send one of them",
        ),
        ({"image_base64": "not base64!"}, "not valid base64"),
        ({"image_base64": base64.b64encode(b"just some text").decode()}, "not a decodable image"),
        ({"image_base64": base64_of(A_CAPTCHA), "length": 2}, "length: must be a whole number from 3 to 8"),
        ({"image_base64": base64_of(A_CAPTCHA), "length": 10**100}, "length: must be a whole number from 3 to 8"),
        ({"image_base64": base64_of(A_CAPTCHA), "length": 4.5}, "length: must be a whole number from 3 to 8"),
        ({"image_base64": base64_of(A_CAPTCHA), "min_confidence": 1.5}, "min_confidence: must be a number from 0 to 1"),
        (
            {"image_base64": base64_of(A_CAPTCHA), "min_confidence": "high"},
            "min_confidence: must be a number from 0 to 1",
        ),
        ([{"image_base64": "x"}], "the body must be a JSON object"),
        ("a string", "the body must be a JSON object"),
    ],
)
def test_unreadable_requests_get_422_with_a_specific_detail(client, body, detail):
    response = client.post("/ocr", json=body)
    assert response.status_code == 422
    assert response.json["detail"].startswith(detail)


def test_a_blank_image_is_refused_as_unreadable(client):
    response = client.post("/ocr", json={"image_base64": blank_image_base64()})
    assert response.status_code == 422
    assert re.match(r"no reading of 4 digits|low confidence: read \d{4} with confidence 0\.", response.json["detail"])


def test_malformed_json_is_422(client):
    response = client.post("/ocr", data='{"image_base64": ', content_type="application/json")
    assert response.status_code == 422
    assert response.json["detail"].startswith("malformed JSON")


def test_a_damaged_image_is_422(client):
    truncated = base64.b64encode(A_CAPTCHA.read_bytes()[:200]).decode()
    response = client.post("/ocr", json={"image_base64": truncated})
    assert response.status_code == 422
    assert "image is damaged" in response.json["detail"]


def test_wrong_content_type_is_415(client):
    response = client.post("/ocr", data=json.dumps({"image_base64": base64_of(A_CAPTCHA)}), content_type="text/plain")
    assert response.status_code == 415
    assert "application/json" in response.json["detail"]


def test_body_over_the_limit_is_413(app, client):
    oversize = "A" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/ocr", data=json.dumps({"image_base64": oversize}), content_type="application/json")
    assert response.status_code == 413
    assert response.is_json and response.json["detail"]


@pytest.mark.parametrize("path", ["/read", "/createTask//", "//ocr"])
def test_unknown_route_is_404_json(client, path):
    # doubled slashes were a 308 to the route: an HTML page, which a protocol's client cannot read
    response = client.post(path)
    assert response.status_code == 404
    assert response.is_json and "not found" in response.json["detail"]


def test_wrong_method_is_405_json_with_allow(client):
    response = client.get("/ocr")
    assert response.status_code == 405
    assert response.is_json and response.json["detail"]
    assert "POST" in response.headers["Allow"]


def test_health_names_the_model_and_version(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "ready": True,
        "model": "digits+common",
        "digits": 4,
        "min_confidence": 0.9,
        "version": __version__,
    }


def test_a_reading_below_min_confidence_is_refused_with_what_was_read(client):
    response = client.post("/ocr", json={"image_base64": base64_of(A_CAPTCHA), "min_confidence": 1.0})
    assert response.status_code == 422
    assert response.json["digits"] == label_of(A_CAPTCHA)
    assert 0.9 <= response.json["confidence"] < 1.0
    assert response.json["detail"].startswith(f"low confidence: read {label_of(A_CAPTCHA)} with confidence")
    assert response.json["reason"] == "low_confidence"


@pytest.mark.parametrize("path", [*CAPTCHA_FILES, UNFAMILIAR], ids=lambda path: path.name)
def test_a_captchas_confidence_does_not_depend_on_the_confidence_asked(client, path):
    confidences = {
        asked: client.post("/ocr", json={"image_base64": base64_of(path), "min_confidence": asked}).json["confidence"]
        for asked in (0.0, 0.5, 0.9, 0.99, 1.0)
    }
    assert len(set(confidences.values())) == 1, confidences


def test_a_captcha_the_two_readers_read_differently_is_refused_as_unfamiliar(client):
    response = client.post("/ocr", json={"image_base64": base64_of(UNFAMILIAR)})
    assert response.status_code == 422
    assert response.json["reason"] == "unfamiliar"
    assert response.json["confidence"] < 0.9 and len(response.json["digits"]) == 4
    assert response.json["detail"].startswith("unfamiliar captcha: our model and ddddocr read it differently")
    assert "captcha-ocr finetune" in response.json["detail"]
    answered_anyway = client.post("/ocr", json={"image_base64": base64_of(UNFAMILIAR), "min_confidence": 0})
    assert answered_anyway.status_code == 200 and answered_anyway.json["digits"] == response.json["digits"]


def test_min_confidence_zero_answers_even_an_unsure_reading(client):
    response = client.post("/ocr", json={"image_base64": base64_of(A_CAPTCHA), "length": 5, "min_confidence": 0})
    assert response.status_code == 200
    assert len(response.json["digits"]) == 5
    assert response.json["confidence"] < 0.9


def test_a_server_default_length_applies_when_the_request_has_none():
    from captcha_service import create_app

    client = create_app({"OCR_DIGITS": 5, "MIN_CONFIDENCE": 0.0}).test_client()
    assert len(client.post("/ocr", json={"image_base64": base64_of(A_CAPTCHA)}).json["digits"]) == 5
