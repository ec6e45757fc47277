"""Our own digit model, trained by training/ and shipped as ONNX, on onnxruntime (no Flask)."""

import pathlib

import numpy as np
import onnxruntime
from PIL import Image

MODEL_FILE = pathlib.Path(__file__).resolve().parent / "models" / "digits.onnx"
INPUT_WIDTH, INPUT_HEIGHT = 128, 32
# How a reading's steadiness is tried (``Recogniser``): the model's input moved this far, (right,
# down) in its own pixels, the edges repeated into the gap. A fraction of a stroke's width: a
# reading that changes under that hangs on a detail the model cannot be sure of.
NUDGES = ((-2, 0), (2, 0), (0, -1), (0, 1))
SIGHTINGS = ((0, 0),) + NUDGES  # how a site model sees a picture: as it is, then nudged each way
# How the general model reads a picture: the mean of its probabilities over the picture as it is and nudged
# each way along the text. On a family it never saw, a confident misreading (a 1 for a 7) often hangs on where
# the strokes fall on its pixels; the mean makes that misreading less sure where a lone run was not, and so
# separates right from wrong better (docs/accuracy.md). Two nudges, not four: the others added no more.
READING_SIGHTINGS = SIGHTINGS[:3]


def reading_probabilities(sightings):
    """A model's probabilities as it reads: the mean of its runs over ``READING_SIGHTINGS``, given its runs over
    those or over ``SIGHTINGS`` (which begins with them)."""
    return np.mean(sightings[: len(READING_SIGHTINGS)], axis=0)


def digit_model_input(picture):
    """``picture`` (a trimmed grey picture) scaled to the model's fixed size, as uint8 (H, W).

    A fixed size, whatever the aspect, keeps the model small and its runs cheap; the renderer
    it is trained on makes captchas of every aspect, so it has seen every squeeze. Training
    reads its rendered captchas through this same function.
    """
    return np.asarray(picture.resize((INPUT_WIDTH, INPUT_HEIGHT), Image.Resampling.BILINEAR), dtype=np.uint8)


class DigitModel:
    """The loaded model: a picture in, per time step the probabilities of blank and '0'..'9' out."""

    def __init__(self, session_options, path=MODEL_FILE):
        self._session = onnxruntime.InferenceSession(
            str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name

    def probabilities(self, picture):
        """(time steps, 11) float64 probabilities, blank then '0'..'9' (the model's own classes): their mean over
        ``READING_SIGHTINGS``, in one run."""
        return reading_probabilities(self.nudged_probabilities(picture, READING_SIGHTINGS))

    def nudged_probabilities(self, picture, nudges):
        """The probabilities of the picture's input moved by each (right, down) of ``nudges``, in one run."""
        pixels = digit_model_input(picture)
        reach = max(abs(offset) for nudge in nudges for offset in nudge)
        padded = np.pad(pixels, reach, mode="edge")
        return list(
            self._run(
                np.stack(
                    [
                        padded[reach - down : reach - down + INPUT_HEIGHT, reach - right : reach - right + INPUT_WIDTH]
                        for right, down in nudges
                    ]
                )
            )
        )

    def first_sightings(self, pictures):
        """The probabilities of each of ``pictures`` as it is (one sighting each), in one run."""
        return list(self._run(np.stack([digit_model_input(picture) for picture in pictures])))

    def _run(self, inputs):
        """Probabilities of a batch of model inputs (N, H, W) uint8."""
        pixels = inputs.astype(np.float32)[:, np.newaxis] * (1.0 / 255.0)
        return np.exp(self._session.run(None, {self._input_name: pixels})[0].astype(np.float64))
