"""The ddddocr internals the reader relies on. If a ddddocr release moves them, fail here, loudly."""

import importlib.metadata
import json

import numpy as np
import onnxruntime
import pytest

from captcha_service.ocr.ddddocr_model import ONNX_MODELS, ddddocr_folder
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
    assert quantize.sha256(ddddocr_folder() / quantize.SOURCE_FILE) == card["source_sha256"], "ddddocr's common.onnx changed: run make ddddocr-int8"
    made = tmp_path / shipped.name
    quantize.quantized_common(made)
    assert quantize.sha256(made) == quantize.sha256(shipped) == card["sha256"]
