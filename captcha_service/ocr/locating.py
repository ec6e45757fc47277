"""Find the digits on a large canvas by reading it (no Flask): the window of the picture our model reads best.

Our model reads a picture scaled to its fixed input: digits in a band of a large canvas, with
confetti or lines around them that ``trim_margins`` cannot cut away, become a few pixels high.
Profiles of ink density cannot tell a band of digits from a band of noise on captchas of every
kind; our model can. It reads the whole picture and overlapping windows of it in one batched
run, and a window whose likeliest alignment of the asked length is more probable than the whole
picture's is read instead, and windows of it tried in turn (docs/how-it-reads.md). Chosen on
our renderer's captchas: no picture of the folders we develop with is tall enough to be tried.
``Recogniser.prepared`` tries it only where our model does not read the whole picture surely.
"""

import math

import numpy as np

from .decoding import best_path_log_probabilities
from .rendering import trim_margins

# Pictures lower than this (after trimming) are read whole: their digits already fill most of the
# height the model sees. Every captcha of the folders we develop with is lower.
MIN_HEIGHT = 90
BAND_SHARES = (1 / 2, 1 / 3)  # heights of the horizontal bands tried, each overlapping the next by half
WINDOW_WIDTH_SHARE = 0.6  # each band is tried whole and as its left, middle and right part this wide
# Sites serve captchas up to a few hundred pixels high. A taller picture is looked at scaled down to
# this, and windowed at most so many times: the work has a bound whatever a client sends.
MAX_HEIGHT = 360
MAX_ZOOMS = 3
# How much more probable (log) a window's likeliest alignment of the asked length must be than the
# whole picture's: the least at which, on our renderer's captchas whose digits fill the canvas,
# windows turn at most one reading the whole picture got right into another (docs/how-it-reads.md).
BETTER_BY = 3.0


def windows(picture):
    """The (left, top, right, bottom) boxes of ``picture`` tried besides the whole (none for a low picture)."""
    width, height = picture.size
    if height < MIN_HEIGHT:
        return []
    part = max(1, round(width * WINDOW_WIDTH_SHARE))
    boxes = []
    for share in BAND_SHARES:
        band = round(height * share)
        step = band / 2
        for index in range(math.ceil((height - band) / step) + 1):
            top = min(height - band, round(index * step))
            boxes.append((0, top, width, top + band))
            boxes += [(left, top, left + part, top + band) for left in (0, (width - part) // 2, width - part)]
    return boxes


def locate_digits(digit_model, picture, length):
    """``picture`` (trimmed), or the trimmed window of it where our model finds the likeliest alignment of ``length``
    digits, if that is ``BETTER_BY`` more probable than the whole picture's; and so on within that window while it
    is tall enough to have windows (a band of the canvas, then the digits in it), at most ``MAX_ZOOMS`` times.

    A picture taller than ``MAX_HEIGHT`` is looked at scaled down to it, and so are its windows read.
    """
    if not windows(picture):
        return picture
    located = picture
    if picture.height > MAX_HEIGHT:
        picture = picture.resize((max(1, round(picture.width * MAX_HEIGHT / picture.height)), MAX_HEIGHT))
    for _ in range(MAX_ZOOMS):
        boxes = windows(picture)
        if not boxes:
            break
        candidates = [picture] + [trim_margins(picture.crop(box)) for box in boxes]
        scores = best_path_log_probabilities(np.stack(digit_model.first_sightings(candidates)), length)
        best = int(np.argmax(scores))
        if scores[best] <= scores[0] + BETTER_BY:
            break
        picture = located = candidates[best]
    return located
