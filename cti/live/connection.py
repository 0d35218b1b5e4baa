"""Opening Redis, with failures mapped to ``ServiceUnavailable`` naming the URL's host."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cti.errors import ServiceUnavailable
from cti.logs import redact_url


def connect_redis(url: str) -> aioredis.Redis:
    """A client for ``url`` (connections open lazily); strings come back decoded."""
    return aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=3)


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
