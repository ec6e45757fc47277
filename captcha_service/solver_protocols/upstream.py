"""Forward the captchas we would refuse to another solver that speaks the createTask API.

A forwarded task is pending until the upstream answers; the bot polls as usual meanwhile
(``processing`` / ``CAPCHA_NOT_READY``). At most ``concurrency`` captchas are with the upstream
at once (more are refused at once, as without an upstream); each gets ``timeout`` seconds in all;
any failure of the upstream is our usual "unsolvable". No Flask here: the forwarding runs on
threads of its own, after the request that sent the captcha has been answered.
"""

import base64
import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .errors import UNSOLVABLE

UPSTREAM_EXTENSION = "captcha_ocr_upstream_solver"
POLL_SECONDS = 1.0
REQUEST_SECONDS = 10.0


class Upstream:
    def __init__(self, url, key, concurrency, timeout, store):
        self.url, self.key, self.timeout, self.store = url.rstrip("/"), key, timeout, store
        self._free = threading.BoundedSemaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="upstream-solver")

    def forward(self, image_bytes, key, request_id, task_fields):
        """A pending task whose answer the upstream will give, or None when the upstream is busy."""
        if not self._free.acquire(blocking=False):
            return None
        task = self.store.add(key, request_id)
        self._threads.submit(self._solve, task.id, image_bytes, task_fields)
        return task

    def _solve(self, task_id, image_bytes, task_fields):
        try:
            digits = self._ask(image_bytes, task_fields)
            self.store.finish(task_id, digits=digits) if digits else self.store.finish(task_id, error=UNSOLVABLE)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # unreachable, too slow, or not the protocol
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
            time.sleep(POLL_SECONDS)
            answer = self._call("getTaskResult", {"clientKey": self.key, "taskId": task_id}, deadline)
        text = answer["solution"]["text"]
        return text if isinstance(text, str) and text else None

    def _call(self, method, body, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the upstream solver took too long")
        request = urllib.request.Request(
            f"{self.url}/{method}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=min(REQUEST_SECONDS, remaining)) as response:
            return json.loads(response.read(1_000_000))
