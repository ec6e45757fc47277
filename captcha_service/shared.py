"""The Redis that processes share when ``REDIS_URL`` is set (tasks, quotas): one client, one key prefix."""

import redis

# One hash tag: every key in one slot, so the Lua scripts and pipelines run on Redis Cluster too.
PREFIX = "{captcha-ocr}:"
CONNECT_TIMEOUT_SECONDS, TIMEOUT_SECONDS = 0.1, 0.5  # short: a Redis lost is answered at once, never waited on


def connect(url):
    """A client of the Redis at ``url``, checked now: a Redis that cannot be reached stops the start-up (ValueError)."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS, decode_responses=True
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise ValueError(f"REDIS_URL={url!r} cannot be reached: {error}") from None
    return client
