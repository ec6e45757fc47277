"""The OCR engine as a Flask extension: the model is loaded once per app, at start-up."""

from dataclasses import dataclass

import onnxruntime
from flask import current_app

from .config import intra_op_threads
from .exceptions import UnreadableInput
from .images import ImageLimits, decode_frames
from .reader import DigitReader

EXTENSION_KEY = "captcha_ocr"


@dataclass(frozen=True)
class LoadedEngine:
    """What ``init_app`` builds once per app; shared by all threads, never changed."""

    reader: DigitReader
    limits: ImageLimits


class OcrEngine:
    """Gives views the app's ``DigitReader``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Load the models, run one warm-up read, and store the reader in ``app.extensions``.

        Reads ``OCR_MODEL`` (a key of ``reader.CALIBRATIONS``), ``ORT_LOGGING_LEVEL``
        (onnxruntime's severity: 0 verbose ... 4 fatal; onnxruntime does not read this
        variable itself, so it is applied here), ``ORT_INTRA_OP_THREADS`` and the image limits ``MAX_IMAGE_BYTES``,
        ``MAX_IMAGE_PIXELS``, ``MAX_ASPECT_RATIO``, ``MAX_FRAMES``. ``read`` uses
        ``OCR_DIGITS`` and ``MIN_CONFIDENCE`` as the defaults of a request.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        log_severity = app.config["ORT_LOGGING_LEVEL"]
        onnxruntime.set_default_logger_severity(log_severity)
        reader = DigitReader(app.config["OCR_MODEL"], log_severity, intra_op_threads(app.config))
        reader.warm_up()
        app.extensions[EXTENSION_KEY] = LoadedEngine(reader, ImageLimits.from_config(app.config))

    @property
    def loaded(self):
        """The current app's ``LoadedEngine``."""
        try:
            return current_app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "the OCR engine is not registered on this app; did you forget to call ocr.init_app(app)?"
            ) from None


    def read(self, image_bytes, length=None, min_confidence=None):
        """Read an image; refuse, with what was read, a reading less sure than ``min_confidence``.

        ``None`` means the app's default (``OCR_DIGITS``, ``MIN_CONFIDENCE``).
        """
        config = current_app.config
        length = config["OCR_DIGITS"] if length is None else length
        min_confidence = config["MIN_CONFIDENCE"] if min_confidence is None else min_confidence
        loaded = self.loaded
        reading = loaded.reader.read(decode_frames(image_bytes, loaded.limits), length)
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
