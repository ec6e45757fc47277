"""Clients' reports on our answers, and the labelled samples they make (``SAMPLES_DIR``).

A client reports on a request it made (``X-Request-ID``) while it is remembered (``recent``; in
Redis with ``REDIS_URL``, so that any process takes the report). Images refused before any reading
(not an image, too large, an unknown model) are never kept. With ``SAMPLES_DIR`` set the image is
kept too, and a report writes it, labelled, into ``SAMPLES_DIR/<model or "general">/`` as
``<request id>_<digits>.<ext>``, or ``<client>-<request id>_<digits>.<ext>`` for a client with a
key (of API_KEYS, or a solver protocol's), ``<client>`` a digest of the key, so that two clients'
ids never share a file: ready for ``captcha-ocr finetune``. One request makes at most one file (a
second report relabels it, or removes it if it was labelled with our answer and a later one calls
that wrong, giving no digits), written whole or not at all, and the folder holds at most
``SAMPLES_MAX_BYTES``. Without SAMPLES_DIR nothing but the ids is kept, and reports are only counted
(``captcha_reports_total``). A client sees and reports only its own requests (by its key).
"""

import logging
import os
import pathlib
import threading
import time

from flask import current_app, g

from ..files import PARTIAL_SUFFIX, write_atomically
from ..ocr.exceptions import UNSURE_REASONS, UnreadableInput
from ..ocr.images import image_extension
from ..ocr.reasons import Reason
from .auth import request_owner
from .extension import ocr
from .metrics import REFUSED, RIGHT, WRONG, count_report
from .quotas import quotas
from .recent import RecentRequests
from .redis_recent import RedisRecentRequests
from .request_log import ACCEPTABLE_REQUEST_ID

REPORTS_EXTENSION = "captcha_ocr_recent_requests"
SAFE_IN_FILE_NAMES = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# How old SAMPLES_DIR's size may be when a sample is written: other processes (PM2, several
# machines on one share) write there too, and what they wrote is seen only by looking again.
RESCAN_SECONDS = 2.0
STALE_PARTIAL_SECONDS = 60.0  # a sample's write takes milliseconds
OWNER_IN_FILE_NAMES = 12  # hex digits of a client's digest that name its samples: enough that keys never collide

logger = logging.getLogger(__name__)


class SamplesFull(Exception):
    pass


class SamplesFolder:
    """SAMPLES_DIR: labelled images written whole, one per request, the folder kept within ``max_bytes``."""

    def __init__(self, directory, max_bytes, clock=time.monotonic):
        self.directory, self.max_bytes, self.clock = pathlib.Path(directory), max_bytes, clock
        self._used, self._looked = 0, None
        self._lock = threading.Lock()

    def write(self, recent, digits):
        """Write (or relabel) ``recent``'s sample; its path relative to SAMPLES_DIR. Raises SamplesFull, or the
        OSError of a disk that refuses it."""
        name = self._name(recent, digits)
        with self._lock:
            if recent.sample != name:
                old = self.directory / recent.sample if recent.sample is not None else None
                self._make_room(len(recent.image) - (_size(old) if old else 0))
                path = self.directory / name
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, recent.image)
                self._used += len(recent.image)
                if old is not None:  # relabelled: the image's old name goes
                    self._used -= _size(old)
                    old.unlink(missing_ok=True)
                recent.sample = name
        return str(name)

    def discard(self, recent, digits):
        """Remove ``recent``'s sample if one was written labelled ``digits``, which a client has since called wrong."""
        with self._lock:
            if recent.sample is not None and recent.sample == self._name(recent, digits):
                path = self.directory / recent.sample
                self._used -= _size(path)
                path.unlink(missing_ok=True)
                recent.sample = None

    def _name(self, recent, digits):
        """Where in SAMPLES_DIR ``recent``'s image labelled ``digits`` goes: its model's folder, its client's and its
        own id. Relative, so that hosts that mount one shared folder at different places agree on it."""
        client = f"{recent.owner[:OWNER_IN_FILE_NAMES]}-" if recent.owner else ""
        return pathlib.Path(recent.model) / (
            f"{client}{file_name_part(recent.request_id)}_{digits}.{image_extension(recent.image)}"
        )

    def _make_room(self, size):
        if self._looked is None or self.clock() - self._looked > RESCAN_SECONDS:
            self._used, self._looked = folder_bytes(self.directory), self.clock()
        if self._used + size > self.max_bytes:
            raise SamplesFull(
                f"SAMPLES_DIR is full (SAMPLES_MAX_BYTES={self.max_bytes}): "
                "move its samples away (after finetune, say) to keep more"
            )


