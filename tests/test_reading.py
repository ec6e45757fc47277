"""The engine on real captchas of every kind a site serves, with the real model."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from captcha_service.api.extension import ocr
from captcha_service.ocr.confidence import MARGIN_CAP, own_reading
from captcha_service.ocr.digit_model import READING_SIGHTINGS
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.recogniser import (
    CALIBRATIONS_FILE,
    DIGIT_MODEL,
    SURE_ALONE,
    SURE_CONFIRMED,
    SURE_FIRST_VIEW,
    DecidedBy,
    calibration_signals,
    load_calibrations,
)
from captcha_service.ocr.rendering import STRETCHES, trim_margins
from tests.captchas import CAPTCHA_FILES, FIVE_DIGITS, FIXTURES, UNFAMILIAR, label_of

KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"
SURE = 0.9


def is_unsure(reader, frames):
    """Refused outright, or read below the default threshold."""
    try:
        return reader.read(frames, 4).confidence < SURE
    except UnreadableInput:
        return True


@pytest.fixture(scope="session")
def reader(app):
    return ocr.state(app).pipeline.recogniser


def reencoded(path, change, image_format, **options):
    """The fixture at ``path``, changed by ``change`` and saved again as ``image_format`` bytes."""
    with Image.open(path) as image:
        changed = change(image.convert("RGB"))
    buffer = io.BytesIO()
    changed.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def in_a_large_canvas(image):
    canvas = Image.new("RGB", (image.width * 3, image.height * 6), image.getpixel((0, 0)))
    canvas.paste(image, (image.width, image.height * 3))
    return canvas


@pytest.mark.parametrize("path", CAPTCHA_FILES, ids=lambda path: path.name)
def test_reads_each_fixture_surely(reader, path):
    reading = reader.read(decode_picture(path.read_bytes()), 4)
    assert reading.digits == label_of(path)
    assert SURE <= reading.confidence <= 1.0


@pytest.mark.parametrize(
    ("change", "image_format", "options"),
    [
        (lambda image: image.convert("L"), "PNG", {}),
        (lambda image: image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", {}),
        (lambda image: image, "BMP", {}),
        (lambda image: image, "WEBP", {"lossless": True}),
        (lambda image: image.resize((image.width // 3, image.height // 3), Image.Resampling.LANCZOS), "PNG", {}),
        (
            lambda image: image.resize((image.width * 4, image.height * 4), Image.Resampling.BICUBIC),
            "JPEG",
            {"quality": 95},
        ),
        (in_a_large_canvas, "PNG", {}),
    ],
    ids=["grey", "palette", "bmp", "webp", "very-small", "very-large", "band-in-large-canvas"],
)
def test_reads_the_same_captcha_served_differently(reader, change, image_format, options):
    data = reencoded(KAPTCHA, change, image_format, **options)
    assert reader.read(decode_picture(data), 4).digits == label_of(KAPTCHA)


def test_an_animated_gif_is_read_from_all_its_frames(reader):
    path = FIXTURES / "java_easycaptcha_gif-0_8985.gif"
    with Image.open(path) as first_frame_only:
        first_frame = first_frame_only.convert("RGB")
    buffer = io.BytesIO()
    first_frame.save(buffer, format="PNG")
    assert is_unsure(reader, decode_picture(buffer.getvalue()))  # one frame hides a digit
    assert reader.read(decode_picture(path.read_bytes()), 4).digits == "8985"


def test_a_wrong_length_is_an_unsure_reading(reader):
    reading = reader.read(decode_picture(KAPTCHA.read_bytes()), 6)
    assert len(reading.digits) == 6
    assert reading.confidence < SURE


def first_view_reading(reader, picture, length=4):
    """ddddocr's own reading of the picture as it is, read apart from the cascade."""
    (probabilities,) = reader.ddddocr.view_probabilities(trim_margins(picture), STRETCHES[:1])
    return own_reading(probabilities, length)


