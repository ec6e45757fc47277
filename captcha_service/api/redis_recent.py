"""Recent requests in Redis (``REDIS_URL``): a report reaches whichever process reads it, on any machine.

``recent.RecentRequests``'s methods and bounds (the newest SAMPLES_KEPT requests of the last
SAMPLES_KEPT_SECONDS, at most SAMPLES_KEPT_BYTES of images, the oldest going first), kept by a Lua
script so that processes remembering at once see one store. Without it each process knew only the
reads it served, and a report that a balancer sent elsewhere (a solver protocol's reportgood, an
``/ocr/report`` without the read's X-Request-ID) was counted with no sample written. Keys, under
``{captcha-ocr}:``:
  recent:<owner>|<request id>     a hash: image (base64, empty without SAMPLES_DIR), model, digits, at,
                                  reported, sample (its name in SAMPLES_DIR)
  recent                          a sorted set of "<owner>|<request id>" by when it was read
  recent-sizes                    a hash: "<owner>|<request id>" -> its image's bytes
  recent-bytes                    their sum
  reporting:<owner>|<request id>  a lock held for the length of one report on it
Every request leaves through the script, which takes its bytes off as it goes, in the memory store's
order: the old forgotten first, then the id looked up. Keys Redis itself lost (an eviction policy
other than the default ``noeviction``, a cleanup) can leave the sum wrong; one left too high never
stops the store, being set right when the new read is all that is left. Times are the machines'
clocks, which must agree (NTP) to well within SAMPLES_KEPT_SECONDS. A Redis lost while serving:
reads go on unremembered (a warning), and a report is answered ``RecentUnavailable``
(``/ocr/report`` 503, retry), never a hang or a 500.
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

# How long a report may hold its request (reading the sample's name, writing the file on a slow share,
# keeping the new name) against another process's report on it, and how long that one waits.
REPORT_HOLD_SECONDS, REPORT_WAIT_SECONDS = 60, 2
# How long after SAMPLES_KEPT_SECONDS a request's hash outlives an idle store: the script forgets it
# first (with its bytes); the expiry only clears what a store nobody uses any more left behind.
EXPIRY_MARGIN_SECONDS = 3600
logger = logging.getLogger(__name__)

# Forgets the old, then adds a request unless its id is taken (returns 0 then), then forgets the oldest
# while over a bound. KEYS: the request's hash, the index, the sizes, the bytes. ARGV: prefix, member, image,
# model, digits, at, image bytes, expiry, count, bytes allowed, oldest time kept.
_REMEMBER = """
local function forget(member)
  redis.call('DECRBY', KEYS[4], tonumber(redis.call('HGET', KEYS[3], member) or '0'))
  redis.call('HDEL', KEYS[3], member)
  redis.call('DEL', ARGV[1] .. 'recent:' .. member)
  redis.call('ZREM', KEYS[2], member)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[11])) do forget(member) end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
forget(ARGV[2])  -- an index entry whose hash Redis lost
redis.call('HSET', KEYS[1], 'image', ARGV[3], 'model', ARGV[4], 'digits', ARGV[5], 'at', ARGV[6], \
'reported', '0', 'sample', '')
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[7])
redis.call('INCRBY', KEYS[4], ARGV[7])
while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[9])
    or tonumber(redis.call('GET', KEYS[4]) or '0') > tonumber(ARGV[10]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 1)
  if oldest[1] ~= ARGV[2] then
    forget(oldest[1])
  elseif oldest[2] then  -- another machine's clock is behind: the next oldest goes
    forget(oldest[2])
  else  -- only this one is left: the sum is its bytes, whatever keys were lost under it
    redis.call('SET', KEYS[4], ARGV[7])
    if tonumber(ARGV[7]) > tonumber(ARGV[10]) or tonumber(ARGV[9]) < 1 then forget(ARGV[2]) end
    break
  end
end
return 1
"""
# 1 unless the request was reported on before. One forgotten since the report looked it up (under the report's
# hold, so no other report is on it) counts: the client did report on it.
_FIRST_REPORT = """
if redis.call('HGET', KEYS[1], 'reported') == '1' then return 0 end
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
                keys=[_key(owner, request_id), PREFIX + "recent", PREFIX + "recent-sizes", PREFIX + "recent-bytes"],
                args=[
                    PREFIX,
                    _member(owner, request_id),
                    base64.b64encode(image).decode(),
                    model or GENERAL,
                    digits or "",
                    repr(at),
                    len(image),
                    int(self.seconds) + EXPIRY_MARGIN_SECONDS,
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
            base64.b64decode(found["image"]) or None,  # empty: read by a process without SAMPLES_DIR
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
            PREFIX + f"reporting:{_member(owner, request_id)}",
            timeout=REPORT_HOLD_SECONDS,
            blocking_timeout=REPORT_WAIT_SECONDS,
        )
        with _unavailable():
            if not hold.acquire():
                raise RecentUnavailable("another report on this request is under way: report again")
        try:
            yield self.get(owner, request_id)
        finally:
            try:
                hold.release()
            except (redis.RedisError, OSError) as lost:  # held past REPORT_HOLD_SECONDS, or Redis lost
                logger.warning("a report's hold on its request was lost before it ended: %s", lost)

    def first_report(self, recent):
        with _unavailable():
            recent.reported = True
            return bool(self._first_report(keys=[_key(recent.owner, recent.request_id)]))

    def keep_sample(self, recent):
        """Keep the sample's name for the next report; lost with Redis, the report has been counted and its sample
        written all the same (a later relabel then leaves this file)."""
        try:
            self._keep_sample(keys=[_key(recent.owner, recent.request_id)], args=[str(recent.sample or "")])
        except (redis.RedisError, OSError) as lost:
            logger.warning("a sample's name was not kept, Redis is unavailable: %s", lost)


def _member(owner, request_id):
    return f"{owner}|{request_id}"


def _key(owner, request_id):
    return PREFIX + f"recent:{_member(owner, request_id)}"


@contextlib.contextmanager
def _unavailable():
    try:
        yield
    except (redis.RedisError, OSError) as lost:
        logger.warning("the recent requests (Redis) are unavailable: %s", lost)
        raise RecentUnavailable("the store of recent requests is unavailable for a moment: report again") from None
