"""Clients' reports on our answers, and the labelled samples they make (``SAMPLES_DIR``).

Each read remembers its request id (``X-Request-ID``), the site model it used and what we
answered, for the last ``SAMPLES_KEPT`` requests of the last ``SAMPLES_KEPT_SECONDS`` (and at
most ``SAMPLES_KEPT_BYTES`` of images). With ``SAMPLES_DIR`` set the image is kept too, and a
report writes it, labelled, into ``SAMPLES_DIR/<model or "general">/`` as
``<request id>_<digits>.<ext>``: ready for ``captcha-ocr finetune``. Without it nothing but the
ids is kept, and reports are only counted (``captcha_reports_total``).
"""

import pathlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app, g

from .extension import ocr
from .metrics import count_report
from .ocr.exceptions import UnreadableInput
from .ocr.images import image_extension
from .ocr.site_models import GENERAL

REPORTS_EXTENSION = "captcha_ocr_recent_requests"
UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Recent:
    image: bytes | None  # None without SAMPLES_DIR
    model: str
    digits: str | None  # what we answered; None: we refused
    at: float


class RecentRequests:
    """Bounded by count, age and image bytes; the oldest go first. Shared by the server's threads."""

    def __init__(self, count, seconds, max_bytes, keep_images, clock=time.monotonic):
        self.count, self.seconds, self.max_bytes, self.keep_images, self.clock = count, seconds, max_bytes, keep_images, clock
        self._recent = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def remember(self, request_id, image, model):
        entry = Recent(image if self.keep_images else None, model or GENERAL, None, self.clock())
        with self._lock:
            self._drop(request_id)
            self._recent[request_id] = entry
            self._bytes += len(entry.image or b"")
            self._forget_old()

    def answered(self, request_id, digits):
        with self._lock:
            if request_id in self._recent:
                self._recent[request_id].digits = digits

    def get(self, request_id):
        with self._lock:
            self._forget_old()
            return self._recent.get(request_id)

    def _drop(self, request_id):
        entry = self._recent.pop(request_id, None)
        if entry is not None:
            self._bytes -= len(entry.image or b"")

    def _forget_old(self):
        oldest = self.clock() - self.seconds
        while self._recent and (
            len(self._recent) > self.count or self._bytes > self.max_bytes or next(iter(self._recent.values())).at < oldest
        ):
            self._drop(next(iter(self._recent)))


def init_app(app):
    config = app.config
    app.extensions[REPORTS_EXTENSION] = RecentRequests(
        config["SAMPLES_KEPT"], config["SAMPLES_KEPT_SECONDS"], config["SAMPLES_KEPT_BYTES"], keep_images=bool(config["SAMPLES_DIR"]),
    )


def read_remembered(image_bytes, length=None, min_confidence=None, model=None):
    """``ocr.read``, remembering the request for a later report (refusals included: they are the images worth most)."""
    recent = app_recent_requests()
    recent.remember(g.request_id, image_bytes, model)
    reading = ocr.read(image_bytes, length, min_confidence, model)
    recent.answered(g.request_id, reading.digits)
    return reading


class UnknownRequest(LookupError):
    pass


def report(request_id, correct=None, digits=None):
    """Count a report on an earlier answer; with SAMPLES_DIR, write its image labelled. Returns (verdict, sample path or None).

    ``correct=True`` labels the image with our answer; ``digits`` with the right ones. Raises
    UnknownRequest for an id not (or no longer) remembered, UnreadableInput for ``correct`` on a refusal.
    """
    recent = app_recent_requests().get(request_id)
    if recent is None:
        raise UnknownRequest(request_id)
    if digits is None and correct and recent.digits is None:
        raise UnreadableInput("that request was refused, so there is nothing to confirm: send the right 'digits'", "nothing_to_confirm")
    right = digits == recent.digits if digits is not None else bool(correct)
    count_report(right)
    label = digits if digits is not None else recent.digits if right else None
    if label is None or recent.image is None:
        return right, None
    return right, write_sample(pathlib.Path(current_app.config["SAMPLES_DIR"]), request_id, recent, label)


def write_sample(samples_dir, request_id, recent, digits):
    """``SAMPLES_DIR/<model>/<request id>_<digits>.<ext>``; its path relative to SAMPLES_DIR."""
    folder = samples_dir / recent.model
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{UNSAFE_IN_FILE_NAMES.sub('-', request_id)}_{digits}.{image_extension(recent.image)}"
    path.write_bytes(recent.image)
    return str(path.relative_to(samples_dir))


def app_recent_requests():
    return current_app.extensions[REPORTS_EXTENSION]
