"""Decode image bytes into frames, refusing what is not an image we read or would cost too much."""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from .exceptions import UnreadableInput

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


@dataclass(frozen=True)
class ImageLimits:
    """What one request may make us decode. Checked from the header, before any pixel is decoded.

    The model reads images scaled to 64 px high, so the aspect ratio sets the work: a 4000x1
    image would become a 256,000-step input. Frames are bounded one by one and in total.
    """

    max_bytes: int = 1024 * 1024
    max_pixels: int = 4_000_000
    max_aspect_ratio: float = 16.0
    max_frames: int = 64

    @classmethod
    def from_config(cls, config):
        return cls(
            max_bytes=config["MAX_IMAGE_BYTES"],
            max_pixels=config["MAX_IMAGE_PIXELS"],
            max_aspect_ratio=config["MAX_ASPECT_RATIO"],
            max_frames=config["MAX_FRAMES"],
        )


def decode_frames(data, limits=ImageLimits()):
    """Every frame of ``data`` (bytes) as a decoded RGBA image, or ``UnreadableInput`` saying why not.

    Pillow's format plugins raise many kinds of exception on malformed data (IndexError,
    struct.error, ... from deep inside a GIF or PNG parser); whatever they raise while
    decoding a client's bytes is the bytes' fault, so it is a refusal, never a 500.
    """
    if len(data) > limits.max_bytes:
        raise UnreadableInput(f"the image is {len(data)} bytes; at most {limits.max_bytes} are read", "image_too_large")
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        _check_shape(image, limits)
        return [_rgba(frame) for frame in ImageSequence.Iterator(image)]
    except UnreadableInput:
        raise
    except UnidentifiedImageError:
        raise UnreadableInput("not a decodable image: send a PNG, JPEG, GIF, BMP or WebP", "not_an_image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableInput("the image claims more pixels than are ever read", "image_too_large") from None
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise UnreadableInput(f"the image is damaged: {error}", "damaged_image") from None


def _check_shape(image, limits):
    width, height = image.size
    if width * height > limits.max_pixels:
        raise UnreadableInput(
            f"the image is {width}x{height} pixels; at most {limits.max_pixels} pixels are read", "image_too_large"
        )
    if width == 0 or height == 0 or not 1 / limits.max_aspect_ratio <= width / height <= limits.max_aspect_ratio:
        raise UnreadableInput(
            f"the image is {width}x{height} pixels: not the shape of a captcha "
            f"(width/height must be between 1/{limits.max_aspect_ratio:g} and {limits.max_aspect_ratio:g})",
            "bad_shape",
        )
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_frames:
        raise UnreadableInput(f"the image has {frames} frames; at most {limits.max_frames} are read", "too_many_frames")


def _rgba(frame):
    """A decoded RGBA copy of one frame; 16-bit and float pictures are stretched to 8 bits first."""
    if frame.mode in DEEP_MODES:
        pixels = np.asarray(frame, dtype=np.float64)
        low, high = pixels.min(), pixels.max()
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGBA")
    return frame.convert("RGBA")
