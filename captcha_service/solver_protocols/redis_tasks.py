"""The task store in Redis (``REDIS_URL``): any process, on any machine, answers a poll for any task.

The same bounds and fairness as ``tasks.TaskStore`` (the newest TASK_STORE_SIZE tasks of the last
TASK_TTL_SECONDS; when full, the client holding the most loses its oldest), kept by Lua scripts
so that processes writing at once see one store. Keys, under ``{captcha-ocr}:``:
  task:<id>      a hash: owner, request_id, digits, error, created, reported, and for a forwarded task its
                 handover and, once the upstream answered, its receipt (expires with the TTL)
  tasks          a sorted set of "<id>|<owner>" by creation time: the count and the oldest
  owner:<owner>  a sorted set of that client's ids in the order they came (by ``sequence``)
  sequence       a counter: the order of tasks created at one instant
  owners         a sorted set of the clients by how many tasks they hold
  forwarded      a sorted set of the tasks with an upstream solver, by when their lease runs out:
                 the process polling the upstream renews it; a process that died (kill -9, a memory
                 restart) stops renewing, and another one claims the task and finishes the polling
                 (the upstream's task id is in the task's hash), so an answer paid for is not lost
Redis unreachable while serving is the protocols' "no slot available" at once (short socket
timeouts, captcha_service/shared.py), never a hang or a 500; reads over ``POST /ocr`` need no store and go on.
"""

import logging
import secrets

import redis

from ..shared import PREFIX
from .errors import SolverError
from .tasks import FIRST_ID, ID_RANGE, Receipt, Task

logger = logging.getLogger(__name__)
# How long a process's hold on a forwarded task lasts unrenewed: it renews at each poll of the
# upstream (every POLL_SECONDS), so only a process that stopped running lets it run out.
LEASE_SECONDS = 10.0

