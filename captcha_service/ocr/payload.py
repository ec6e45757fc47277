"""Turn the base64 text that clients send into image bytes."""

import base64

from .exceptions import UnreadableInput
from .reasons import Reason

_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def decode_image_payload(payload):
    """Decode raw base64 or a ``data:image/...;base64,`` URL into bytes.

    Tolerates what real clients send: line breaks and spaces inside the text, missing ``=``
    padding and the URL-safe alphabet. Anything else that is not base64 is refused.
    """
    text = payload.strip()
    if text[:5].lower() == "data:":
        text = _data_url_content(text)
    compact = "".join(text.split()).rstrip("=").translate(_URL_SAFE_TO_STANDARD)
    if not compact:
        raise UnreadableInput("the image is empty", Reason.EMPTY_IMAGE)
    if len(compact) % 4 == 1:
        raise UnreadableInput("not valid base64: the text has a stray character at the end", Reason.BAD_BASE64)
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise UnreadableInput(
            "not valid base64: only A-Z, a-z, 0-9, '+', '/' (or '-', '_') and '=' may appear",
            Reason.BAD_BASE64,
        ) from None


def base64_of_form(text):
    """The base64 a form field carries: a '+' the client sent unencoded arrives as a space (a form's own encoding of
    a space), so each space is a '+' again. Base64 has no spaces of its own; line breaks stay whitespace."""
    return text.replace(" ", "+")


def _data_url_content(text):
    """What follows the comma of a ``data:`` URL, once its header is checked.

    Split with ``str.find`` and ``partition``, not a regular expression: a pattern with two
    open-ended groups backtracks quadratically on a long value with no comma, holding the GIL.
    """
    comma = text.find(",")
    if comma == -1:
        raise UnreadableInput("the data URL has no ',' between its header and the base64 data", Reason.BAD_BASE64)
    media_type, _, params = text[5:comma].partition(";")
    _check_data_url(media_type.strip(), params)
    return text[comma + 1 :]


def _check_data_url(media_type, params):
    if media_type and not media_type.lower().startswith("image/"):
        raise UnreadableInput(f"the data URL is of type {media_type!r}, not an image", Reason.NOT_AN_IMAGE)
    if "base64" not in (param.strip().lower() for param in params.split(";")):
        raise UnreadableInput("the data URL is not base64-encoded (';base64,' is missing)", Reason.BAD_BASE64)
