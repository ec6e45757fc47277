import io

import numpy as np
from PIL import Image, ImageDraw, ImageSequence

from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.rendering import flatten, renderings, trim_margins
from tests.captchas import FIXTURES


def border(grey):
    pixels = np.asarray(grey)
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def test_a_transparent_background_becomes_white_not_black():
    path = FIXTURES / "real_dotted_transparent-100_3539.png"
    with Image.open(path) as image:
        assert image.mode == "P" and "transparency" in image.info
        assert np.median(border(image.convert("L"))) < 50  # what ddddocr 1.6.1 reads: ink on black
    assert np.median(border(decode_picture(path.read_bytes()))) == 255


def test_an_rgba_image_is_composited_over_white():
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((10, 5, 20, 15), fill=(0, 0, 0, 255))
    grey = np.asarray(flatten([image]))
    assert grey[0, 0] == 255 and grey[10, 15] == 0


def test_an_animated_image_shows_the_ink_of_every_frame():
    frames = [Image.new("L", (30, 10), 255) for _ in range(3)]
    for index, frame in enumerate(frames):
        ImageDraw.Draw(frame).rectangle((index * 10 + 2, 2, index * 10 + 7, 7), fill=0)
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    grey = np.asarray(decode_picture(animated.getvalue()))
    assert all(grey[4, index * 10 + 4] < 50 for index in range(3))


def test_the_fixture_gif_reveals_a_different_digit_in_each_frame():
    with Image.open(FIXTURES / "java_easycaptcha_gif-0_8985.gif") as gif:
        frames = [frame.convert("RGBA") for frame in ImageSequence.Iterator(gif)]
    assert len(frames) == 4
    first_frame = np.asarray(flatten(frames[:1]), dtype=int)
    assert (np.asarray(flatten(frames), dtype=int) < first_frame - 60).sum() > 100


def test_trim_margins_cuts_plain_background_only():
    canvas = Image.new("L", (400, 300), 230)
    ImageDraw.Draw(canvas).rectangle((100, 140, 220, 170), fill=20)
    trimmed = trim_margins(canvas)
    assert 31 < trimmed.height < 45 and 121 < trimmed.width < 140
    line = Image.new("L", (1600, 200), 255)
    ImageDraw.Draw(line).line((10, 100, 1590, 100), fill=0)
    assert trim_margins(line).width <= 16 * trim_margins(line).height
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 160), dtype=np.uint8))
    assert trim_margins(noisy).size == noisy.size
    assert trim_margins(Image.new("L", (50, 20), 255)).size == (50, 20)


def test_renderings_keep_the_height_and_stretch_the_width():
    views = renderings(Image.new("L", (100, 40), 255))
    assert [view.size for view in views] == [(100, 40), (135, 40), (75, 40)]
