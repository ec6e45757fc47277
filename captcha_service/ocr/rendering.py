"""Turn an image as a site serves it into the grey pictures the model reads (no Flask)."""

import numpy as np
from PIL import Image, ImageChops

from .exceptions import UnreadableInput
from .reasons import Reason

WHITE = (255, 255, 255, 255)
INK_CONTRAST = 48
MARGIN_OF_HEIGHT = 0.12
TRIMMED_MAX_ASPECT_RATIO = 16.0  # bounds the model input after trimming, whatever the input limit
STRETCHES = (1.0, 1.35, 0.75)


def flatten(frames):
    """One grey picture of what RGBA ``frames`` (any iterable) show: transparency over white, frames together.

    A transparent background becomes white (never black text on black). An animated image
    that reveals its digits frame by frame is read as all frames at once: per pixel, the
    inkiest value over the frames, dark ink on a light background or light on a dark one
    (told by the first frame's border). Frames are folded in one by one, so only one is
    ever held besides the picture.
    """
    picture, inkiest = None, None
    for frame in frames:
        grey = Image.alpha_composite(Image.new("RGBA", frame.size, WHITE), frame).convert("L")
        if picture is None:
            picture = grey
            inkiest = ImageChops.darker if _background_level(np.asarray(grey)) >= 128 else ImageChops.lighter
        elif grey.size != picture.size:
            raise UnreadableInput(
                f"the image's frames differ in size ({picture.width}x{picture.height}, "
                f"then {grey.width}x{grey.height})",
                Reason.BAD_SHAPE,
            )
        else:
            picture = inkiest(picture, grey)
    return picture


def trim_margins(grey):
    """Cut away borders of plain background, so digits in a band of a large canvas fill the height.

    Only rows and columns with no ink at all are cut, and a margin is kept: a noisy captcha,
    whose borders are not plain, is left as it is. The cut keeps at least 1/TRIMMED_MAX_ASPECT_RATIO of
    its width in height, so a thin line of ink cannot become a huge input for the model.
    """
    pixels = np.asarray(grey, dtype=np.int16)
    ink = np.abs(pixels - _background_level(pixels)) > INK_CONTRAST
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return grey
    margin = max(2, round((rows[-1] - rows[0] + 1) * MARGIN_OF_HEIGHT))
    left, right = max(0, columns[0] - margin), min(grey.width, columns[-1] + 1 + margin)
    top, bottom = max(0, rows[0] - margin), min(grey.height, rows[-1] + 1 + margin)
    shortfall = int(np.ceil((right - left) / TRIMMED_MAX_ASPECT_RATIO)) - (bottom - top)
    if shortfall > 0:
        top = max(0, min(top - shortfall // 2, grey.height - (bottom - top) - shortfall))
        bottom = min(grey.height, top + (bottom - top) + shortfall)
    return grey.crop((left, top, right, bottom))


def renderings(grey, stretches=STRETCHES):
    """The views the model reads: as is, and stretched wider and narrower (or some of them).

    The model emits one time step per 8 pixels of width; stretching changes how digits fall
    on those steps, so the views err differently and their agreement says how sure we are.
    """
    return [
        grey
        if stretch == 1.0
        else grey.resize((max(1, round(grey.width * stretch)), grey.height), Image.Resampling.LANCZOS)
        for stretch in stretches
    ]


def _background_level(pixels):
    """The grey level of the border, where captchas have background."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return float(np.median(border))
