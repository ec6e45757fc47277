"""Finding the digits on a large canvas by reading it, with the real models."""

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from captcha_service.api.extension import ocr
from captcha_service.ocr.confidence import digit_evidence
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.locating import BAND_SHARES, MAX_HEIGHT, MIN_HEIGHT, scaled_box, windows
from captcha_service.ocr.recogniser import DIGIT_MODEL, SURE_CONFIRMED
from captcha_service.ocr.rendering import TRIMMED_MAX_ASPECT_RATIO, trim_margins
from tests.captchas import CAPTCHA_FILES, FIXTURES, label_of

KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"


@pytest.fixture(scope="session")
def reader(app):
    return ocr.state(app).pipeline.recogniser


def on_confetti(path, canvas_size, at, seed=0):
    """The captcha at ``path`` on a canvas of its background colour strewn with confetti to its edges."""
    captcha = Image.open(path).convert("RGB")
    canvas = Image.new("RGB", canvas_size, captcha.getpixel((0, 0)))
    draw, rng = ImageDraw.Draw(canvas), random.Random(seed)
    for _ in range(500):
        x, y, size = rng.randrange(canvas_size[0]), rng.randrange(canvas_size[1]), rng.randint(2, 5)
        draw.rectangle((x, y, x + size, y + size), fill=(rng.randrange(80), rng.randrange(80), rng.randrange(160)))
    canvas.paste(captcha, at)
    return canvas


def test_the_digits_in_a_band_of_a_canvas_full_of_confetti_are_read_from_a_window_around_them(reader):
    canvas = on_confetti(KAPTCHA, (640, 360), (20, 20))
    picture = decode_picture(_png(canvas))
    assert trim_margins(picture).size == canvas.size  # confetti to the edges: nothing to trim
    assert digit_evidence(reader.digit_model.probabilities(trim_margins(picture)), 4) is None  # whole: no reading
    prepared = reader.prepared(picture, 4)
    assert prepared.picture.height <= canvas.height / 4
    assert np.array_equal(prepared.digit_probabilities, reader.digit_model.probabilities(prepared.picture))
    reading = reader.read(picture, 4)
    assert reading.digits == label_of(KAPTCHA) and reading.confidence >= 0.9


def test_a_tall_captcha_our_model_reads_surely_whole_is_read_whole(reader):
    picture = decode_picture(KAPTCHA.read_bytes()).resize((300, 150))
    assert windows(trim_margins(picture))  # tall enough to be tried
    whole = digit_evidence(reader.digit_model.probabilities(trim_margins(picture)), 4)
    assert reader.calibrations[DIGIT_MODEL].probability_right(whole.signals.values()) >= SURE_CONFIRMED
    assert reader.prepared(picture, 4).picture.size == picture.size


@pytest.mark.parametrize("path", CAPTCHA_FILES, ids=lambda path: path.name)
def test_a_captcha_of_usual_height_is_read_whole(reader, path):
    picture = decode_picture(path.read_bytes())
    trimmed = trim_margins(picture)
    assert trimmed.height < MIN_HEIGHT and windows(trimmed) == []
    prepared = reader.prepared(picture, len(label_of(path)))
    assert prepared.picture.size == trimmed.size
    assert np.array_equal(prepared.digit_probabilities, reader.digit_model.probabilities(trimmed))


def test_the_windows_cover_a_tall_picture_in_overlapping_bands():
    picture = Image.new("L", (300, 200), 255)
    boxes = windows(picture)
    assert len(boxes) == len(set(boxes)) == 32  # bands of 1/2 (3) and 1/3 (5), each whole, left, middle, right
    assert all(0 <= left < right <= 300 and 0 <= top < bottom <= 200 for left, top, right, bottom in boxes)
    for share in BAND_SHARES:
        band = round(200 * share)
        tops = sorted({top for _, top, _, bottom in boxes if bottom - top == band})
        assert tops[0] == 0 and tops[-1] == 200 - band
        assert all(band / 3 <= later - earlier <= band / 2 + 1 for earlier, later in zip(tops, tops[1:]))
    assert windows(Image.new("L", (600, MIN_HEIGHT - 1), 255)) == []


def test_no_window_is_wider_than_trimming_lets_a_picture_be():
    boxes = windows(Image.new("L", (3000, 360), 255))
    assert boxes and all(
        right - left <= TRIMMED_MAX_ASPECT_RATIO * (bottom - top) for left, top, right, bottom in boxes
    )
    assert len(boxes) < 32  # the widest bands are left out


def test_what_a_wide_canvas_of_confetti_is_read_as_is_no_wider_than_trimming_lets_a_picture_be(reader):
    picture = decode_picture(_png(on_confetti(KAPTCHA, (5760, 360), (100, 100))))
    located = reader.prepared(picture, 4).picture
    assert located.width <= TRIMMED_MAX_ASPECT_RATIO * (located.height + 1)


@pytest.mark.parametrize("size", [(999, 720), (478, 7648), (470, 6906), (640, 360)])
def test_a_box_of_the_scaled_down_view_is_scaled_back_within_the_picture(size):
    view = (max(1, round(size[0] * MAX_HEIGHT / size[1])), MAX_HEIGHT)
    for box in [(0, 0, *view), (0, 120, view[0], 240), (view[0] // 2, 0, view[0], 180)]:
        left, top, right, bottom = scaled_box(box, view, size)
        assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]
        if box[2] == view[0]:
            assert right == size[0]  # a box to the view's right edge ends at the picture's, neither short nor past
        if box[3] == view[1]:
            assert bottom == size[1]


def test_a_window_of_a_picture_taller_than_max_height_is_cut_at_full_resolution(reader, tmp_path):
    doubled = tmp_path / "kaptcha-doubled.png"
    Image.open(KAPTCHA).convert("RGB").resize((400, 100)).save(doubled)  # digits about 80 pixels high
    canvas = on_confetti(doubled, (1280, 720), (600, 500))
    picture = decode_picture(_png(canvas))
    assert trim_margins(picture).height > MAX_HEIGHT
    window = reader.prepared(picture, 4).picture
    # scaled down to MAX_HEIGHT the captcha is 50 pixels high; the window keeps its 100
    assert 100 <= window.height <= canvas.height / 4
    reading = reader.read(picture, 4)
    assert reading.digits == label_of(KAPTCHA) and reading.confidence >= 0.9


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
