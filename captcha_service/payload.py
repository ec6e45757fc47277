"""Turn the base64 text that clients send into image bytes."""

import base64
import re

from .exceptions import UnreadableInput

_DATA_URL_PREFIX = re.compile(r"data:(?P<media_type>[^;,]*)(?P<params>[^,]*),", re.IGNORECASE)
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def decode_image_payload(payload):
    """Decode raw base64 or a ``data:image/...;base64,`` URL into bytes.

    Tolerates what real clients send: line breaks and spaces inside the text, missing ``=``
    padding and the URL-safe alphabet. Anything else that is not base64 is refused.
    """
    text = payload.strip()
    prefix = _DATA_URL_PREFIX.match(text)
    if prefix:
        _check_data_url(prefix["media_type"], prefix["params"])
        text = text[prefix.end():]
    compact = "".join(text.split()).rstrip("=").translate(_URL_SAFE_TO_STANDARD)
    if not compact:
        raise UnreadableInput("the image is empty", "empty_image")
    if len(compact) % 4 == 1:
        raise UnreadableInput("not valid base64: the text has a stray character at the end", "bad_base64")
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise UnreadableInput(
            "not valid base64: only A-Z, a-z, 0-9, '+', '/' (or '-', '_') and '=' may appear",
            "bad_base64",
        ) from None


def _check_data_url(media_type, params):
    if media_type and not media_type.lower().startswith("image/"):
        raise UnreadableInput(f"the data URL is of type {media_type!r}, not an image", "not_an_image")
    if ";base64" not in params.lower():
        raise UnreadableInput("the data URL is not base64-encoded (';base64,' is missing)", "bad_base64")
