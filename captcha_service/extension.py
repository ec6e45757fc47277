"""The OCR engine as a Flask extension: the model is loaded once per app, at start-up."""

import time

import onnxruntime
from flask import current_app

from .engine import Engine
from .outcome import current_outcome

EXTENSION_KEY = "captcha_ocr"


class OcrEngine:
    """Gives views the app's ``Engine``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Load the models, run one warm-up read, and store the ``Engine`` in ``app.extensions``.

        Reads ``OCR_MODEL`` (a key of ``reader.CALIBRATIONS``), ``ORT_LOGGING_LEVEL``
        (onnxruntime's severity: 0 verbose ... 4 fatal; onnxruntime does not read this
        variable itself, so it is applied here), ``ORT_INTRA_OP_THREADS`` and the image limits
        ``MAX_IMAGE_BYTES``, ``MAX_IMAGE_PIXELS``, ``MAX_ASPECT_RATIO``, ``MAX_FRAMES``. ``read``
        uses ``OCR_DIGITS`` and ``MIN_CONFIDENCE`` as the defaults of a request.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        onnxruntime.set_default_logger_severity(app.config["ORT_LOGGING_LEVEL"])
        app.extensions[EXTENSION_KEY] = Engine.from_config(app.config)

    @property
    def loaded(self):
        """The current app's ``Engine``."""
        try:
            return current_app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "the OCR engine is not registered on this app; did you forget to call ocr.init_app(app)?"
            ) from None

    def read(self, image_bytes, length=None, min_confidence=None):
        """Read an image with the app's defaults for what the request leaves out (``None``)."""
        config = current_app.config
        outcome = current_outcome()
        started = time.perf_counter()
        try:
            reading = self.loaded.read(
                image_bytes,
                config["OCR_DIGITS"] if length is None else length,
                config["MIN_CONFIDENCE"] if min_confidence is None else min_confidence,
            )
        finally:
            outcome.reading_seconds = time.perf_counter() - started
        outcome.digits, outcome.confidence = reading.digits, reading.confidence
        return reading


ocr = OcrEngine()
