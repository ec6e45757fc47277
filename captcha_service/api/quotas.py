"""Per-key quotas: ``KEY_RATE`` reads a second and ``KEY_CONCURRENCY`` reads at once, for each client key.

Kept in Redis when ``REDIS_URL`` is set, so the limits hold across every process and machine
that names it; else in this process's memory. A client over either limit is refused before
any reading, in its protocol's words (429 with Retry-After on the HTTP API, "no slot
available" on the solver protocols). Reads without a key (no API_KEYS, none presented) have no
quota. A Redis lost while serving lets reads through: quotas protect capacity, they are not
worth refusing every client for.
"""

import collections
import contextlib
import logging
import threading
import time

import redis
from werkzeug.exceptions import TooManyRequests

from ..shared import PREFIX

QUOTAS_EXTENSION = "captcha_ocr_quotas"
HELD_SECONDS = 120  # how long a process's count of reads under way outlives it, if it dies mid-read
logger = logging.getLogger(__name__)


class OverQuota(TooManyRequests):
    def __init__(self, description):
        super().__init__(description, retry_after=1)


class Quotas:
    """``admit(owner)``: a context for one read, refused (OverQuota) when ``owner`` is over a limit. 0 = no limit."""

    def __init__(self, rate, concurrency, client=None, clock=time.time):
        self.rate, self.concurrency, self.client, self.clock = rate, concurrency, client, clock
        self._lock = threading.Lock()
        self._second = collections.defaultdict(int)  # (owner, second) -> reads begun
        self._reading = collections.defaultdict(int)  # owner -> reads under way

    @contextlib.contextmanager
    def admit(self, owner):
        if not owner or not (self.rate or self.concurrency):
            yield
            return
        counted = self._begin(owner)
        try:
            yield
        finally:
            if counted:
                self._end(owner)

    def _begin(self, owner):
        """Count one more read of ``owner``, or raise OverQuota; whether its end must be counted too."""
        second = int(self.clock())
        if self.client is None:
            with self._lock:
                return self._begin_in_memory(owner, second)
        try:
            begun, reading = self._begin_in_redis(owner, second)
        except (redis.RedisError, OSError) as lost:
            logger.warning("quotas not kept, Redis is unavailable: %s", lost)
            return False
        self._check(begun, reading, lambda: self._end(owner))
        return True

    def _begin_in_memory(self, owner, second):
        for stale in [key for key in self._second if key[1] < second]:
            del self._second[stale]
        self._second[owner, second] += 1
        self._reading[owner] += 1
        self._check(self._second[owner, second], self._reading[owner], lambda: self._end_in_memory(owner))
        return True

    def _begin_in_redis(self, owner, second):
        rate_key, reading_key = PREFIX + f"rate:{owner}:{second}", PREFIX + f"reading:{owner}"
        with self.client.pipeline() as pipe:
            pipe.incr(rate_key).expire(rate_key, 2).incr(reading_key).expire(reading_key, HELD_SECONDS)
            begun, _, reading, _ = pipe.execute()
        return begun, reading

    def _check(self, begun, reading, undo):
        if self.rate and begun > self.rate:
            undo()
            raise OverQuota(f"more than KEY_RATE={self.rate} reads a second with this key: retry after a second")
        if self.concurrency and reading > self.concurrency:
            undo()
            raise OverQuota(
                f"more than KEY_CONCURRENCY={self.concurrency} reads at once with this key: retry when one ends"
            )

    def _end(self, owner):
        if self.client is None:
            with self._lock:
                self._end_in_memory(owner)
            return
        try:
            self.client.decr(PREFIX + f"reading:{owner}")
        except (redis.RedisError, OSError) as lost:
            logger.warning("quotas not kept, Redis is unavailable: %s", lost)

    def _end_in_memory(self, owner):
        self._reading[owner] -= 1
        if self._reading[owner] <= 0:
            del self._reading[owner]


def init_app(app, client=None):
    """``client``: the Redis client of REDIS_URL, or None for quotas in this process."""
    app.extensions[QUOTAS_EXTENSION] = Quotas(app.config["KEY_RATE"], app.config["KEY_CONCURRENCY"], client)


def quotas(app):
    return app.extensions[QUOTAS_EXTENSION]
