import base64

import pytest

from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.payload import decode_image_payload

IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
ENCODED = base64.b64encode(IMAGE_BYTES).decode()


@pytest.mark.parametrize(
    "payload",
    [
        ENCODED,
        ENCODED.rstrip("="),
        "\n".join(ENCODED[i : i + 76] for i in range(0, len(ENCODED), 76)),
        ENCODED[:40] + "\r\n " + ENCODED[40:],
        "data:image/png;base64," + ENCODED,
        "DATA:image/png;base64," + ENCODED,
        "data:;base64," + ENCODED,
        base64.urlsafe_b64encode(IMAGE_BYTES).decode().rstrip("="),
        f"  {ENCODED}\n",
    ],
    ids=[
        "plain",
        "no-padding",
        "line-breaks",
        "crlf-and-space",
        "data-url",
        "data-url-upper",
        "data-url-no-type",
        "url-safe",
        "surrounding-space",
    ],
)
def test_accepts_what_clients_send(payload):
    assert decode_image_payload(payload) == IMAGE_BYTES


@pytest.mark.parametrize(
    ("payload", "reason", "message"),
    [
        ("", "empty_image", "empty"),
        (" \n ", "empty_image", "empty"),
        ("data:image/png;base64,", "empty_image", "empty"),
        ("abc$def", "bad_base64", "not valid base64"),
        ("0\u0080", "bad_base64", "not valid base64"),
        ("QUJD\u00e9", "bad_base64", "not valid base64"),
        ("ab=c" + ENCODED, "bad_base64", "not valid base64"),
        ("QUJDR", "bad_base64", "stray character"),
        ("data:text/plain;base64," + ENCODED, "not_an_image", "'text/plain', not an image"),
        ("data:image/png," + ENCODED, "bad_base64", "not base64-encoded"),
    ],
)
def test_refuses_with_a_reason(payload, reason, message):
    with pytest.raises(UnreadableInput) as refusal:
        decode_image_payload(payload)
    assert refusal.value.reason == reason
    assert message in refusal.value.detail


def test_a_data_url_without_a_comma_is_refused_at_once():
    # Once a regular expression that backtracked quadratically here: 39 s for 120,000 characters.
    with pytest.raises(UnreadableInput) as refusal:
        decode_image_payload("data:" + "A" * 2_000_000)
    assert refusal.value.reason == "bad_base64"
    assert "no ','" in refusal.value.detail


def test_data_url_parameters_before_base64_are_accepted():
    assert decode_image_payload("data:image/png;name=captcha.png;base64," + ENCODED) == IMAGE_BYTES
