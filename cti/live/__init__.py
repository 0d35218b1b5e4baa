"""Live state in Redis: agent presence, queue entries, atomic claims, the event outbox."""

from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.connection import connect_redis, redis_durability, redis_version
from cti.live.lease import InstanceLease, TurnLease
from cti.live.outbox import DeadLetter, EventOutbox, OutboxDrainer, read_dead_letters
from cti.live.owned import OwnedCalls, Reconciled

__all__ = [
    "AcdState",
    "DeadLetter",
    "EventOutbox",
    "InstanceLease",
    "OutboxDrainer",
    "OwnedCalls",
    "Reconciled",
    "StaleAgentState",
    "TurnLease",
    "connect_redis",
    "read_dead_letters",
    "redis_durability",
    "redis_version",
]
