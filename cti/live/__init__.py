"""Live state in Redis: agent presence, queue entries, atomic claims, the event outbox."""

from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.connection import connect_redis, redis_version
from cti.live.outbox import EventOutbox, OutboxDrainer

__all__ = ["AcdState", "EventOutbox", "OutboxDrainer", "StaleAgentState", "connect_redis", "redis_version"]
