"""The requests a client may still report on, in this process's memory (``redis_recent`` keeps them in Redis).

Each read that reached the models (answered, or refused as unsure) is remembered by its owner and
request id for the last ``SAMPLES_KEPT`` requests of the last ``SAMPLES_KEPT_SECONDS`` (and at most
``SAMPLES_KEPT_BYTES`` of images, kept only with SAMPLES_DIR), the oldest going first.
"""

import contextlib
import pathlib
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from ..ocr.site_models import GENERAL


class RecentUnavailable(Exception):
    """The store of recent requests cannot be reached (Redis lost): the client may report again shortly."""


@dataclass
class Recent:
    owner: str  # auth.key_owner of the client's key ("" without keys)
    request_id: str
    image: bytes | None  # None without SAMPLES_DIR
    model: str
    digits: str | None  # what we answered; None: we refused
    at: float
    sample: pathlib.Path | None = None  # the sample written for it, once reported, relative to SAMPLES_DIR
    reported: bool = False  # counted once: a client's second word on one answer is no second vote


class RecentRequests:
    """Bounded by count, age and image bytes; the oldest go first. Shared by the server's threads."""

    def __init__(self, count, seconds, max_bytes, keep_images, clock=time.monotonic):
        self.count, self.seconds, self.max_bytes, self.keep_images, self.clock = (
            count,
            seconds,
            max_bytes,
            keep_images,
            clock,
        )
        self._recent = OrderedDict()  # (owner, request id) -> Recent
        self._bytes = 0
        self._lock = threading.Lock()

    def remember(self, owner, request_id, image, model, digits):
        """Remember a read; returns the id it is remembered by: ``request_id``, or a new one if that is taken.

        A taken id is never replaced: the client that reports on it must label the image it sent.
        """
        with self._lock:
            self._forget_old()
            while (owner, request_id) in self._recent:
                request_id = uuid.uuid4().hex
            image = image if self.keep_images else None
            entry = Recent(owner, request_id, image, model or GENERAL, digits, self.clock())
            self._recent[owner, request_id] = entry
            self._bytes += len(entry.image or b"")
            self._forget_old()
        return request_id

    def get(self, owner, request_id):
        with self._lock:
            self._forget_old()
            return self._recent.get((owner, request_id))

    @contextlib.contextmanager
    def reporting(self, owner, request_id):
        """The request (or None) for a report: in one process, ``SamplesFolder``'s lock keeps two reports apart."""
        yield self.get(owner, request_id)

    def first_report(self, recent):
        """Whether no report on this request came before: it is marked reported either way (two at once count once)."""
        with self._lock:
            first, recent.reported = not recent.reported, True
            return first

    def keep_sample(self, recent):
        """Keep ``recent.sample`` as a report left it: here ``recent`` is the request itself, so nothing to do."""

    def _forget_old(self):
        oldest = self.clock() - self.seconds
        while self._recent and (
            len(self._recent) > self.count
            or self._bytes > self.max_bytes
            or next(iter(self._recent.values())).at < oldest
        ):
            _, entry = self._recent.popitem(last=False)
            self._bytes -= len(entry.image or b"")
