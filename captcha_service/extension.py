"""The OCR engine as a Flask extension: the model is loaded once per app, at start-up."""

import onnxruntime
from flask import current_app
from PIL import Image

from .reader import DigitReader

EXTENSION_KEY = "captcha_ocr"


class OcrEngine:
    """Gives views the app's ``DigitReader``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Load the model, run one warm-up read, and store the reader in ``app.extensions``.

        Reads ``OCR_MODEL`` (``common_old`` or ``common``), ``OCR_DIGITS`` (digits a captcha
        has) and ``ORT_LOGGING_LEVEL`` (onnxruntime's severity: 0 verbose ... 4 fatal;
        onnxruntime does not read this variable itself, so it is applied here).
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        log_severity = app.config["ORT_LOGGING_LEVEL"]
        onnxruntime.set_default_logger_severity(log_severity)
        reader = DigitReader(app.config["OCR_MODEL"], app.config["OCR_DIGITS"], log_severity)
        reader.class_scores(Image.new("L", (160, 60), color=255))
        app.extensions[EXTENSION_KEY] = reader

    @property
    def reader(self):
        """The current app's reader."""
        try:
            return current_app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "the OCR engine is not registered on this app; did you forget to call ocr.init_app(app)?"
            ) from None


ocr = OcrEngine()