def folder_bytes(directory, clock=time.time):
    """The bytes of the files in ``directory`` and its folders (a model's folder each), writes in progress included.

    A write in progress older than STALE_PARTIAL_SECONDS is what a killed process left: removed.
    """
    total = 0
    for root, _folders, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            try:
                status = os.stat(path)
                if name.endswith(PARTIAL_SUFFIX) and clock() - status.st_mtime > STALE_PARTIAL_SECONDS:
                    os.unlink(path)
                else:
                    total += status.st_size
            except FileNotFoundError:  # removed meanwhile (relabelled, moved away, or another process's partial)
                pass
    return total


def _size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def file_name_part(request_id):
    """``request_id`` as part of a file name: its letters, digits, '_' and '-' as they are, any other character
    as ~ and its code in hex. One to one, so that two ids never share a file (``a.b`` and ``a-b`` did)."""
    return "".join(
        character if character in SAFE_IN_FILE_NAMES else f"~{ord(character):02x}" for character in request_id
    )


def init_app(app, client=None):
    """``client``: the Redis client of REDIS_URL, or None for recent requests in this process."""
    config = app.config
    bounds = config["SAMPLES_KEPT"], config["SAMPLES_KEPT_SECONDS"], config["SAMPLES_KEPT_BYTES"]
    app.extensions[REPORTS_EXTENSION] = (
        RecentRequests(*bounds, keep_images=bool(config["SAMPLES_DIR"]))
        if client is None
        else RedisRecentRequests(client, *bounds, keep_images=bool(config["SAMPLES_DIR"])),
        SamplesFolder(config["SAMPLES_DIR"], config["SAMPLES_MAX_BYTES"]) if config["SAMPLES_DIR"] else None,
    )


def read_remembered(image_bytes, length=None, min_confidence=None, model=None, owner=None):
    """``ocr.read``, remembering the request for a later report: readings and unsure refusals (the images worth most),
    not images refused before any reading. ``owner``: who sent it (default: the key this request presents)."""
    owner = request_owner() if owner is None else owner
    try:
        with quotas(current_app).admit(owner):
            reading = ocr.read(image_bytes, length, min_confidence, model)
    except UnreadableInput as refusal:
        if refusal.reason in UNSURE_REASONS:
            g.request_id = _recent_requests().remember(owner, g.request_id, image_bytes, model, None)
        raise
    g.request_id = _recent_requests().remember(owner, g.request_id, image_bytes, model, reading.digits)
    return reading


class UnknownRequest(LookupError):
    pass


def report(request_id, correct=None, digits=None, owner=None):
    """Count a report on an earlier answer; with SAMPLES_DIR, write its image labelled.

    Returns (verdict, {"counted": whether this report was counted, "sample": path or None} and, when the image
    could not be kept, "not_kept": why). The verdict is "right" or "wrong" for an answer, "refused" for a
    refusal (we answered nothing, so nothing was right or wrong). Only a request's first report counts; a later
    one relabels its image. ``correct=True`` labels the image with our answer; ``digits`` with the right ones.
    Raises UnknownRequest for an id not (or no longer) remembered, or another client's, UnreadableInput for
    ``correct`` on a refusal, and RecentUnavailable while Redis is lost.
    """
    if not ACCEPTABLE_REQUEST_ID.fullmatch(request_id):  # no id we answer with: none we remember
        raise UnknownRequest(request_id)
    recents = _recent_requests()
    with recents.reporting(request_owner() if owner is None else owner, request_id) as recent:
        if recent is None:
            raise UnknownRequest(request_id)
        if digits is None and correct and recent.digits is None:
            raise UnreadableInput(
                "that request was refused, so there is nothing to confirm: send the right 'digits'",
                Reason.NOTHING_TO_CONFIRM,
            )
        right = digits == recent.digits if digits is not None else bool(correct)
        verdict = REFUSED if recent.digits is None else RIGHT if right else WRONG
        counted = recents.first_report(recent)
        if counted:
            count_report(verdict)
        answer = {"counted": counted, "sample": None}
        samples = current_app.extensions[REPORTS_EXTENSION][1]
        if samples is None:
            return verdict, answer
        if recent.image is None:  # read by a process without SAMPLES_DIR (while a cluster's settings change)
            return verdict, answer | {"not_kept": "the process that read it kept no image (no SAMPLES_DIR)"}
        kept = _label(samples, recent, digits if digits is not None else recent.digits if right else None)
        recents.keep_sample(recent)
        return verdict, answer | kept


def _label(samples, recent, label):
    """Write ``recent``'s sample labelled ``label``, or with None (our answer called wrong, no right digits given)
    remove the one labelled with our answer; what the report's answer says of it."""
    if label is None:
        samples.discard(recent, recent.digits)
        return {}
    try:
        return {"sample": samples.write(recent, label)}
    except SamplesFull as full:
        logger.warning("a reported sample was not kept: %s", full)
        return {"not_kept": str(full)}
    except OSError as error:  # a full or read-only disk: the report still counts
        logger.warning("a reported sample was not kept: %s", error)
        return {"not_kept": f"the sample could not be written: {error.strerror}"}


def _recent_requests():
    return current_app.extensions[REPORTS_EXTENSION][0]
