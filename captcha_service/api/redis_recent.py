"""Recent requests in Redis (``REDIS_URL``): a report reaches whichever process reads it, on any machine.

``recent.RecentRequests``'s methods and bounds (the newest SAMPLES_KEPT requests of the last
SAMPLES_KEPT_SECONDS, at most SAMPLES_KEPT_BYTES of images, the oldest going first), kept by a Lua
script so that processes remembering at once see one store. Without it each process knew only the
reads it served, and a report that a balancer sent elsewhere (a solver protocol's reportgood, an
``/ocr/report`` without the read's X-Request-ID) was counted with no sample written. Keys, under
``{captcha-ocr}:``:
  recent:<owner>|<request id>  a hash: image (base64, empty without SAMPLES_DIR), model, digits, at,
                               reported, sample (expires with SAMPLES_KEPT_SECONDS)
  recent                       a sorted set of "<image bytes>|<owner>|<request id>" by when it was read
  recent-bytes                 the image bytes it holds
A Redis lost while serving: reads go on unremembered (a warning), and a report is answered
``RecentUnavailable`` (``/ocr/report`` 503, retry), never a hang or a 500.
"""

import base64
import contextlib
import logging
import pathlib
import time
import uuid

import redis

from ..ocr.site_models import GENERAL
from ..shared import PREFIX
from .recent import Recent, RecentUnavailable

# How long a report may hold its request (reading the sample's name, writing the file, keeping the new name)
# against another process's report on the same request, and how long that one waits for it.
REPORT_HOLD_SECONDS, REPORT_WAIT_SECONDS = 10, 2
logger = logging.getLogger(__name__)

# Adds a request unless its id is taken (returns 0 then), then drops the oldest while over a bound.
# KEYS: the request's hash, the index, the bytes. ARGV: prefix, index member, image, model, digits, at,
# image bytes, ttl, count, bytes allowed, oldest time kept.
_REMEMBER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'image', ARGV[3], 'model', ARGV[4], 'digits', ARGV[5], 'at', ARGV[6], \
'reported', '0', 'sample', '')
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
redis.call('INCRBY', KEYS[3], ARGV[7])
while true do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #oldest == 0 or (redis.call('ZCARD', KEYS[2]) <= tonumber(ARGV[9])
      and tonumber(redis.call('GET', KEYS[3]) or '0') <= tonumber(ARGV[10])
      and tonumber(oldest[2]) >= tonumber(ARGV[11])) then
    break
  end
  local member = oldest[1]
  local bar = string.find(member, '|', 1, true)
  redis.call('DECRBY', KEYS[3], tonumber(string.sub(member, 1, bar - 1)))
  redis.call('DEL', ARGV[1] .. 'recent:' .. string.sub(member, bar + 1))
  redis.call('ZREM', KEYS[2], member)
end
return 1
"""
_FIRST_REPORT = """
if redis.call('HGET', KEYS[1], 'reported') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'reported', '1')
return 1
"""
_KEEP_SAMPLE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'sample', ARGV[1]) end
"""


class RedisRecentRequests:
    """``recent.RecentRequests`` over Redis; the clock is wall time, which every machine shares."""

    def __init__(self, client, count, seconds, max_bytes, keep_images, clock=time.time):
        self.client, self.count, self.seconds, self.max_bytes, self.keep_images, self.clock = (
            client,
            count,
            seconds,
            max_bytes,
            keep_images,
            clock,
        )
        self._remember, self._first_report, self._keep_sample = (
            client.register_script(script) for script in (_REMEMBER, _FIRST_REPORT, _KEEP_SAMPLE)
        )

    def remember(self, owner, request_id, image, model, digits):
        image = image if self.keep_images else b""
        at = self.clock()
        try:
            while not self._remember(
                keys=[_key(owner, request_id), PREFIX + "recent", PREFIX + "recent-bytes"],
                args=[
                    PREFIX,
                    f"{len(image)}|{owner}|{request_id}",
                    base64.b64encode(image).decode(),
                    model or GENERAL,
                    digits or "",
                    repr(at),
                    len(image),
                    int(self.seconds) + 1,
                    self.count,
                    self.max_bytes,
                    repr(at - self.seconds),
                ],
            ):
                request_id = uuid.uuid4().hex
        except (redis.RedisError, OSError) as lost:  # the read is answered all the same; only a report will miss it
            logger.warning("a read was not remembered for reports, Redis is unavailable: %s", lost)
        return request_id

    def get(self, owner, request_id):
        with _unavailable():
            found = self.client.hgetall(_key(owner, request_id))
        if not found or float(found["at"]) < self.clock() - self.seconds:
            return None
        return Recent(
            owner,
            request_id,
            base64.b64decode(found["image"]) if self.keep_images else None,
            found["model"],
            found["digits"] or None,
            float(found["at"]),
            pathlib.Path(found["sample"]) if found["sample"] else None,
            found["reported"] != "0",
        )

    @contextlib.contextmanager
    def reporting(self, owner, request_id):
        """The request as it is now (or None), held against another process's report on it until the block ends."""
        hold = self.client.lock(
            _key(owner, request_id) + ":reporting", timeout=REPORT_HOLD_SECONDS, blocking_timeout=REPORT_WAIT_SECONDS
        )
        with _unavailable():
            if not hold.acquire():
                raise redis.exceptions.LockError("another report on this request holds it")
        try:
            yield self.get(owner, request_id)
        finally:
            with contextlib.suppress(redis.RedisError, OSError):  # held past REPORT_HOLD_SECONDS, or Redis lost
                hold.release()

    def first_report(self, recent):
        with _unavailable():
            recent.reported = True
            return bool(self._first_report(keys=[_key(recent.owner, recent.request_id)]))

    def keep_sample(self, recent):
        with _unavailable():
            self._keep_sample(keys=[_key(recent.owner, recent.request_id)], args=[str(recent.sample or "")])


def _key(owner, request_id):
    return PREFIX + f"recent:{owner}|{request_id}"


@contextlib.contextmanager
def _unavailable():
    try:
        yield
    except (redis.RedisError, OSError) as lost:
        logger.warning("the recent requests (Redis) are unavailable: %s", lost)
        raise RecentUnavailable("the store of recent requests is unavailable for a moment: report again") from None
