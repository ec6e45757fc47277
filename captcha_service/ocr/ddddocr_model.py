"""ddddocr's models on onnxruntime: views of a picture in, digit probabilities out (no Flask)."""

import importlib.metadata
import importlib.util
import pathlib
from dataclasses import dataclass

import numpy as np
import onnxruntime
from PIL import Image

from .decoding import digit_columns, softmax
from .rendering import renderings

MODEL_HEIGHT = 64


@dataclass(frozen=True)
class OnnxModel:
    """A model file (ddddocr's, or our int8 copy of one) and the name of its charset in ddddocr 1.6.1."""

    path: pathlib.Path
    charset_name: str

    def load(self, session_options):
        """Return (session, charset). Fails loudly if a ddddocr release has moved them."""
        session = onnxruntime.InferenceSession(
            str(self.path), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
        return session, getattr(ddddocr_charsets(), self.charset_name)


def ddddocr_folder():
    """The installed ddddocr package's folder, found without importing the package.

    ``import ddddocr`` loads OpenCV and its own engines (tens of MB); the service
    needs only the model files and the charsets module, which is plain data.
    """
    return pathlib.Path(importlib.util.find_spec("ddddocr").origin).parent


def ddddocr_version():
    return importlib.metadata.version("ddddocr")


def ddddocr_charsets():
    """ddddocr's ``charsets.py``, loaded on its own; not kept, as only the digits' places are."""
    spec = importlib.util.spec_from_file_location("ddddocr_charsets", ddddocr_folder() / "charsets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ddddocr's "beta" model runs as our int8 copy of it (training/quantize.py): as accurate on our
# folders, and a fraction of the original's memory and time. Its smaller model is int8 already.
ONNX_MODELS = {
    "common_old": OnnxModel(ddddocr_folder() / "common_old.onnx", "CHARSET_OLD"),
    "common": OnnxModel(pathlib.Path(__file__).resolve().parent / "models" / "common-int8.onnx", "CHARSET_BETA"),
}


class DdddocrModels:
    """One or more of ddddocr's models, loaded. Immutable after construction: threads share it."""

    def __init__(self, names, session_options):
        self._models = []
        for name in names:
            session, charset = ONNX_MODELS[name].load(session_options)
            self._models.append((session, session.get_inputs()[0].name, digit_columns(charset)))

    @property
    def runs_per_view(self):
        return len(self._models)

    def view_probabilities(self, picture, stretches):
        """For each view of ``picture`` (see ``rendering.renderings``) and model: (time steps, 11) probabilities.

        View by view, each model in turn. Blank and '0'..'9' out of a softmax over *all* the
        model's classes, so the mass it puts on letters counts against the digits.
        """
        inputs = [model_input(view) for view in renderings(picture, stretches)]
        return [
            softmax(scores, columns)
            for scores, columns in zip(self.model_scores(inputs), self._columns_per_run(len(inputs)))
        ]

    def model_scores(self, inputs):
        """The models' own work: raw scores (time steps, classes) for each view and model."""
        return [
            session.run(None, {input_name: batch})[0][:, 0, :]
            for batch in inputs
            for session, input_name, _ in self._models
        ]

    def _columns_per_run(self, views):
        return [columns for _ in range(views) for _, _, columns in self._models]


def model_input(grey):
    """Scale to the model's height keeping the aspect, in [0, 1], shaped (1, 1, H, W)."""
    width = max(1, int(grey.width * MODEL_HEIGHT / grey.height))
    scaled = grey.resize((width, MODEL_HEIGHT), Image.Resampling.LANCZOS)
    return (np.asarray(scaled, dtype=np.float32) / 255.0)[np.newaxis, np.newaxis]
