"""The fonts the renderer draws digits with: the fonts of the packages training names whose digits are real glyphs,
less the held-out families, which no training draws."""

import functools
import hashlib
import pathlib
import re
import subprocess

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FOLDER = pathlib.Path("/usr/share/fonts")
FONT_SUFFIXES = {".ttf", ".otf"}
# The Debian packages training draws with; the font packages among them are the renderer's fonts.
PACKAGES_FILE = pathlib.Path(__file__).with_name("debian-packages.txt")
DIGITS = "0123456789"
# Faces whose digit code points hold other pictures (dingbats, symbols, math).
NOT_DIGIT_FACES = ("D050000L", "StandardSymbolsPS", "DejaVuMathTeXGyre")
# About one font family in this many, chosen by a hash of its name (so by nothing about how it looks), is held out
# of training with all its faces (bold, italic, ...), where all its relatives are held out too: the renderer's
# held-out families are drawn in those faces, and a model's reading of them says, while it trains, how it reads a
# face it never saw (training/train.py).
HELD_OUT_SHARE = 8
# Families whose digits are copies of another's: Hack and DejaVu are Bitstream Vera's; FreeSans, Nimbus Sans and
# Liberation Sans are Helvetica's metrics and much of its shapes, and so on for their serif and mono siblings.
CLONES = {
    "bitstream": "dejavu",
    "hack": "dejavu",
    "freesans": "core",
    "freeserif": "core",
    "freemono": "core",
    "nimbus": "core",
    "liberation": "core",
}


@functools.cache
def faces(held_out):
    """The digit fonts (``digit_fonts``) training draws with (``held_out`` False), those it never does (True), or all
    of them (None)."""
    if held_out is None:
        return digit_fonts()
    return tuple(path for path in digit_fonts() if _is_held_out(path) == held_out)


def relatives(family):
    """The key a font family shares with its relatives: its first word (Go, Go Mono and Go Medium; Noto Mono and Noto
    Sans Mono; Beteckna and BetecknaGS), or the original it copies (``CLONES``)."""
    first = re.split(r"[ -]", family)[0].lower().removesuffix("condensed").removesuffix("gs")
    return CLONES.get(first, first)


def _is_held_out(path):
    """Whether its family's name falls to the held-out share, and so does every family related to it."""
    family = _family(path)
    return all(_falls_out(other) for other in _families() if relatives(other) == relatives(family))


def _falls_out(family):
    return int(hashlib.sha1(family.encode()).hexdigest(), 16) % HELD_OUT_SHARE == 0


@functools.cache
def _families():
    return {_family(path) for path in digit_fonts()}


def _family(path):
    return ImageFont.truetype(str(path), 16).getname()[0]


@functools.cache
def digit_fonts():
    """Sorted paths of the fonts that draw ten distinct, non-empty digits (no symbol or icon fonts).

    Sorted so that a seed picks the same font on every machine that has the same packages.
    One file per font name: the same face shipped as .ttf and .otf counts once.
    """
    by_name = {}
    for path in sorted(_font_files()):
        if (
            path.suffix.lower() in FONT_SUFFIXES
            and path.stem not in by_name
            and path.stem not in NOT_DIGIT_FACES
            and _draws_digits(path)
        ):
            by_name[path.stem] = path
    return tuple(sorted(by_name.values()))


def _font_files():
    """The files under FONT_FOLDER of the font packages PACKAGES_FILE names (as dpkg lists them), or, where dpkg
    knows none of them (not Debian), every file there.

    Only the named packages: one installed for something else would change what the renderer draws, and so the
    training data and the int8 copy of ddddocr's model (tests/test_model_files.py). Chromium's older Liberation,
    whose files have the names of fonts-liberation2's, did.
    """
    packages = [line for line in PACKAGES_FILE.read_text().splitlines() if line.startswith(("fonts-", "ttf-"))]
    try:
        listed = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True).stdout.split("\n")
    except FileNotFoundError:
        listed = []
    files = [pathlib.Path(line) for line in listed if line.startswith(f"{FONT_FOLDER}/")]
    return [path for path in files if path.is_file()] or [path for path in FONT_FOLDER.rglob("*") if path.is_file()]


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
