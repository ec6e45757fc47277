"""Bound the reads in progress, so an overload gets a quick 503 instead of an endless queue."""

import functools
import threading
from collections import deque

from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from .config import read_slots

SLOTS_EXTENSION = "captcha_ocr_read_slots"


def init_app(app):
    """Allow ``READ_SLOTS`` reads at once (see ``config.read_slots``); each waits ``READ_WAIT_SECONDS`` at most.

    With more waitress threads than slots, excess requests reach this gate quickly and are
    refused after a bounded wait, instead of piling up unseen in waitress's queue.
    """
    app.extensions[SLOTS_EXTENSION] = FairSlots(read_slots(app.config))


class FairSlots:
    """A semaphore that serves its waiters first come, first served.

    ``threading.Semaphore`` lets a newcomer take a slot that was just freed ahead of the
    threads already waiting; at concurrency 16 a few requests lost that race for over a second
    and got a 503 while others were served in 20 ms. Here a freed slot is handed straight to
    the longest waiter, so a request waits for the ones before it, and no longer.
    """

    def __init__(self, slots):
        self._lock = threading.Lock()
        self._free = slots
        self._waiters = deque()

    def acquire(self, timeout):
        """Take a slot, waiting ``timeout`` seconds at most; whether one was taken."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            handed_over = threading.Lock()
            handed_over.acquire()
            self._waiters.append(handed_over)
        if handed_over.acquire(timeout=timeout):
            return True
        with self._lock:
            if handed_over in self._waiters:
                self._waiters.remove(handed_over)
                return False
        return True  # a slot was handed over between the timeout and the lock

    def release(self):
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1


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
