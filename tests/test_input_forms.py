"""A form upload and a raw image body get the same answers, limits and errors as JSON base64."""

import io

import pytest

from tests.captchas import CAPTCHA_FILES, FIXTURES, base64_of, label_of

KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"
GIF = FIXTURES / "java_easycaptcha_gif-0_8985.gif"
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}


def json_answer(client, path, **options):
    return client.post("/ocr", json={"image_base64": base64_of(path), **options}).json


@pytest.mark.parametrize("field", ["image", "file"])
def test_a_form_upload_reads_like_json(client, field):
    response = client.post(
        "/ocr", data={field: (io.BytesIO(KAPTCHA.read_bytes()), "captcha.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert response.json == json_answer(client, KAPTCHA)


def test_ddddocr_fastapis_forms_read_like_json(client):
    """Its clients send the base64 text as the field ``image``: urlencoded, multipart or JSON."""
    expected = json_answer(client, KAPTCHA)
    urlencoded = client.post(
        "/ocr",
        data={"image": base64_of(KAPTCHA), "min_confidence": "0.5"},
        content_type="application/x-www-form-urlencoded",
    )
    assert urlencoded.status_code == 200 and urlencoded.json == json_answer(client, KAPTCHA, min_confidence=0.5)
    multipart = client.post("/ocr", data={"image": base64_of(KAPTCHA)}, content_type="multipart/form-data")
    assert multipart.status_code == 200 and multipart.json == expected
    as_json = client.post("/ocr", json={"image": base64_of(KAPTCHA)})
    assert as_json.status_code == 200 and as_json.json == expected
    both = client.post("/ocr", json={"image": base64_of(KAPTCHA), "image_base64": base64_of(GIF)})
    assert both.status_code == 422 and "hold different images" in both.json["detail"]
    # curl -d: '+' unescaped
    unencoded = client.post(
        "/ocr", data=f"image={base64_of(KAPTCHA)}", content_type="application/x-www-form-urlencoded"
    )
    assert unencoded.status_code == 200 and unencoded.json == expected
    not_base64 = client.post("/ocr", data={"image": "not base64!"}, content_type="application/x-www-form-urlencoded")
    assert not_base64.status_code == 422 and not_base64.is_json


def test_an_upload_with_no_file_chosen_is_no_image_and_two_images_are_refused(client):
    # a form's empty file input
    unchosen = {"image": (io.BytesIO(b""), ""), "file": (io.BytesIO(KAPTCHA.read_bytes()), "c.jpg")}
    assert client.post("/ocr", data=unchosen, content_type="multipart/form-data").json == json_answer(client, KAPTCHA)
    two = {"image": (io.BytesIO(KAPTCHA.read_bytes()), "c.jpg"), "file": (io.BytesIO(GIF.read_bytes()), "g.gif")}
    refused = client.post("/ocr", data=two, content_type="multipart/form-data")
    assert refused.status_code == 422 and "different images" in refused.json["detail"]


@pytest.mark.parametrize("path", CAPTCHA_FILES, ids=lambda path: path.name)
def test_a_raw_image_body_reads_like_json(client, path):
    response = client.post("/ocr", data=path.read_bytes(), content_type=MEDIA_TYPES[path.suffix])
    assert response.status_code == 200
    assert response.json == json_answer(client, path)
    assert response.json["digits"] == label_of(path)


def test_options_come_from_form_fields_or_the_query_string(client):
    form = {"image": (io.BytesIO(KAPTCHA.read_bytes()), "c.jpg"), "min_confidence": "1"}
    refused = client.post("/ocr", data=form, content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.json["detail"].startswith("low confidence")
    raw = client.post("/ocr?length=5&min_confidence=0", data=KAPTCHA.read_bytes(), content_type="image/jpeg")
    assert raw.status_code == 200 and len(raw.json["digits"]) == 5
    wins = client.post("/ocr?length=5", json={"image_base64": base64_of(KAPTCHA), "length": 4})
    assert wins.status_code == 200 and wins.json["digits"] == label_of(KAPTCHA)


@pytest.mark.parametrize(
    ("request_options", "status", "detail"),
    [
        (
            {"data": {"other": "x"}, "content_type": "multipart/form-data"},
            422,
            "no image: upload the file in the form field 'image'",
        ),
        (
            {"data": {"other": "x"}, "content_type": "application/x-www-form-urlencoded"},
            422,
            "or send its base64 in the field 'image'",
        ),
        (
            {"data": {"image": (io.BytesIO(b""), "e.png")}, "content_type": "multipart/form-data"},
            422,
            "the uploaded 'image' is empty",
        ),
        (
            {"data": {"image": (io.BytesIO(b"plain text"), "t.png")}, "content_type": "multipart/form-data"},
            422,
            "not a decodable image",
        ),
        ({"data": b"", "content_type": "image/png"}, 422, "the image is empty"),
        ({"data": b"%PDF-1.4 not an image", "content_type": "image/png"}, 422, "not a decodable image"),
        (
            {"data": GIF.read_bytes(), "content_type": "image/gif", "query_string": {"length": "x"}},
            422,
            "length: must be a whole number",
        ),
        ({"data": b"x" * 3_000_000, "content_type": "image/png"}, 413, ""),
        ({"data": b"1234", "content_type": "text/plain"}, 415, "multipart/form-data"),
    ],
    ids=[
        "no-upload",
        "no-image-field",
        "empty-upload",
        "upload-not-an-image",
        "empty-raw",
        "raw-not-an-image",
        "bad-query-option",
        "raw-too-large",
        "text-plain",
    ],
)
def test_the_other_forms_are_refused_like_json(client, request_options, status, detail):
    response = client.post("/ocr", **request_options)
    assert response.status_code == status
    assert response.is_json and detail in response.json["detail"]
