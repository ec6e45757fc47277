"""Keep the server's memory flat: one malloc arena, and freed heap given back after requests (glibc)."""

import ctypes
import threading
import time

# glibc's mallopt() parameters, as in <malloc.h>
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8


def glibc():
    """The C library, where it is glibc (else None)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas=1):
    """Cap glibc's malloc arenas, as ``MALLOC_ARENA_MAX`` would, before any thread starts.

    glibc gives threads their own arenas, each keeping freed memory; with waitress's and
    onnxruntime's threads the server's RSS was much higher than with one arena, for no
    measurable throughput (bench/load.py; README, Performance). Nothing happens where the C
    library is not glibc.
    """
    libc = glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, arenas)


class TrimFreedHeap:
    """WSGI middleware: every ``interval`` seconds in which requests came, return freed heap to the system.

    glibc keeps freed memory for reuse and returns only the top of its heap, so the decoded
    images, arrays and JSON of requests of varied sizes leave free pages in the RSS.
    ``malloc_trim`` gives them back; it holds the heap's lock for a while, so it runs in its own
    thread, at most once an ``interval``, and never while the server idles. onnxruntime's own
    arena (see ``ocr.recogniser.session_options``) is not malloc's to trim.
    """

    def __init__(self, app, interval=1.0):
        self.app = app
        self.interval = interval
        self._served = False
        libc = glibc()
        if libc is not None and hasattr(libc, "malloc_trim"):
            threading.Thread(
                target=self._trim_after_requests, args=(libc,), name="trim-freed-heap", daemon=True
            ).start()

    def __call__(self, environ, start_response):
        self._served = True
        return self.app(environ, start_response)

    def _trim_after_requests(self, libc):
        while True:
            time.sleep(self.interval)
            if self._served:
                self._served = False
                libc.malloc_trim(0)
