"""Live state in Redis: agent presence, queue entries, atomic claims, the event outbox."""

from cti.live.connection import connect_redis, redis_version
from cti.live.outbox import EventOutbox, OutboxDrainer

__all__ = ["EventOutbox", "OutboxDrainer", "connect_redis", "redis_version"]
