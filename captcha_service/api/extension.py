"""The OCR engine as a Flask extension: the models are loaded once per app, at start-up."""

import os
import threading
import time
from dataclasses import dataclass

import onnxruntime
from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from ..config import read_slots
from ..ocr.pipeline import CaptchaPipeline
from ..ocr.recogniser import check_model_name
from .admission import ReadPool
from .outcome import current_outcome

EXTENSION_KEY = "captcha_ocr"


@dataclass
class OcrState:
    """What the extension keeps per app: the read pool, and the pipeline once its models are loaded."""

    pool: ReadPool
    pipeline: CaptchaPipeline | None = None


class OcrExtension:
    """Gives views the app's ``CaptchaPipeline``; holds no app and no per-request state itself."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app, in_background=False):
        """Load the models, run one warm-up read, and keep an ``OcrState`` in ``app.extensions``.

        ``in_background`` (for a server): return at once and load in a thread, so the server
        answers ``GET /`` with "starting" (up, not ready) until the models are loaded and warmed.
        A failure there ends the process, for PM2 to start it again.

        Reads ``OCR_MODEL`` (see ``ocr.recogniser``), ``ORT_LOGGING_LEVEL`` (onnxruntime's
        severity: 0 verbose ... 4 fatal; onnxruntime does not read this variable itself, so it
        is applied here), ``ORT_INTRA_OP_THREADS``, ``READ_SLOTS``, ``READ_WAIT_SECONDS`` and the
        image limits ``MAX_*``. ``read`` uses ``OCR_DIGITS`` and ``MIN_CONFIDENCE`` as the
        defaults of a request.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("the OCR engine is already registered on this app")
        check_model_name(app.config["OCR_MODEL"])
        state = app.extensions[EXTENSION_KEY] = OcrState(
            ReadPool(read_slots(app.config), app.config["READ_WAIT_SECONDS"])
        )
        onnxruntime.set_default_logger_severity(app.config["ORT_LOGGING_LEVEL"])
        if in_background:
            threading.Thread(target=_load_or_exit, args=(app, state), name="load-ocr-model", daemon=True).start()
        else:
            state.pipeline = CaptchaPipeline.from_config(app.config)

    def state(self, app=None):
        """The ``OcrState`` of ``app`` (default: the current app)."""
        app = app or current_app
        try:
            return app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "the OCR engine is not registered on this app; did you forget to call ocr.init_app(app)?"
            ) from None

    @property
    def ready(self):
        """Whether the current app's models are loaded and warmed up."""
        return self.state().pipeline is not None

    @property
    def pipeline(self):
        """The current app's ``CaptchaPipeline``, or 503 while it is still loading."""
        pipeline = self.state().pipeline
        if pipeline is None:
            raise ServiceUnavailable("starting: the model is still loading; retry shortly", retry_after=1)
        return pipeline

    def read(self, image_bytes, length=None, min_confidence=None, model=None):
        """Read an image in the read pool, with the app's defaults for what the request leaves out (``None``).

        ``model``: a site model's name (None: the general model, OCR_MODEL). Without a ``length``, a site model
        reads as many digits as it was fine-tuned on (``SiteModels.trained_length``), else OCR_DIGITS are read.
        """
        config = current_app.config
        pipeline, outcome = self.pipeline, current_outcome()
        length = default_length(pipeline, model, config) if length is None else length
        min_confidence = config["MIN_CONFIDENCE"] if min_confidence is None else min_confidence

        def timed_read():  # on a read thread: the time of the read itself, not of the wait for a slot
            started = time.perf_counter()
            try:
                return pipeline.read(image_bytes, length, min_confidence, model)
            finally:
                outcome.reading_seconds = time.perf_counter() - started

        reading = self.state().pool.run(timed_read)
        outcome.digits, outcome.confidence = reading.digits, reading.confidence
        outcome.decided_by = reading.decided_by.name
        return reading


def default_length(pipeline, model, config):
    """The digits a read asking for no length reads: the site model ``model``'s, if its card says it, else
    OCR_DIGITS."""
    return pipeline.site_models.trained_length(model) or config["OCR_DIGITS"]


def _load_or_exit(app, state):
    try:
        state.pipeline = CaptchaPipeline.from_config(app.config)
    except Exception:  # noqa: BLE001 - whatever it is, this process can never be ready
        app.logger.exception("the OCR model could not be loaded; exiting")
        os._exit(1)


ocr = OcrExtension()