# Drops tasks older than the TTL, then the oldest task of the client holding the most while over
# the size. KEYS: tasks, owners. ARGV: prefix, oldest creation time to keep, size.
_FORGET_OLD = """
local function drop(member)
  local bar = string.find(member, '|', 1, true)
  local id, owner = string.sub(member, 1, bar - 1), string.sub(member, bar + 1)
  redis.call('DEL', ARGV[1] .. 'task:' .. id)
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', ARGV[1] .. 'owner:' .. owner, id)
  if tonumber(redis.call('ZINCRBY', KEYS[2], -1, owner)) <= 0 then redis.call('ZREM', KEYS[2], owner) end
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])) do drop(member) end
while redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[3]) do
  local greediest = redis.call('ZREVRANGE', KEYS[2], 0, 0)[1]
  local oldest = greediest and redis.call('ZRANGE', ARGV[1] .. 'owner:' .. greediest, 0, 0)[1]
  if oldest then
    drop(oldest .. '|' .. greediest)
  else  -- that client's list expired or was evicted under it (clocks apart, maxmemory): the oldest task goes
    if greediest then redis.call('ZREM', KEYS[2], greediest) end
    drop(redis.call('ZRANGE', KEYS[1], 0, 0)[1])
  end
end
"""
# Adds a task unless its id is taken (returns 0 then). KEYS: task, tasks, owner's ids, owners, sequence.
# ARGV: id, owner, request id, digits, error, created, ttl.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'request_id', ARGV[3], \
'digits', ARGV[4], 'error', ARGV[5], 'created', ARGV[6], 'reported', '0')
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1] .. '|' .. ARGV[2])
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[7])
redis.call('ZINCRBY', KEYS[4], 1, ARGV[2])
return 1
"""
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then \
redis.call('HSET', KEYS[1], 'digits', ARGV[1], 'error', ARGV[2], 'receipt', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[3])
"""
# Claims forwarded tasks whose lease ran out by ARGV[2] (Unix time). KEYS: forwarded.
# ARGV: prefix, now, the new lease's end, most.
# Returns [id, handover, ...] of the tasks claimed; a task gone meanwhile (expired, evicted) is dropped.
_CLAIM = """
local claimed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))) do
  local task = ARGV[1] .. 'task:' .. id
  if redis.call('EXISTS', task) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(claimed, id); table.insert(claimed, redis.call('HGET', task, 'handover') or '')
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return claimed
"""
# Holds a forwarded task unless it is gone. KEYS: task, forwarded.
# ARGV: handover (or '' to keep it), id, the lease's end.
_LEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'handover', ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 1
"""
_FIRST_REPORT = """
if redis.call('HGET', KEYS[1], 'reported') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'reported', '1')
return 1
"""


class RedisTaskStore:
    """``tasks.TaskStore``'s methods over Redis."""

    def __init__(self, client, size, ttl, clock):
        self.client, self.size, self.ttl, self.clock = client, size, ttl, clock
        self._forget_old = client.register_script(_FORGET_OLD)
        self._add, self._finish, self._first_report, self._lease, self._claim = (
            client.register_script(script) for script in (_ADD, _FINISH, _FIRST_REPORT, _LEASE, _CLAIM)
        )

    def add(self, owner, request_id, digits=None, error=None):
        created = self.clock()
        with _unavailable_as_no_slot():
            while True:
                task_id = FIRST_ID + secrets.randbelow(ID_RANGE)
                keys = [
                    _task_key(task_id),
                    PREFIX + "tasks",
                    PREFIX + f"owner:{owner}",
                    PREFIX + "owners",
                    PREFIX + "sequence",
                ]
                if self._add(
                    keys=keys,
                    args=[task_id, owner, request_id, digits or "", error or "", repr(created), int(self.ttl) + 1],
                ):
                    break
            self._forget_old(
                keys=[PREFIX + "tasks", PREFIX + "owners"], args=[PREFIX, repr(created - self.ttl), self.size]
            )
        return Task(task_id, owner, request_id, digits, error, created)

    def finish(self, task_id, digits=None, error=None, receipt=None):
        """A pending task's answer, from an upstream's thread. A Redis lost meanwhile leaves the task pending and its
        lease to run out: a process claims it when Redis is back, asks the upstream again, and finishes it."""
        receipt_text = receipt.text() if receipt is not None else ""
        self._quietly(
            self._finish,
            keys=[_task_key(task_id), PREFIX + "forwarded"],
            args=[digits or "", error or "", task_id, receipt_text],
        )

    def lease(self, task_id, handover=None):
        """Hold a forwarded task for LEASE_SECONDS more (``upstream.Upstream``), keeping ``handover`` (text) with it if
        given: what another process needs to finish it."""
        keys = [_task_key(task_id), PREFIX + "forwarded"]
        self._quietly(self._lease, keys=keys, args=[handover or "", task_id, repr(self.clock() + LEASE_SECONDS)])

    def release(self, task_id):
        """Let another process take a forwarded task at once (this one is stopping)."""
        self._quietly(self.client.zadd, PREFIX + "forwarded", {task_id: 0}, xx=True)

    def claim_abandoned(self, most):
        """[(task id, its handover text)] of up to ``most`` forwarded tasks whose lease ran out, now held here."""
        now = self.clock()
        found = (
            self._quietly(
                self._claim, keys=[PREFIX + "forwarded"], args=[PREFIX, repr(now), repr(now + LEASE_SECONDS), most]
            )
            or []
        )
        return [(int(found[at]), found[at + 1]) for at in range(0, len(found), 2)]

    def _quietly(self, call, *arguments, **keywords):
        """``call``'s result, or None with a warning when Redis is lost: the upstream's threads carry on, and
        the next renewal or claim tries again."""
        try:
            return call(*arguments, **keywords)
        except (redis.RedisError, OSError) as lost:
            logger.warning("the task store (Redis) is unavailable to the upstream's threads: %s", lost)
            return None

    def first_report(self, task_id):
        with _unavailable_as_no_slot():
            return bool(self._first_report(keys=[_task_key(task_id)]))

    def get(self, task_id, owner):
        with _unavailable_as_no_slot():
            found = self.client.hgetall(_task_key(task_id))
        if (
            not found
            or float(found["created"]) < self.clock() - self.ttl
            or not secrets.compare_digest(found["owner"], owner)
        ):
            return None
        return Task(
            task_id,
            found["owner"],
            found["request_id"],
            found["digits"] or None,
            found["error"] or None,
            float(found["created"]),
            found["reported"] == "1",
            Receipt.of_text(found.get("receipt")),
        )

    def __len__(self):
        with _unavailable_as_no_slot():
            return self.client.zcard(PREFIX + "tasks")


def _task_key(task_id):
    return PREFIX + f"task:{task_id}"


class _unavailable_as_no_slot:
    """Redis errors as the protocols' "try again later": clients back off and retry, as they do when a service is
    busy."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, redis.RedisError | OSError):
            logger.warning("the task store (Redis) is unavailable: %s", error)
            raise SolverError(
                "ERROR_NO_SLOT_AVAILABLE", "the task store is unavailable for a moment: try again"
            ) from None
        return False
