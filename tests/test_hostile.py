"""Broken and hostile requests: each gets a 4xx JSON answer with a useful detail, never a 500."""

import json

import pytest

from bench.hostile_corpus import IMAGE_CASES, KAPTCHA, encoded, kaptcha_as, sixteen_bit_png
from tests.captchas import label_of


@pytest.mark.parametrize(("data", "detail"), [case[1:] for case in IMAGE_CASES], ids=[case[0] for case in IMAGE_CASES])
def test_bad_images_are_refused_with_a_reason(client, data, detail):
    response = client.post("/ocr", json={"image_base64": encoded(data)})
    assert response.status_code == 422, response.json
    assert detail in response.json["detail"]


@pytest.mark.parametrize(
    "data",
    [kaptcha_as("CMYK", "JPEG"), sixteen_bit_png(), kaptcha_as("P", "GIF")],
    ids=["cmyk-jpeg", "16-bit-png", "palette-gif"],
)
def test_unusual_but_valid_encodings_are_read(client, data):
    response = client.post("/ocr", json={"image_base64": encoded(data)})
    assert response.status_code == 200, response.json
    assert response.json["digits"] == label_of(KAPTCHA)


BODY_CASES = [
    ("illegal-base64", json.dumps({"image_base64": "iVBOR%%w0KGgo"}), "not valid base64"),
    (
        "non-image-data-url",
        json.dumps({"image_base64": "data:application/pdf;base64," + encoded(b"%PDF-1.4")}),
        "not an image",
    ),
    ("number", json.dumps({"image_base64": 12345}), "must be a base64 string"),
    ("list", json.dumps({"image_base64": ["iVBOR"]}), "must be a base64 string"),
    ("object", json.dumps({"image_base64": {"data": "iVBOR"}}), "must be a base64 string"),
    ("null", json.dumps({"image_base64": None}), "not null"),
    ("json-array", json.dumps([encoded(KAPTCHA.read_bytes())]), "must be a JSON object"),
    ("json-scalar", json.dumps(42), "must be a JSON object"),
    ("json-string", json.dumps("iVBORw0KGgo"), "must be a JSON object"),
    ("invalid-utf8", b'{"image_base64": "\xff\xfe\xfd"}', "malformed JSON"),
    ("deeply-nested", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("huge-length", '{"image_base64": "iVBOR", "length": 1' + "0" * 400 + "}", "length: must be a whole number"),
    ("huge-min-confidence", '{"image_base64": "iVBOR", "min_confidence": 1e400}', "min_confidence: must be a number"),
    (
        "negative-min-confidence",
        '{"image_base64": "iVBOR", "min_confidence": -0.5}',
        "min_confidence: must be a number",
    ),
    ("empty-body", "", "malformed JSON"),
]


@pytest.mark.parametrize(("body", "detail"), [case[1:] for case in BODY_CASES], ids=[case[0] for case in BODY_CASES])
def test_bad_bodies_are_refused_with_a_reason(client, body, detail):
    response = client.post("/ocr", data=body, content_type="application/json")
    assert response.status_code == 422, response.json
    assert detail in response.json["detail"]


def test_duplicate_keys_keep_the_last_value_as_json_does(client):
    body = '{"image_base64": "not an image", "image_base64": "%s"}' % encoded(KAPTCHA.read_bytes())  # noqa: UP031 - keys JSON would merge
    response = client.post("/ocr", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json["digits"] == label_of(KAPTCHA)


def test_the_service_still_reads_after_every_bad_request(client):
    for _, data, _ in IMAGE_CASES:
        client.post("/ocr", json={"image_base64": encoded(data)})
    response = client.post("/ocr", json={"image_base64": encoded(KAPTCHA.read_bytes())})
    assert response.status_code == 200 and response.json["digits"] == label_of(KAPTCHA)
