"""Each step of the captcha renderer on its own: every entry of its tables, drawn from a seed."""

import io
import random

import numpy as np
import pytest
from PIL import Image

from training import fonts, render
from training.render import BACKGROUNDS, CANVASES, FINISHES, GLYPH_STYLES, MAX_BYTES, NOISES, TEXT_WARPS, Scene

LIGHT, DARK = (235, 235, 230), (30, 30, 40)


def scene(seed=0, width=160, height=60, dark=False, cut=0):
    background, ink = (DARK, LIGHT) if dark else (LIGHT, DARK)
    return Scene(random.Random(seed), width, height, (10, 8, width - 10, height - 8), dark, background, [ink], cut=cut)


def glyph(seed=0):
    return render._glyph(scene(seed), "8", render.faces(None)[seed % len(render.faces(None))])


def steps(table):
    return [pytest.param(step, id=step.__name__) for _, step in table]


def pixels(image):
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize("canvas", steps(CANVASES))
def test_a_canvas_holds_its_band(canvas):
    for seed in range(50):
        width, height, (left, top, right, bottom) = canvas(random.Random(seed))
        assert 60 <= width <= 640 and 20 <= height <= 360
        assert 0 <= left < right <= width and 0 <= top < bottom <= height


@pytest.mark.parametrize("background", steps(BACKGROUNDS))
def test_a_background_fills_the_canvas_the_same_way_for_the_same_seed(background):
    first, again = background(scene(3)), background(scene(3))
    assert first.mode == "RGB" and first.size == (160, 60)
    assert (pixels(first) == pixels(again)).all()


@pytest.mark.parametrize("style", steps(GLYPH_STYLES))
def test_a_glyph_style_keeps_a_visible_digit(style):
    styled = style(scene(1), glyph(1))
    alpha = np.asarray(styled.getchannel("A"))
    assert styled.mode == "RGBA" and (alpha > 127).sum() >= 30


@pytest.mark.parametrize("warp", steps(TEXT_WARPS))
def test_a_warp_moves_the_digits_but_keeps_the_layer(warp):
    layer = Image.new("RGBA", (160, 60), (0, 0, 0, 0))
    layer.paste(glyph(2).resize((30, 40)), (60, 10))
    warped = warp(scene(2), layer)
    assert warped.size == layer.size
    assert (np.asarray(warped.getchannel("A")) > 127).sum() >= 0.5 * (np.asarray(layer.getchannel("A")) > 127).sum()


@pytest.mark.parametrize("noise", steps(NOISES))
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_noise_draws_on_the_image_it_is_given(noise, dark):
    drawn = []
    for _ in range(2):
        image = render.solid(scene(4, dark=dark))
        assert noise(scene(4, dark=dark), image) is None  # noise draws in place, as a painter does
        drawn.append(pixels(image))
    assert (drawn[0] != pixels(render.solid(scene(4, dark=dark)))).any()
    assert (drawn[0] == drawn[1]).all()


@pytest.mark.parametrize("finish", steps(FINISHES))
def test_a_finish_returns_a_new_image_of_the_same_size(finish):
    image = render.solid(scene(5))
    image.paste(DARK, (40, 10, 120, 50))
    finished = finish(scene(5), image)
    assert finished.size == image.size and finished is not image
    assert (pixels(finished) != pixels(image)).any()


def test_a_scene_that_cuts_the_text_runs_the_last_digit_off_the_edge():
    cut = scene(6, width=120, height=40, cut=1)
    cut.band = (10, 4, 120 + 8, 36)
    layers = render._draw_digits(cut, "4821")
    assert np.asarray(layers[-1].getchannel("A"))[:, -1].max() > 0
    assert np.asarray(layers[0].getchannel("A"))[:, 0].max() == 0


def test_an_animation_is_drawn_only_on_a_light_background():
    # The service flattens frames by their darkest ink, which on a dark background is the background.
    for seed in range(400):
        drawn = render._draw(random.Random(seed), "1234")
        assert len(drawn[2]) == 1 or not drawn[0].dark_background


def test_every_captcha_is_small_enough_for_the_service_to_read():
    for seed in range(60):
        captcha = render.render_captcha(random.Random(seed))
        assert len(captcha.data) <= MAX_BYTES
        Image.open(io.BytesIO(captcha.data)).verify()


def test_training_never_draws_a_held_out_family_and_their_validation_draws_only_those(monkeypatch):
    drawn_fonts, drawn_noises = set(), []
    glyph = render._glyph
    monkeypatch.setattr(render, "_glyph", lambda scene, digit, path: drawn_fonts.add(path) or glyph(scene, digit, path))

    def recorded(step):
        return lambda scene, image: drawn_noises.append(step) or step(scene, image)

    held_out_noises = set(render.HELD_OUT_NOISES)
    wrapped = {step: recorded(step) for _, step in NOISES}
    monkeypatch.setattr(render, "NOISES", [(weight, wrapped[step]) for weight, step in NOISES])
    monkeypatch.setattr(render, "HELD_OUT_NOISES", tuple(wrapped[step] for step in render.HELD_OUT_NOISES))
    for seed in range(150):
        scene, _, _ = render._draw(random.Random(seed), "1234")
        assert scene.fonts == render.faces(False)  # pale letters behind the digits too
    assert drawn_fonts <= set(render.faces(False)) and len(drawn_fonts) > 50
    assert not set(drawn_noises) & held_out_noises and len(set(drawn_noises)) > 8
    drawn_fonts.clear()
    for seed in range(40):
        drawn_noises.clear()
        scene, _, _ = render._draw(random.Random(seed), "1234", held_out=True)
        assert scene.fonts == render.faces(True)
        assert set(drawn_noises) & held_out_noises
    assert drawn_fonts <= set(render.faces(True)) and len(drawn_fonts) > 10


def test_the_held_out_fonts_are_whole_font_families_with_no_relative_in_training():
    every, trained, held_out = render.faces(None), render.faces(False), render.faces(True)
    assert sorted(trained + held_out) == sorted(every) and not set(trained) & set(held_out)
    assert 0.05 < len(held_out) / len(every) < 0.3
    # copies and siblings share a key: a model trained on one has as good as seen the other
    assert fonts.relatives("Bitstream Vera Sans") == fonts.relatives("DejaVu Sans Mono") == fonts.relatives("Hack")
    assert fonts.relatives("FreeSans") == fonts.relatives("Nimbus Sans Narrow") == fonts.relatives("Liberation Serif")
    assert fonts.relatives("Go Mono") == fonts.relatives("Go") and fonts.relatives("BetecknaGSCondensed") == "beteckna"
    assert fonts.relatives("Noto Mono") == fonts.relatives("Noto Sans Mono") != fonts.relatives("Gillius ADF")

    def relatives_of(paths):
        return {fonts.relatives(render.ImageFont.truetype(str(path), 16).getname()[0]) for path in paths}

    assert not relatives_of(trained) & relatives_of(held_out)
