"""Forward the captchas we would refuse to another solver that speaks the createTask API.

A forwarded task is pending until the upstream answers; the bot polls as usual meanwhile
(``processing`` / ``CAPCHA_NOT_READY``). At most ``concurrency`` captchas are with the upstream
at once (more are refused at once, as without an upstream); each gets ``timeout`` seconds in all,
one deadline for the whole exchange however slowly the upstream trickles its bytes. Its answer is
checked as our own would be (the asked kind and length of text), redirects are not followed,
and any failure of the upstream is our usual "unsolvable". No Flask here: the forwarding runs on
threads of its own, after the request that sent the captcha has been answered.
"""

import base64
import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import UNSOLVABLE

UPSTREAM_EXTENSION = "captcha_ocr_upstream_solver"
POLL_SECONDS = 1.0
REQUEST_SECONDS = 10.0
LARGEST_ANSWER = 64 * 1024  # bytes of one upstream answer: a task's JSON is a few hundred
LONGEST_TEXT = 32  # characters of a solution to a captcha that is not digits only (letters, forwarded as they are)


class Upstream:
    def __init__(self, url, key, concurrency, timeout, store):
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"setting UPSTREAM_SOLVER={url!r} is not an http:// or https:// URL")
        self._parts, self.key, self.timeout, self.store = parts, key, timeout, store
        self._free = threading.BoundedSemaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="upstream-solver")
        self._stopping = threading.Event()
        self._sockets = set()  # of the exchanges under way, for close() to cut
        self._lock = threading.Lock()

    def forward(self, image_bytes, owner, request_id, task_fields, expected):
        """A pending task whose answer the upstream will give, or None when the upstream is busy.

        ``expected``: the ``Expected`` text, else the answer is unsolvable.
        """
        if self._stopping.is_set() or not self._free.acquire(blocking=False):
            return None
        try:
            task = self.store.add(owner, request_id)
        except BaseException:  # a task store that cannot take it (Redis lost): the slot is not held by nothing
            self._free.release()
            raise
        self._threads.submit(self._solve, task.id, image_bytes, task_fields, expected)
        return task

    def close(self):
        """Stop forwarding: exchanges under way end at once (their tasks unsolvable), so a stopping server need not wait."""
        self._stopping.set()
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _solve(self, task_id, image_bytes, task_fields, expected):
        try:
            text = expected.checked(self._ask(image_bytes, task_fields))
            self.store.finish(task_id, digits=text) if text else self.store.finish(task_id, error=UNSOLVABLE)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, http.client.HTTPException):  # unreachable, too slow, or not the protocol
            self.store.finish(task_id, error=UNSOLVABLE)
        finally:
            self._free.release()

    def _ask(self, image_bytes, task_fields):
        deadline = time.monotonic() + self.timeout
        task = {"type": "ImageToTextTask", "body": base64.b64encode(image_bytes).decode(), **task_fields}
        answer = self._call("createTask", {"clientKey": self.key, "task": task}, deadline)
        task_id = answer.get("taskId")
        while answer.get("status") != "ready":
            if answer.get("errorId") or time.monotonic() + POLL_SECONDS > deadline:
                return None
            if self._stopping.wait(POLL_SECONDS):
                return None
            answer = self._call("getTaskResult", {"clientKey": self.key, "taskId": task_id}, deadline)
        return answer["solution"]["text"]

    def _call(self, method, body, deadline):
        """POST one JSON call and return its JSON answer, all of it before ``deadline``: a watchdog shuts the socket then."""
        remaining = min(deadline - time.monotonic(), REQUEST_SECONDS)
        if remaining <= 0 or self._stopping.is_set():
            raise TimeoutError("the upstream solver took too long")
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(self._parts.hostname, self._parts.port, timeout=remaining)
        connection.connect()
        sock = connection.sock  # held here: http.client lets go of it once the answer says it closes
        watchdog = threading.Timer(remaining, _cut, [sock])
        watchdog.daemon = True
        watchdog.start()
        with self._lock:
            self._sockets.add(sock)
        try:
            connection.request("POST", f"{self._parts.path}/{method}", json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200:  # a redirect (to another address, say) is not followed: not the protocol
                raise ValueError(f"the upstream answered HTTP {response.status}")
            data = response.read(LARGEST_ANSWER + 1)
            if len(data) > LARGEST_ANSWER:
                raise ValueError("the upstream's answer is too large")
            answer = json.loads(data)
            if not isinstance(answer, dict):
                raise ValueError("the upstream's answer is not a JSON object")
            return answer
        finally:
            watchdog.cancel()
            with self._lock:
                self._sockets.discard(sock)
            connection.close()
            sock.close()


def _cut(sock):
    """End an exchange from another thread: a read blocked on ``sock`` returns at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class Expected:
    """What a solution must be for us to pass it on, as our own would: ASCII digits (or, for a captcha that is not
    digits only, letters and digits), ``shortest`` to ``longest`` of them."""

    digits_only: bool
    shortest: int
    longest: int

    def checked(self, text):
        """``text`` if it is such a solution, else None (unsolvable)."""
        if not isinstance(text, str) or not text.isascii() or not text.isalnum() or (self.digits_only and not text.isdigit()):
            return None
        return text if self.shortest <= len(text) <= min(self.longest, LONGEST_TEXT) else None
