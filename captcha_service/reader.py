"""Read the digits of a captcha image with a ddddocr model on onnxruntime, without Flask."""

import pathlib
from dataclasses import dataclass

import ddddocr
import ddddocr.charsets
import numpy as np
import onnxruntime
from PIL import Image

from .decoding import greedy_ctc_text
from .exceptions import UnreadableInput

MODEL_HEIGHT = 64


@dataclass(frozen=True)
class ModelFiles:
    """Where a ddddocr model lives inside the installed ddddocr 1.6.1 package."""

    onnx_file: str
    charset_name: str

    def load(self, session_options):
        """Return (session, charset). Fails loudly if a ddddocr release has moved them."""
        path = pathlib.Path(ddddocr.__file__).with_name(self.onnx_file)
        session = onnxruntime.InferenceSession(
            str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
        return session, getattr(ddddocr.charsets, self.charset_name)


MODELS = {
    "common_old": ModelFiles("common_old.onnx", "CHARSET_OLD"),
    "common": ModelFiles("common.onnx", "CHARSET_BETA"),
}


@dataclass(frozen=True)
class Reading:
    """What was read from one captcha. ``digits`` keeps leading zeros; ``number`` does not."""

    digits: str

    @property
    def number(self):
        return int(self.digits)


class DigitReader:
    """One loaded model and its charset. Immutable after construction: threads share it."""

    def __init__(self, model_name, digit_count, log_severity):
        if model_name not in MODELS:
            raise ValueError(f"unknown OCR model {model_name!r}; choose one of {sorted(MODELS)}")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = log_severity
        self.model_name = model_name
        self.digit_count = digit_count
        self._session, self._charset = MODELS[model_name].load(options)
        self._input_name = self._session.get_inputs()[0].name

    def read(self, image):
        """Read exactly ``digit_count`` digits from a PIL image, or raise ``UnreadableInput``."""
        text = greedy_ctc_text(self.class_scores(image), self._charset)
        digits = "".join(character for character in text if character.isdecimal())
        if len(digits) != self.digit_count:
            raise UnreadableInput(
                f"read {len(digits)} digits ({text!r}), expected {self.digit_count}",
                "wrong_digit_count",
            )
        return Reading(digits)

    def class_scores(self, image):
        """Run the model: scores of shape (time steps, classes) for a PIL image."""
        (scores,) = self._session.run(None, {self._input_name: model_input(image)})
        return scores[:, 0, :]


def model_input(image):
    """Scale to the model's height keeping the aspect, grey, in [0, 1], shaped (1, 1, H, W)."""
    width = max(1, int(image.width * MODEL_HEIGHT / image.height))
    grey = image.convert("L").resize((width, MODEL_HEIGHT), Image.Resampling.LANCZOS)
    return (np.asarray(grey, dtype=np.float32) / 255.0)[np.newaxis, np.newaxis]
