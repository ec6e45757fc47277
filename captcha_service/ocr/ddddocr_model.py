"""Read the digits of a captcha image with ddddocr's models on onnxruntime (no Flask)."""

import importlib.util
import itertools
import pathlib
from dataclasses import dataclass

import numpy as np
import onnxruntime
from PIL import Image

from .confidence import Calibration, weigh_views
from .decoding import digit_columns, softmax
from .exceptions import UnreadableInput
from .rendering import renderings, trim_margins

MODEL_HEIGHT = 64


@dataclass(frozen=True)
class OnnxModel:
    """Where a model and its charset live inside the installed ddddocr 1.6.1 package."""

    onnx_file: str
    charset_name: str

    def load(self, session_options):
        """Return (session, charset). Fails loudly if a ddddocr release has moved them."""
        session = onnxruntime.InferenceSession(
            str(ddddocr_folder() / self.onnx_file), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
        return session, getattr(ddddocr_charsets(), self.charset_name)


def ddddocr_folder():
    """The installed ddddocr package's folder, found without importing the package.

    ``import ddddocr`` loads OpenCV and its own engines (some 55 MB of memory); the service
    needs only the model files and the charsets module, which is plain data.
    """
    return pathlib.Path(importlib.util.find_spec("ddddocr").origin).parent


def ddddocr_charsets():
    """ddddocr's ``charsets.py``, loaded on its own; not kept, as only the digits' places are (~0.7 MB)."""
    spec = importlib.util.spec_from_file_location("ddddocr_charsets", ddddocr_folder() / "charsets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ONNX_MODELS = {
    "common_old": OnnxModel("common_old.onnx", "CHARSET_OLD"),
    "common": OnnxModel("common.onnx", "CHARSET_BETA"),
}

# The OCR_MODEL choices. Their calibrations are fitted by `python -m bench.calibrate` on
# labelled captchas; refit them whenever the models, the views or the signals change.
CALIBRATIONS = {
    "common": Calibration(weights=(0.2020, 0.2902, 2.1752, 0.0472), bias=-0.0502),
    "common_old": Calibration(weights=(0.2702, 0.3081, 2.2324, 0.0470), bias=-0.1336),
    "common+common_old": Calibration(weights=(0.2435, 0.2978, 3.3571, 0.0466), bias=-0.7469),
}


@dataclass(frozen=True)
class Reading:
    """What was read from one captcha. ``digits`` keeps leading zeros; ``number`` does not."""

    digits: str
    confidence: float

    @property
    def number(self):
        return int(self.digits)


def check_model_name(model_name):
    """Refuse an OCR_MODEL that is not one of the choices, naming them."""
    if model_name not in CALIBRATIONS:
        raise ValueError(f"unknown OCR model {model_name!r}; choose one of {sorted(CALIBRATIONS)}")


class DigitReader:
    """The loaded models of one OCR_MODEL choice. Immutable after construction: threads share it."""

    def __init__(self, model_name, log_severity, intra_op_threads=0):
        check_model_name(model_name)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = log_severity
        options.intra_op_num_threads = intra_op_threads
        # Inputs vary in width; a memory pattern per width seen would only grow (bench/load.py).
        # onnxruntime's arena stays on: without it a read's tensors fragment malloc's heap and the
        # RSS under load rose to ~190 MB (~157 MB with it); the arena costs ~7 MB, once.
        options.enable_mem_pattern = False
        self.model_name = model_name
        self.calibration = CALIBRATIONS[model_name]
        self._models = []
        for name in model_name.split("+"):
            session, charset = ONNX_MODELS[name].load(options)
            self._models.append((session, session.get_inputs()[0].name, digit_columns(charset)))

    def read(self, picture, length):
        """Read exactly ``length`` digits from an image's grey picture, with the probability they are right."""
        evidence = self.weigh(picture, length)
        if evidence is None:
            raise UnreadableInput(f"no reading of {length} digits in the image", "no_reading")
        return Reading(evidence.digits, round(self.calibration.probability_right(evidence.signals), 4))

    def weigh(self, picture, length):
        """The best reading and its evidence, before calibration (see ``confidence.weigh_views``)."""
        scores = self.model_scores(self.model_inputs(picture))
        columns = itertools.cycle(digit_columns for _, _, digit_columns in self._models)  # model_scores' order
        return weigh_views([softmax(view_scores, view_columns) for view_scores, view_columns in zip(scores, columns)], length)

    def model_inputs(self, picture):
        """The model inputs of an image's views (see ``rendering``)."""
        return [model_input(view) for view in renderings(trim_margins(picture))]

    def model_scores(self, inputs):
        """The models' own work: raw scores (time steps, classes) for each view and model."""
        return [session.run(None, {input_name: batch})[0][:, 0, :] for batch in inputs for session, input_name, _ in self._models]

    def warm_up(self):
        """One read of a blank picture, so the first request does not pay onnxruntime's set-up."""
        self.weigh(Image.new("L", (160, 60), color=255), 4)


def model_input(grey):
    """Scale to the model's height keeping the aspect, in [0, 1], shaped (1, 1, H, W)."""
    width = max(1, int(grey.width * MODEL_HEIGHT / grey.height))
    scaled = grey.resize((width, MODEL_HEIGHT), Image.Resampling.LANCZOS)
    return (np.asarray(scaled, dtype=np.float32) / 255.0)[np.newaxis, np.newaxis]
