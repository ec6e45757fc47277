"""Solved (or refused) captchas kept for the clients that poll for them: bounded by count and age."""

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

TASKS_EXTENSION = "captcha_ocr_tasks"

# Ids are random, not counted: knowing one's own id tells nothing about another client's. Below
# 2**53 so that JavaScript clients read them exactly; 15 digits, as the services' ids look.
FIRST_ID, ID_RANGE = 10**14, 2**53 - 10**14


@dataclass(frozen=True)
class Task:
    """What a poll answers: the digits, the protocol error code of a refusal, or neither yet (pending upstream)."""

    id: int
    key: str
    request_id: str
    digits: str | None = None
    error: str | None = None
    created: float = 0.0  # Unix time

    @property
    def pending(self):
        return self.digits is None and self.error is None


class TaskStore:
    """The newest ``size`` tasks of the last ``ttl`` seconds; older ones are forgotten."""

    def __init__(self, size, ttl, clock=time.time):
        self.size, self.ttl, self.clock = size, ttl, clock
        self._tasks = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key, request_id, digits=None, error=None):
        with self._lock:
            task_id = FIRST_ID + secrets.randbelow(ID_RANGE)
            while task_id in self._tasks:
                task_id = FIRST_ID + secrets.randbelow(ID_RANGE)
            task = Task(task_id, key, request_id, digits, error, self.clock())
            self._tasks[task_id] = task
            self._forget_old()
            return task

    def finish(self, task_id, digits=None, error=None):
        """A pending task's answer, when it comes (a task forgotten meanwhile stays forgotten)."""
        with self._lock:
            if task_id in self._tasks:
                self._tasks[task_id] = replace(self._tasks[task_id], digits=digits, error=error)

    def get(self, task_id, key):
        """The task of ``task_id`` created with ``key``, or None (unknown, expired, or another key's)."""
        with self._lock:
            self._forget_old()
            task = self._tasks.get(task_id)
        return task if task is not None and secrets.compare_digest(task.key.encode(), key.encode()) else None

    def _forget_old(self):
        while len(self._tasks) > self.size:
            self._tasks.popitem(last=False)
        oldest = self.clock() - self.ttl
        while self._tasks and next(iter(self._tasks.values())).created < oldest:
            self._tasks.popitem(last=False)


def task_store(app):
    return app.extensions[TASKS_EXTENSION]
