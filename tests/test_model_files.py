"""The ddddocr internals the reader relies on. If a ddddocr release moves them, fail here, loudly."""

import importlib.metadata
import json

import numpy as np
import onnxruntime
import pytest

from captcha_service.ocr.ddddocr_model import ONNX_MODELS, ddddocr_folder, model_input
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.rendering import trim_margins
from tests.captchas import CAPTCHA_FILES
from training import quantize


def test_ddddocr_is_the_pinned_release():
    assert importlib.metadata.version("ddddocr") == "1.6.1"


@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_model_file_and_charset_match(name):
    session, charset = ONNX_MODELS[name].load(onnxruntime.SessionOptions())
    (model_input,) = session.get_inputs()
    assert model_input.shape[:3] == [1, 1, 64]
    (scores,) = session.run(None, {model_input.name: np.zeros((1, 1, 64, 160), np.float32)})
    assert scores.shape[1:] == (1, len(charset))
    assert charset[0] == ""
    assert sorted(character for character in charset if character.isdecimal() and character.isascii()) == list(
        "0123456789"
    )


def test_the_int8_copy_of_common_is_what_training_quantize_makes_of_the_pinned_release(tmp_path):
    shipped = ONNX_MODELS["common"].path
    card = json.loads(shipped.with_suffix(".card.json").read_text())
    assert quantize.sha256(ddddocr_folder() / quantize.SOURCE_FILE) == card["source_sha256"], (
        "ddddocr's common.onnx changed: run make ddddocr-int8"
    )
    assert quantize.sha256(shipped) == card["sha256"], "the shipped copy is not the one its card describes"
    made = tmp_path / shipped.name
    quantize.quantized_common(made)
    # Its activation ranges are measured by running the model, whose last bits may differ on
    # another CPU: compare what the copies read, not their bytes.
    options = onnxruntime.SessionOptions()
    sessions = [
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]) for path in (shipped, made)
    ]
    for image in CAPTCHA_FILES:
        picture = model_input(trim_margins(decode_picture(image.read_bytes())))
        shipped_scores, made_scores = (session.run(None, {"input1": picture})[0] for session in sessions)
        assert np.array_equal(shipped_scores.argmax(axis=-1), made_scores.argmax(axis=-1)), image.name
        assert np.allclose(shipped_scores, made_scores, atol=0.05, rtol=0.01), image.name
