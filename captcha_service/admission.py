"""Bound the reads in progress, so an overload gets a quick 503 instead of an endless queue."""

import functools
import threading

from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from .config import read_slots

SLOTS_EXTENSION = "captcha_ocr_read_slots"


def init_app(app):
    """Allow ``READ_SLOTS`` reads at once (see ``config.read_slots``); each waits ``READ_WAIT_SECONDS`` at most.

    With more waitress threads than slots, excess requests reach this gate quickly and are
    refused after a bounded wait, instead of piling up unseen in waitress's queue.
    """
    app.extensions[SLOTS_EXTENSION] = threading.BoundedSemaphore(read_slots(app.config))


def within_capacity(view):
    """Run the view in a read slot, or answer 503 with Retry-After when none frees up in time."""

    @functools.wraps(view)
    def admitted(*args, **kwargs):
        slots = current_app.extensions[SLOTS_EXTENSION]
        wait = current_app.config["READ_WAIT_SECONDS"]
        if not slots.acquire(timeout=wait):
            raise ServiceUnavailable(f"busy: no read slot freed up within {wait:g} s; retry shortly", retry_after=1)
        try:
            return view(*args, **kwargs)
        finally:
            slots.release()

    return admitted
