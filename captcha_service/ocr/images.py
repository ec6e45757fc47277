"""Decode image bytes into one grey picture, refusing what is not an image we read or would cost too much."""

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from .exceptions import UnreadableInput
from .reasons import Reason
from .rendering import flatten

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# IMAGE_FORMATS, as HTTP names them
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
FILE_SIGNATURES = ((b"\x89PNG", "png"), (b"\xff\xd8", "jpg"), (b"GIF8", "gif"), (b"BM", "bmp"), (b"RIFF", "webp"))
DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
JPEG_START_OF_SCAN = b"\xff\xda"  # in entropy-coded data 0xFF is always followed by 0x00 or a restart marker


@dataclass(frozen=True)
class ImageLimits:
    """What one request may make us decode. Checked from the header, and again at every frame.

    The model reads images scaled to a fixed height, so the aspect ratio sets the work: a
    4000x1 image would become a huge input. Frames are bounded one by one (pixels, shape),
    in number, and in the pixels decoded over all of them; a JPEG in its number of scans,
    each of which makes libjpeg pass over the whole picture again.
    """

    # The defaults of the MAX_* settings (config.Config reads them here).
    max_bytes: int = 1024 * 1024
    max_pixels: int = 4_000_000
    max_aspect_ratio: float = 16.0
    max_frames: int = 64
    max_decoded_pixels: int = 8_000_000
    max_jpeg_scans: int = 32

    @classmethod
    def from_config(cls, config):
        return cls(
            max_bytes=config["MAX_IMAGE_BYTES"],
            max_pixels=config["MAX_IMAGE_PIXELS"],
            max_aspect_ratio=config["MAX_ASPECT_RATIO"],
            max_frames=config["MAX_FRAMES"],
            max_decoded_pixels=config["MAX_DECODED_PIXELS"],
            max_jpeg_scans=config["MAX_JPEG_SCANS"],
        )


def image_extension(data):
    """The file name extension of an image's bytes, from its signature ("bin" for none of ours)."""
    return next((extension for signature, extension in FILE_SIGNATURES if data.startswith(signature)), "bin")


def guard_pillow(limits):
    """Make Pillow itself refuse what the limits refuse, wherever it checks (it does on every seek).

    Pillow warns past ``MAX_IMAGE_PIXELS`` and raises past twice that; a process-wide filter
    turns the warning into an error, which ``decode_picture`` answers as a refusal. Called once,
    when the engine is built.
    """
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def decode_picture(data, limits=None):
    """The one grey picture ``data`` (bytes) shows (see ``rendering.flatten``), or ``UnreadableInput`` saying why not.

    ``limits``: an ``ImageLimits``, by default the service's default settings.

    Frames are decoded one at a time and folded into the picture as they come, so an
    animation costs the memory of one frame, not of all of them. Pillow's format plugins
    raise many kinds of exception on malformed data (IndexError, struct.error, ... from deep
    inside a GIF or PNG parser); whatever they raise while decoding a client's bytes is the
    bytes' fault, so it is a refusal, never a 500.
    """
    limits = limits or ImageLimits()
    if len(data) > limits.max_bytes:
        raise UnreadableInput(
            f"the image is {len(data)} bytes; at most {limits.max_bytes} are read", Reason.IMAGE_TOO_LARGE
        )
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        _check_header(image, data, limits)
        return flatten(_checked_frames(image, limits))
    except UnreadableInput:
        raise
    except UnidentifiedImageError:
        raise UnreadableInput(
            "not a decodable image: send a PNG, JPEG, GIF, BMP or WebP", Reason.NOT_AN_IMAGE
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadableInput(
            f"the image claims more pixels than are ever read ({error})", Reason.IMAGE_TOO_LARGE
        ) from None
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise UnreadableInput(f"the image is damaged: {error}", Reason.DAMAGED_IMAGE) from None


def _check_header(image, data, limits):
    """What the header tells, before any pixel is decoded."""
    _check_frame_size(image.size, limits)
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_frames:
        raise UnreadableInput(
            f"the image has {frames} frames; at most {limits.max_frames} are read", Reason.TOO_MANY_FRAMES
        )
    width, height = image.size
    if frames * width * height > limits.max_decoded_pixels:
        raise UnreadableInput(
            f"the image has {frames} frames of {width}x{height} pixels; at most {limits.max_decoded_pixels} "
            "pixels are decoded over all frames",
            Reason.IMAGE_TOO_LARGE,
        )
    if image.format in ("JPEG", "MPO"):
        scans = data.count(JPEG_START_OF_SCAN)
        if scans > limits.max_jpeg_scans:
            raise UnreadableInput(
                f"the JPEG has {scans} scans; at most {limits.max_jpeg_scans} are decoded", Reason.IMAGE_TOO_LARGE
            )


def _check_frame_size(size, limits):
    width, height = size
    if width * height > limits.max_pixels:
        raise UnreadableInput(
            f"the image is {width}x{height} pixels; at most {limits.max_pixels} pixels are read", Reason.IMAGE_TOO_LARGE
        )
    if width == 0 or height == 0 or not 1 / limits.max_aspect_ratio <= width / height <= limits.max_aspect_ratio:
        raise UnreadableInput(
            f"the image is {width}x{height} pixels: not the shape of a captcha "
            f"(width/height must be between 1/{limits.max_aspect_ratio:g} and {limits.max_aspect_ratio:g})",
            Reason.BAD_SHAPE,
        )


def _checked_frames(image, limits):
    """Each frame as RGBA, decoded only after its own size is checked.

    A frame's size is known only once Pillow has seeked to it: a multi-picture JPEG (MPO)
    reads each picture's size on seek, and a GIF's later frames may grow the canvas.
    """
    decoded = 0
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        _check_frame_size(image.size, limits)
        decoded += image.width * image.height
        if decoded > limits.max_decoded_pixels:
            raise UnreadableInput(
                f"the image's frames hold more than {limits.max_decoded_pixels} pixels", Reason.IMAGE_TOO_LARGE
            )
        yield _rgba(image)


def _rgba(frame):
    """A decoded RGBA copy of one frame; 16-bit and float pictures are stretched to 8 bits first."""
    if frame.mode in DEEP_MODES:
        pixels = np.asarray(frame, dtype=np.float64)
        low, high = pixels.min(), pixels.max()
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGBA")
    return frame.convert("RGBA")
