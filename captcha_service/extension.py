"""The OCR engine as a Flask extension: the model is loaded once per app, at start-up."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import onnxruntime
from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from .config import read_slots
from .ocr.engine import Engine
from .outcome import current_outcome
from .ocr.reader import check_model_name

EXTENSION_KEY = "captcha_ocr"
REGISTERED_KEY = "captcha_ocr_registered"
READ_THREADS_KEY = "captcha_ocr_read_threads"


class OcrEngine:
    """Gives views the app's ``Engine``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app, in_background=False):
        """Load the models, run one warm-up read, and store the ``Engine`` in ``app.extensions``.

        ``in_background`` (for a server): return at once and load in a thread, so the server
        answers ``GET /`` with "starting" (up, not ready) until the model is loaded and warmed.
        A failure there ends the process, for PM2 to start it again.

        Reads ``OCR_MODEL`` (a key of ``reader.CALIBRATIONS``), ``ORT_LOGGING_LEVEL``
        (onnxruntime's severity: 0 verbose ... 4 fatal; onnxruntime does not read this
        variable itself, so it is applied here), ``ORT_INTRA_OP_THREADS`` and the image limits
        ``MAX_IMAGE_BYTES``, ``MAX_IMAGE_PIXELS``, ``MAX_ASPECT_RATIO``, ``MAX_FRAMES``. ``read``
        uses ``OCR_DIGITS`` and ``MIN_CONFIDENCE`` as the defaults of a request.
        """
        if REGISTERED_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        check_model_name(app.config["OCR_MODEL"])
        app.extensions[REGISTERED_KEY] = True
        # Reads run on READ_SLOTS threads of their own, not on whichever of waitress's threads
        # took the request: onnxruntime keeps buffers per calling thread, and with reads spread
        # over 64 threads the RSS grew ~8 MB over a soak (bench/load.py); on a few, ~2 MB.
        app.extensions[READ_THREADS_KEY] = ThreadPoolExecutor(read_slots(app.config), thread_name_prefix="read")
        onnxruntime.set_default_logger_severity(app.config["ORT_LOGGING_LEVEL"])
        if in_background:
            threading.Thread(target=_load_or_exit, args=(app,), name="load-ocr-model", daemon=True).start()
        else:
            app.extensions[EXTENSION_KEY] = Engine.from_config(app.config)

    @property
    def ready(self):
        """Whether the current app's model is loaded and warmed up."""
        return EXTENSION_KEY in current_app.extensions

    @property
    def loaded(self):
        """The current app's ``Engine``."""
        try:
            return current_app.extensions[EXTENSION_KEY]
        except KeyError:
            if REGISTERED_KEY in current_app.extensions:
                raise ServiceUnavailable("starting: the model is still loading; retry shortly", retry_after=1) from None
            raise RuntimeError(
                "the OCR engine is not registered on this app; did you forget to call ocr.init_app(app)?"
            ) from None

    def read(self, image_bytes, length=None, min_confidence=None):
        """Read an image with the app's defaults for what the request leaves out (``None``)."""
        config = current_app.config
        outcome = current_outcome()
        started = time.perf_counter()
        try:
            reading = current_app.extensions[READ_THREADS_KEY].submit(
                self.loaded.read,
                image_bytes,
                config["OCR_DIGITS"] if length is None else length,
                config["MIN_CONFIDENCE"] if min_confidence is None else min_confidence,
            ).result()
        finally:
            outcome.reading_seconds = time.perf_counter() - started
        outcome.digits, outcome.confidence = reading.digits, reading.confidence
        return reading


def _load_or_exit(app):
    try:
        app.extensions[EXTENSION_KEY] = Engine.from_config(app.config)
    except Exception:  # noqa: BLE001 - whatever it is, this process can never be ready
        app.logger.exception("the OCR model could not be loaded; exiting")
        os._exit(1)


ocr = OcrEngine()
