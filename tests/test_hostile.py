"""Broken and hostile requests: each gets a 4xx JSON answer with a useful detail, never a 500."""

import base64
import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, label_of

KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"
GIF = FIXTURES / "java_easycaptcha_gif-0_8985.gif"
PNG = FIXTURES / "captcha_py-105_0093.png"


def encoded(data):
    return base64.b64encode(data).decode()


def saved(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_of(width, height, color_type, rows, chunks=()):
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(chunks) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def many_frame_gif(frames):
    """A GIF of ``frames`` 1x1 frames, written by hand: PIL would take long to encode it."""
    frame = b"\x21\xf9\x04\x00\x01\x00\x00\x00" + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00"
    return b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff" + frame * frames + b"\x3b"


def kaptcha_as(mode, image_format):
    with Image.open(KAPTCHA) as image:
        return saved(image.convert(mode), image_format)


def sixteen_bit_png():
    with Image.open(KAPTCHA) as image:
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    return saved(Image.fromarray(grey), "PNG")


def noise_png(width, height):
    return saved(Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)), "PNG")


IMAGE_CASES = [
    ("truncated-png", PNG.read_bytes()[:300], "damaged"),
    ("truncated-jpeg", KAPTCHA.read_bytes()[:700], "damaged"),
    ("truncated-gif", GIF.read_bytes()[:2000], "damaged"),
    ("zero-bytes", b"\x00" * 64, "not a decodable image"),
    ("one-by-one", saved(Image.new("RGB", (1, 1), "white"), "PNG"), "no reading of 4 digits"),
    ("text-file", b"username=admin\npassword=hunter2\n", "not a decodable image"),
    ("pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", "not a decodable image"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="60"><text y="40">1234</text></svg>', "not a decodable image"),
    ("tiff-odd-mode", saved(Image.new("I;16", (160, 60)), "TIFF"), "not a decodable image"),
    ("palette-png-without-palette", png_of(16, 8, 3, b"\x00" + b"\x00" * 16 * 8), "damaged"),
    ("ten-thousand-frame-gif", many_frame_gif(10_000), "10000 frames; at most 64"),
    ("random-bytes", np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes(), "not a decodable image"),
    ("claims-a-huge-canvas", png_of(100_000, 100_000, 0, b""), "pixels"),
    ("a-4000x1-strip", saved(Image.new("L", (4000, 1), 255), "PNG"), "not the shape of a captcha"),
    ("a-1x400-column", saved(Image.new("L", (1, 400), 255), "PNG"), "not the shape of a captcha"),
    ("over-max-image-bytes", noise_png(700, 600), "bytes; at most 1048576"),
]


@pytest.mark.parametrize(("data", "detail"), [case[1:] for case in IMAGE_CASES], ids=[case[0] for case in IMAGE_CASES])
def test_bad_images_are_refused_with_a_reason(client, data, detail):
    response = client.post("/ocr", json={"image_base64": encoded(data)})
    assert response.status_code == 422, response.json
    assert detail in response.json["detail"]


@pytest.mark.parametrize(
    "data", [kaptcha_as("CMYK", "JPEG"), sixteen_bit_png(), kaptcha_as("P", "GIF")], ids=["cmyk-jpeg", "16-bit-png", "palette-gif"]
)
def test_unusual_but_valid_encodings_are_read(client, data):
    response = client.post("/ocr", json={"image_base64": encoded(data)})
    assert response.status_code == 200, response.json
    assert response.json["digits"] == label_of(KAPTCHA)


BODY_CASES = [
    ("illegal-base64", json.dumps({"image_base64": "iVBOR%%w0KGgo"}), "not valid base64"),
    ("non-image-data-url", json.dumps({"image_base64": "data:application/pdf;base64," + encoded(b"%PDF-1.4")}), "not an image"),
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
    ("negative-min-confidence", '{"image_base64": "iVBOR", "min_confidence": -0.5}', "min_confidence: must be a number"),
    ("empty-body", "", "malformed JSON"),
]


@pytest.mark.parametrize(("body", "detail"), [case[1:] for case in BODY_CASES], ids=[case[0] for case in BODY_CASES])
def test_bad_bodies_are_refused_with_a_reason(client, body, detail):
    response = client.post("/ocr", data=body, content_type="application/json")
    assert response.status_code == 422, response.json
    assert detail in response.json["detail"]


def test_duplicate_keys_keep_the_last_value_as_json_does(client):
    body = '{"image_base64": "not an image", "image_base64": "%s"}' % encoded(KAPTCHA.read_bytes())
    response = client.post("/ocr", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json["digits"] == label_of(KAPTCHA)


def test_the_service_still_reads_after_every_bad_request(client):
    for _, data, _ in IMAGE_CASES:
        client.post("/ocr", json={"image_base64": encoded(data)})
    response = client.post("/ocr", json={"image_base64": encoded(KAPTCHA.read_bytes())})
    assert response.status_code == 200 and response.json["digits"] == label_of(KAPTCHA)
