"""Solved (or refused) captchas kept for the clients that poll for them: bounded by count and age.

Every task belongs to the client that created it (a digest of its key, never the key itself:
keys are secrets, and a long one kept per task would let a client fill the memory). When the
store is full the client holding the most tasks loses its oldest, so one client sending many
captchas evicts its own tasks, not everyone's.
"""

import json
import math
import re
import secrets
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, replace

TASKS_EXTENSION = "captcha_ocr_tasks"

# Ids are random, not counted: knowing one's own id tells nothing about another client's. Below
# 2**53 so that JavaScript clients read them exactly; 15 digits, as the services' ids look.
FIRST_ID, ID_RANGE = 10**14, 2**53 - 10**14
LONGEST_ID = len(str(FIRST_ID + ID_RANGE))


def id_of_text(text):
    """The task id a client wrote as text, or None if it is no id of ours (not ASCII digits, or too long)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= LONGEST_ID else None


LONGEST_COST = 32  # characters of an upstream's cost ("0.000700" as anti-captcha writes it)
COST = re.compile(r"[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")


@dataclass(frozen=True)
class Receipt:
    """What an upstream solver said of the answer it gave: its task id (a client's report on the answer is forwarded
    to it there) and its accounting, passed on to the client in getTaskResult (anti-captcha's fields,
    https://anti-captcha.com/apidoc/methods/getTaskResult: ``cost`` in USD, ``endTime`` Unix time, ``solveCount``)
    and in res.php's get2 (the price)."""

    upstream_id: int | str
    cost: str = "0"
    end_time: int | None = None
    solve_count: int = 1

    @classmethod
    def of_answer(cls, upstream_id, answer):
        """The receipt of an upstream's ready getTaskResult ``answer``; a field that is not what the API says keeps
        our default."""
        cost, end_time, solve_count = answer.get("cost"), answer.get("endTime"), answer.get("solveCount")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            cost = repr(cost)
        if isinstance(solve_count, str) and solve_count.isascii() and solve_count.isdigit() and len(solve_count) < 10:
            solve_count = int(solve_count)  # anti-captcha's own example writes "0"
        return cls(
            upstream_id,
            cost if isinstance(cost, str) and len(cost) <= LONGEST_COST and _is_cost(cost) else "0",
            end_time
            if isinstance(end_time, int) and not isinstance(end_time, bool) and 0 <= end_time < 2**53
            else None,
            solve_count
            if isinstance(solve_count, int) and not isinstance(solve_count, bool) and 0 <= solve_count < 2**31
            else 1,
        )

    def text(self):
        return json.dumps(asdict(self))

    @classmethod
    def of_text(cls, text):
        """The receipt ``text`` holds, or None (none kept: a task read here, or one kept by an older version)."""
        try:
            receipt = cls(**json.loads(text)) if text else None
        except (ValueError, TypeError):
            return None
        return receipt if receipt is None or is_task_id(receipt.upstream_id) else None


def is_task_id(value):
    """Whether an upstream's task id, as its JSON gave it, is one to poll and report by: a number or a text (JSON's
    true is no id, though Python counts it an int)."""
    return isinstance(value, int | str) and not isinstance(value, bool)


def _is_cost(text):
    """Whether ``text`` is a cost as the APIs write it: ASCII digits, a point, maybe an exponent (as repr writes a
    small float), finite. float() alone also takes spaces and newlines (res.php's get2 would answer two lines),
    signs, "1_000", other scripts' digits."""
    if not COST.match(text):
        return False
    return math.isfinite(float(text))


@dataclass(frozen=True)
class Task:
    """What a poll answers: the digits, the protocol error code of a refusal, or neither yet (pending upstream)."""

    id: int
    owner: str  # auth.key_owner of the key that created it
    request_id: str
    digits: str | None = None
    error: str | None = None
    created: float = 0.0  # Unix time
    reported: bool = False  # a client has reported on its answer (each task's report counts once)
    receipt: Receipt | None = None  # of the upstream solver, when it gave the answer

    @property
    def pending(self):
        return self.digits is None and self.error is None


def ready_result(digits, created, receipt=None):
    """anti-captcha's getTaskResult of a ready task (https://anti-captcha.com/apidoc/methods/getTaskResult), which its
    callbackUrl is sent too: for an answer of ours nothing was paid, at once, by one reader; for an upstream's, what it
    said of it (its cost, end, solvers). ``created``: the task's Unix time."""
    created, receipt = round(created), receipt or Receipt(None)
    return {
        "errorId": 0,
        "status": "ready",
        "solution": {"text": digits},
        "cost": receipt.cost,
        "createTime": created,
        "endTime": receipt.end_time or created,
        "solveCount": receipt.solve_count,
    }


class TaskStore:
    """The newest ``size`` tasks of the last ``ttl`` seconds, evicted fairly between owners."""

    def __init__(self, size, ttl, clock=time.time):
        self.size, self.ttl, self.clock = size, ttl, clock
        self._tasks = OrderedDict()  # id -> Task, oldest first
        self._ids_of = defaultdict(OrderedDict)  # owner -> its task ids, oldest first
        self._owners_holding = defaultdict(set)  # n -> the owners holding n tasks
        self._most = 0  # the most tasks any owner holds
        self._lock = threading.Lock()

    def add(self, owner, request_id, digits=None, error=None):
        with self._lock:
            task_id = FIRST_ID + secrets.randbelow(ID_RANGE)
            while task_id in self._tasks:
                task_id = FIRST_ID + secrets.randbelow(ID_RANGE)
            task = Task(task_id, owner, request_id, digits, error, self.clock())
            self._tasks[task_id] = task
            self._count(owner, +1)
            self._ids_of[owner][task_id] = None
            self._forget_old()
            return task

    def finish(self, task_id, digits=None, error=None, receipt=None):
        """A pending task's answer, when it comes (a task forgotten meanwhile stays forgotten)."""
        with self._lock:
            if task_id in self._tasks:
                self._tasks[task_id] = replace(self._tasks[task_id], digits=digits, error=error, receipt=receipt)

    # A process's forwarded tasks live and die with it here: there is no other process to hand them to.
    def lease(self, task_id, handover=None):
        pass

    def release(self, task_id):
        pass

    def claim_abandoned(self, most):
        return []

    def first_report(self, task_id):
        """Whether no report on the task came before this one: it is marked reported either way."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.reported:
                return False
            self._tasks[task_id] = replace(task, reported=True)
            return True

    def get(self, task_id, owner):
        """The task of ``task_id`` created by ``owner``, or None (unknown, expired, or another owner's)."""
        with self._lock:
            self._forget_old()
            task = self._tasks.get(task_id)
        return task if task is not None and secrets.compare_digest(task.owner, owner) else None

    def __len__(self):
        return len(self._tasks)

    def _forget_old(self):
        while len(self._tasks) > self.size:
            greediest = next(iter(self._owners_holding[self._most]))
            self._drop(next(iter(self._ids_of[greediest])))
        oldest = self.clock() - self.ttl
        while self._tasks and next(iter(self._tasks.values())).created < oldest:
            self._drop(next(iter(self._tasks)))

    def _drop(self, task_id):
        owner = self._tasks.pop(task_id).owner
        ids = self._ids_of[owner]
        del ids[task_id]
        if not ids:
            del self._ids_of[owner]
        self._count(owner, -1)

    def _count(self, owner, change):
        """Move ``owner`` from the holders of n tasks to those of n + ``change``, keeping ``_most``."""
        held = len(self._ids_of.get(owner, ()))  # before this change is applied to _ids_of (add) / after it (drop)
        before, after = (held, held + 1) if change > 0 else (held + 1, held)
        self._owners_holding[before].discard(owner)
        if not self._owners_holding[before]:
            del self._owners_holding[before]
        if after:
            self._owners_holding[after].add(owner)
        self._most = max(self._most, after)
        while self._most and self._most not in self._owners_holding:
            self._most -= 1


def task_store(app):
    return app.extensions[TASKS_EXTENSION]
