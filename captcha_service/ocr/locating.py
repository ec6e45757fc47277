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

import numpy as np

from .decoding import best_path_log_probabilities
from .rendering import TRIMMED_MAX_ASPECT_RATIO, trim_margins

# Pictures lower than this (after trimming) are read whole: their digits already fill most of the
# height the model sees. Every captcha of the folders we develop with is lower.
MIN_HEIGHT = 90
BAND_SHARES = (1 / 2, 1 / 3)  # heights of the horizontal bands tried, each overlapping the next by about half
WINDOW_WIDTH_SHARE = 0.6  # each band is tried whole and as its left, middle and right part this wide
# Sites serve captchas up to a few hundred pixels high. A taller picture is looked at scaled down to
# this, and windowed at most so many times: the work has a bound whatever a client sends.
MAX_HEIGHT = 360
MAX_ZOOMS = 3
# How much more probable (log) a window's likeliest alignment of the asked length must be than the
# whole picture's: the least at which, on our renderer's captchas whose digits fill the canvas,
# windows turn at most one reading the whole picture got right into another (docs/how-it-reads.md).
BETTER_BY = 3.0


def is_tall(picture):
    """Whether a trimmed picture is tall enough to be read through its windows."""
    return picture.height >= MIN_HEIGHT


def windows(picture):
    """The distinct (left, top, right, bottom) boxes of ``picture`` tried besides the whole (none for a low picture).

    For each share of the height, bands from the top to the bottom, evenly spaced about half a band
    apart. A box wider than ``TRIMMED_MAX_ASPECT_RATIO`` times its height is left out: trimming keeps
    what the models read within that bound, and a window must not undo it.
    """
    width, height = picture.size
    if not is_tall(picture):
        return []
    part = max(1, round(width * WINDOW_WIDTH_SHARE))
    boxes = []
    for share in BAND_SHARES:
        band = round(height * share)
        gaps = max(1, round((height - band) / (band / 2)))
        for index in range(gaps + 1):
            top = round(index * (height - band) / gaps)
            boxes.append((0, top, width, top + band))
            boxes += [(left, top, left + part, top + band) for left in (0, (width - part) // 2, width - part)]
    return [box for box in dict.fromkeys(boxes) if box[2] - box[0] <= TRIMMED_MAX_ASPECT_RATIO * (box[3] - box[1])]


def locate_digits(digit_model, picture, length):
    """``picture`` (trimmed), or the trimmed window of it where our model finds the likeliest alignment of ``length``
    digits, if that is ``BETTER_BY`` more probable than the whole picture's; and so on within that window while it
    is tall enough to have windows (a band of the canvas, then the digits in it), at most ``MAX_ZOOMS`` times.

    A picture taller than ``MAX_HEIGHT`` is looked at scaled down to it; the window chosen is cut
    from the picture itself, so the readers lose none of its resolution.
    """
    for _ in range(MAX_ZOOMS):
        view = picture
        if picture.height > MAX_HEIGHT:
            view = picture.resize((max(1, round(picture.width * MAX_HEIGHT / picture.height)), MAX_HEIGHT))
        boxes = windows(view)
        if not boxes:
            break
        candidates = [view] + [trim_margins(view.crop(box)) for box in boxes]
        scores = best_path_log_probabilities(np.stack(digit_model.first_sightings(candidates)), length)
        best = int(np.argmax(scores))
        if scores[best] <= scores[0] + BETTER_BY:
            break
        picture = trim_margins(picture.crop(scaled_box(boxes[best - 1], view.size, picture.size)))
    return picture


def scaled_box(box, size, to_size):
    """``box`` of a picture of ``size`` as a box of the same picture at ``to_size``, within it (each side scaled on
    its own: a scaled-down width is rounded apart from the height)."""
    (left, top, right, bottom), (width, height), (to_width, to_height) = box, size, to_size
    across, down = to_width / width, to_height / height
    return (
        min(to_width - 1, round(left * across)),
        min(to_height - 1, round(top * down)),
        min(to_width, max(1, round(right * across))),
        min(to_height, max(1, round(bottom * down))),
    )
