"""Live state in Redis: agent presence, queue entries, atomic claims, outbox stream."""

from cti.live.connection import connect_redis, redis_version

__all__ = ["connect_redis", "redis_version"]
