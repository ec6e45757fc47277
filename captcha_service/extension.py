"""The OCR engine as a Flask extension: the model is loaded once per app, at start-up."""

import onnxruntime
from flask import current_app

from .exceptions import UnreadableInput
from .reader import DigitReader

EXTENSION_KEY = "captcha_ocr"


class OcrEngine:
    """Gives views the app's ``DigitReader``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Load the models, run one warm-up read, and store the reader in ``app.extensions``.

        Reads ``OCR_MODEL`` (a key of ``reader.CALIBRATIONS``) and ``ORT_LOGGING_LEVEL``
        (onnxruntime's severity: 0 verbose ... 4 fatal; onnxruntime does not read this
        variable itself, so it is applied here). ``read`` uses ``OCR_DIGITS`` and
        ``MIN_CONFIDENCE`` as the defaults of a request.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        log_severity = app.config["ORT_LOGGING_LEVEL"]
        onnxruntime.set_default_logger_severity(log_severity)
        reader = DigitReader(app.config["OCR_MODEL"], log_severity)
        reader.warm_up()
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


    def read(self, image, length=None, min_confidence=None):
        """Read ``image``; refuse, with what was read, a reading less sure than ``min_confidence``.

        ``None`` means the app's default (``OCR_DIGITS``, ``MIN_CONFIDENCE``).
        """
        config = current_app.config
        length = config["OCR_DIGITS"] if length is None else length
        min_confidence = config["MIN_CONFIDENCE"] if min_confidence is None else min_confidence
        reading = self.reader.read(image, length)
        if reading.confidence < min_confidence:
            raise UnreadableInput(
                f"low confidence: read {reading.digits} with confidence {reading.confidence}, "
                f"below min_confidence {min_confidence}",
                "low_confidence",
                digits=reading.digits,
                confidence=reading.confidence,
            )
        return reading


ocr = OcrEngine()
