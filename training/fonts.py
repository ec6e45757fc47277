"""The fonts the renderer draws digits with: every installed font whose ten digits are real glyphs."""

import functools
import hashlib
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FOLDERS = (pathlib.Path("/usr/share/fonts"),)
FONT_SUFFIXES = {".ttf", ".otf"}
DIGITS = "0123456789"
# Faces whose digit code points hold other pictures (dingbats, symbols, math).
NOT_DIGIT_FACES = ("D050000L", "StandardSymbolsPS", "DejaVuMathTeXGyre")


@functools.cache
def digit_fonts(folders=FONT_FOLDERS):
    """Sorted paths of the fonts that draw ten distinct, non-empty digits (no symbol or icon fonts).

    Sorted so that a seed picks the same font on every machine that has the same packages.
    One file per font name: the same face shipped as .ttf and .otf counts once.
    """
    by_name = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if (
                path.suffix.lower() in FONT_SUFFIXES
                and path.stem not in by_name
                and path.stem not in NOT_DIGIT_FACES
                and _draws_digits(path)
            ):
                by_name[path.stem] = path
    return tuple(sorted(by_name.values()))


def _draws_digits(path):
    try:
        font = ImageFont.truetype(str(path), 32)
    except OSError:
        return False
    shapes = set()
    for digit in DIGITS:
        canvas = Image.new("L", (48, 48))
        ImageDraw.Draw(canvas).text((8, 4), digit, font=font, fill=255)
        pixels = np.asarray(canvas) > 127
        if pixels.sum() < 20:
            return False
        shapes.add(hashlib.sha1(np.packbits(pixels).tobytes()).hexdigest())
    return len(shapes) == len(DIGITS)