@pytest.mark.parametrize("path", CAPTCHA_FILES + [UNFAMILIAR], ids=lambda path: path.name)
def test_our_model_answers_alone_only_when_very_sure_or_when_ddddocr_reads_the_same(reader, path):
    picture = decode_picture(path.read_bytes())
    reading = reader.read(picture, 4)
    alone = reading.decided_by == DecidedBy(DIGIT_MODEL)
    if alone and reading.confidence < SURE_ALONE:  # not sure enough alone: ddddocr confirmed it
        assert reading.confidence >= SURE_CONFIRMED and reading.readers_agree is True
        assert first_view_reading(reader, picture) == reading.digits
    elif reading.decided_by.first_view_only:
        assert reading.confidence >= SURE_FIRST_VIEW  # else the two other views would have been read
    if first_view_reading(reader, picture) != reading.digits and alone:
        assert reading.confidence >= SURE_ALONE and reading.readers_agree is None  # ddddocr was never asked
    if reading.confidence >= SURE:
        assert reading.digits == label_of(path)


def test_the_fixtures_reach_both_our_model_with_ddddocr_agreeing_and_the_joint_reading(reader):
    stages = {reader.read(decode_picture(path.read_bytes()), 4).decided_by for path in CAPTCHA_FILES + [UNFAMILIAR]}
    assert DecidedBy(DIGIT_MODEL) in stages and stages - {DecidedBy(DIGIT_MODEL)}


def test_a_calibrations_file_without_a_stage_of_every_choice_is_refused_by_name(tmp_path):
    shipped = json.loads(CALIBRATIONS_FILE.read_text())
    del shipped["calibrations"][DecidedBy("digits+common", first_view_only=True).name]
    (tmp_path / "calibrations.json").write_text(json.dumps(shipped))
    with pytest.raises(ValueError, match="digits\\+common:view1"):
        load_calibrations(tmp_path / "calibrations.json")


def test_a_calibrations_file_fitted_on_other_signals_is_refused_by_name(tmp_path):
    shipped = json.loads(CALIBRATIONS_FILE.read_text())
    shipped["calibrations"]["digits"]["weights"].append(0.5)  # a calibration of a reader with one signal more
    (tmp_path / "calibrations.json").write_text(json.dumps(shipped))
    with pytest.raises(ValueError, match="\\['digits'\\] on other signals"):
        load_calibrations(tmp_path / "calibrations.json")


def test_each_way_of_reading_gives_as_many_signals_as_its_calibration_weighs(reader):
    probabilities = reader.probabilities(decode_picture(CAPTCHA_FILES[0].read_bytes()))
    signals_of = calibration_signals(reader.model_name)
    for name, evidence in reader.evidence_by_choice(probabilities, [4])[4].items():
        assert type(evidence.signals) is signals_of[name]
        assert len(evidence.signals.values()) == signals_of[name].count() == len(reader.calibrations[name].weights)


def test_our_model_reads_the_mean_of_the_picture_as_it_is_and_nudged_along_the_text(reader):
    picture = trim_margins(decode_picture(KAPTCHA.read_bytes()))
    runs = reader.digit_model.nudged_probabilities(picture, READING_SIGHTINGS)
    probabilities = reader.digit_model.probabilities(picture)
    assert len(runs) == len(READING_SIGHTINGS) == 3 and not np.allclose(runs[0], runs[1])  # the nudges see otherwise
    assert np.allclose(probabilities, np.mean(runs, axis=0)) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert own_reading(probabilities, 4) == label_of(KAPTCHA)


def test_the_joint_margin_counts_only_up_to_its_cap(reader):
    probabilities = reader.probabilities(trim_margins(decode_picture(KAPTCHA.read_bytes())))
    joint = reader.evidence_by_choice(probabilities, [4])[4][reader.model_name]
    assert joint.digits == label_of(KAPTCHA) and joint.signals.margin == MARGIN_CAP  # its runner-up is far behind
    assert reader.calibration.probability_right(joint.signals.values()) >= SURE_FIRST_VIEW


def test_a_range_of_lengths_is_read_with_one_run_of_our_model_the_read_goes_on_with(reader, monkeypatch):
    runs = []
    run = reader.digit_model._run
    monkeypatch.setattr(reader.digit_model, "_run", lambda inputs: runs.append(len(inputs)) or run(inputs))
    picture = decode_picture(FIVE_DIGITS.read_bytes())
    reading = reader.read(picture, range(4, 7))
    assert reading.digits == label_of(FIVE_DIGITS)
    assert runs == [len(READING_SIGHTINGS)]  # chosen the length and read it: one batch of sightings
