"""The labelled captchas of tests/fixtures, and what tests do with them."""

import base64
import pathlib

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CAPTCHA_FILES = sorted(path for path in FIXTURES.iterdir() if path.suffix in {".png", ".jpg", ".gif"})
# A captcha our model and ddddocr read differently (fixtures/unsure: not among the ones read surely).
UNFAMILIAR = FIXTURES / "unsure" / "real_dotted_transparent-106_3699.png"
# A captcha of five digits (fixtures/lengths): asked for four, the likeliest four of them were read, and surely.
FIVE_DIGITS = FIXTURES / "lengths" / "captcha_py-5digits_64262.png"


def label_of(path):
    """The digits a fixture shows: the part of its name after the last ``_``."""
    return path.stem.rsplit("_", 1)[1]


def base64_of(path):
    return base64.b64encode(path.read_bytes()).decode()
