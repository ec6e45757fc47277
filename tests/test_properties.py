"""Property tests: whatever a client sends, the decoders answer a result or a clean refusal."""

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captcha_service.api.extension import ocr
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.payload import decode_image_payload
from tests.captchas import CAPTCHA_FILES

FIXTURE_BYTES = [path.read_bytes() for path in CAPTCHA_FILES]
QUICK = settings(max_examples=300, deadline=None, database=None)


def refuses_cleanly(call, *arguments):
    try:
        return call(*arguments)
    except UnreadableInput as refusal:
        assert refusal.detail and refusal.reason
        return None


@st.composite
def damaged_images(draw):
    """A real captcha with bytes flipped, cut off, or inserted."""
    data = bytearray(draw(st.sampled_from(FIXTURE_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[position:]
            if not data:
                break
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@QUICK
@given(st.text())
def test_any_text_decodes_or_is_refused(text):
    result = refuses_cleanly(decode_image_payload, text)
    assert result is None or isinstance(result, bytes)


@QUICK
@given(st.binary(min_size=1, max_size=64), st.sampled_from(["", "\n", "=", "data:image/png;base64,"]))
def test_base64_of_any_bytes_round_trips(raw, decoration):
    encoded = base64.b64encode(raw).decode()
    text = decoration + encoded if decoration.startswith("data:") else encoded + decoration
    assert decode_image_payload(text) == raw


@QUICK
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_are_refused(data):
    picture = refuses_cleanly(decode_picture, data)
    assert picture is None or picture.mode == "L"


@QUICK
@given(damaged_images())
def test_damaged_captchas_decode_or_are_refused(data):
    picture = refuses_cleanly(decode_picture, data)
    assert picture is None or picture.mode == "L"


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=damaged_images())
def test_damaged_captchas_read_or_are_refused_by_the_engine(app, data):
    reader = ocr.state(app).pipeline.recogniser
    picture = refuses_cleanly(decode_picture, data)
    if picture is not None:
        reading = refuses_cleanly(reader.read, picture, 4)
        assert reading is None or 0.0 <= reading.confidence <= 1.0
