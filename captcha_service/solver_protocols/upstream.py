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
from dataclasses import asdict, dataclass, replace

from .callbacks import Callback
from .errors import UNSOLVABLE

UPSTREAM_EXTENSION = "captcha_ocr_upstream_solver"
POLL_SECONDS = 1.0
RECLAIM_SECONDS = 2.0  # how often a process looks for forwarded tasks another process stopped polling for
REQUEST_SECONDS = 10.0
LARGEST_ANSWER = 64 * 1024  # bytes of one upstream answer: a task's JSON is a few hundred
LONGEST_TEXT = 32  # characters of a solution to a captcha that is not digits only (letters, forwarded as they are)


class Upstream:
    def __init__(self, url, key, concurrency, timeout, store, callbacks):
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"setting UPSTREAM_SOLVER={url!r} is not an http:// or https:// URL")
        self._parts, self.key, self.timeout, self.store, self.callbacks = parts, key, timeout, store, callbacks
        self._free = threading.BoundedSemaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="upstream-solver")
        self._stopping = threading.Event()
        self._sockets = set()  # of the exchanges under way, for close() to cut
        self._lock = threading.Lock()
        threading.Thread(target=self._reclaim, name="upstream-reclaimer", daemon=True).start()

    def forward(self, image_bytes, owner, request_id, task_fields, expected, callback=None):
        """A pending task whose answer the upstream will give, or None when the upstream is busy.

        ``expected``: the ``Expected`` text, else the answer is unsolvable; ``callback``: told the answer.
        """
        if self._stopping.is_set() or not self._free.acquire(blocking=False):
            return None
        try:
            task = self.store.add(owner, request_id)
        except BaseException:  # a task store that cannot take it (Redis lost): the slot is not held by nothing
            self._free.release()
            raise
        self._threads.submit(self._solve, task.id, image_bytes, task_fields, Handover(time.time() + self.timeout, expected, callback=callback))
        return task

    def close(self):
        """Stop forwarding: exchanges under way end at once, so a stopping server need not wait. Their tasks are handed
        to another process sharing the task store (Redis); in this process's memory they end with it."""
        self._stopping.set()
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _solve(self, task_id, image_bytes, task_fields, handover):
        self.store.lease(task_id, handover.text())
        self._settle(task_id, handover, lambda: self._ask(task_id, image_bytes, task_fields, handover))

    def _resume(self, task_id, handover_text):
        """Finish a task another process forwarded and stopped polling for (it died): ask for the upstream's answer."""
        handover = Handover.of_text(handover_text)
        if handover is None or handover.upstream_id is None:  # it never reached the upstream: nothing was paid for
            self._settle(task_id, handover, lambda: None)
        else:
            self._settle(task_id, handover, lambda: self._poll(task_id, handover))

    def _settle(self, task_id, handover, ask):
        """Finish the task with what ``ask()`` gives (its text checked, or unsolvable), and tell its callback; a stopping
        process hands it on instead."""
        try:
            text = ask()
        except (_Stopping, OSError, ValueError, KeyError, TypeError, AttributeError, http.client.HTTPException):  # unreachable, too slow, not the protocol
            text = None
        try:
            if self._stopping.is_set():  # cut short by close(): the task goes on elsewhere
                self.store.release(task_id)
                return
            self.store.finish(task_id, digits=text) if text else self.store.finish(task_id, error=UNSOLVABLE)
            if handover is not None and handover.callback is not None:
                self.callbacks.deliver(handover.callback, task_id, text, None if text else UNSOLVABLE)
        finally:
            self._free.release()

    def _ask(self, task_id, image_bytes, task_fields, handover):
        task = {"type": "ImageToTextTask", "body": base64.b64encode(image_bytes).decode(), **task_fields}
        answer = self._call("createTask", {"clientKey": self.key, "task": task}, handover.deadline)
        if answer.get("errorId") or answer.get("taskId") is None:
            return None
        handover = replace(handover, upstream_id=answer["taskId"])
        self.store.lease(task_id, handover.text())  # from here on the answer is paid for: another process can fetch it
        return self._poll(task_id, handover, answer)

    def _poll(self, task_id, handover, answer=None):
        """The upstream's checked answer to its task, polled until ready or the deadline."""
        while answer is None or answer.get("status") != "ready":
            if (answer is not None and answer.get("errorId")) or time.time() + POLL_SECONDS > handover.deadline:
                return None
            if self._stopping.wait(POLL_SECONDS):
                raise _Stopping
            self.store.lease(task_id)
            answer = self._call("getTaskResult", {"clientKey": self.key, "taskId": handover.upstream_id}, handover.deadline)
        return handover.expected.checked(answer["solution"]["text"])

    def _reclaim(self):
        """Take on, while there is room, the forwarded tasks whose process stopped renewing their lease."""
        while not self._stopping.wait(RECLAIM_SECONDS):
            while self._free.acquire(blocking=False):
                claimed = self.store.claim_abandoned(1)
                if not claimed:
                    self._free.release()
                    break
                self._threads.submit(self._resume, *claimed[0])

    def _call(self, method, body, deadline):
        """POST one JSON call and return its JSON answer, all of it before ``deadline`` (Unix time): a watchdog shuts the socket then."""
        remaining = min(deadline - time.time(), REQUEST_SECONDS)
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
    digits only, letters and digits, and for a phrase words between single spaces), ``shortest`` to ``longest`` of them."""

    digits_only: bool
    shortest: int
    longest: int
    phrase: bool = False

    def checked(self, text):
        """``text`` if it is such a solution, else None (unsolvable)."""
        if not isinstance(text, str) or not text.isascii():
            return None
        words = text.split(" ") if self.phrase else [text]
        if not all(word.isalnum() for word in words) or (self.digits_only and not text.isdigit()):
            return None
        return text if self.shortest <= len(text) <= min(self.longest, LONGEST_TEXT) else None


@dataclass(frozen=True)
class Handover:
    """What a process needs to finish another's forwarded task: kept with the task (``store.lease``)."""

    deadline: float  # Unix time
    expected: Expected
    upstream_id: int | str | None = None  # the upstream's id of the task (as it gave it), once it has given one
    callback: Callback | None = None

    def text(self):
        return json.dumps(asdict(self))

    @classmethod
    def of_text(cls, text):
        """The handover ``text`` holds, or None if it holds none (an older process's task, or damaged)."""
        try:
            found = json.loads(text)
            callback = Callback(**found["callback"]) if found["callback"] else None
            handover = cls(float(found["deadline"]), Expected(**found["expected"]), found["upstream_id"], callback)
        except (ValueError, KeyError, TypeError):
            return None
        return handover if isinstance(handover.upstream_id, int | str | None) else None


class _Stopping(Exception):
    """This process is stopping: the task is handed on, not finished."""
