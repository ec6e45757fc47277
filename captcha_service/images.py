"""Open image bytes as a decoded PIL image, or say why they are not one we read."""

import io

from PIL import Image, UnidentifiedImageError

from .exceptions import UnreadableInput

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_IMAGE_PIXELS = 4_000_000


def open_image(data):
    """Decode ``data`` (bytes) into a loaded PIL image of one of ``IMAGE_FORMATS``.

    The pixel count is checked from the header, before any pixel is decoded, so a small file
    that claims a huge canvas costs nothing.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise UnreadableInput(
            "not a decodable image: send a PNG, JPEG, GIF, BMP or WebP", "not_an_image"
        ) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise UnreadableInput(
            f"the image is {width}x{height} pixels; at most {MAX_IMAGE_PIXELS} pixels are read",
            "image_too_large",
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableInput(f"the {image.format} image is damaged: {error}", "damaged_image") from None
    return image
