"""Opening Redis, with failures mapped to ``ServiceUnavailable`` naming the URL's host.

Every command has a deadline (``COMMAND_TIMEOUT_S``): a Redis that hangs (frozen, a network
that drops packets) must fail a call-path step with an error its caller handles, never stall
the step, and with it the call, for good. The longest blocking read the service makes (the
outbox's XREADGROUP) blocks for far less.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cti.errors import ServiceUnavailable
from cti.logs import redact_url

CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 3.0


def connect_redis(url: str) -> aioredis.Redis:
    """A client for ``url`` (connections open lazily); strings come back decoded."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        health_check_interval=30,  # a connection idle behind a dead peer is found before use
    )


async def redis_durability(url: str) -> list[str]:
    """What in Redis's settings would lose the live state or refuse the call path: without
    an append-only file a restart forgets every queue and agent; an eviction policy would drop
    keys (a queue entry, a claim) silently under memory pressure."""
    client = connect_redis(url)
    try:
        appendonly = (await client.config_get("appendonly")).get("appendonly")
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
    except (RedisError, OSError) as exc:
        return [f"settings not readable ({exc})"]
    finally:
        await client.aclose()
    problems = []
    if appendonly != "yes":
        problems.append("appendonly is off: a Redis restart loses queues, agents and undrained events")
    if policy != "noeviction":
        problems.append(f"maxmemory-policy is {policy}: keys may be evicted; use noeviction")
    return problems


async def redis_version(url: str) -> str:
    """Ping Redis at ``url`` and return its server version."""
    client = connect_redis(url)
    try:
        info = await client.info("server")
        return str(info["redis_version"])
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(f"Redis at {redact_url(url)} did not answer: {exc}") from exc
    finally:
        await client.aclose()
