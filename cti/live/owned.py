"""What one instance holds of each live call, in Redis, so that its next start can adopt it.

A process's memory dies with it (kill -9, a crash, a deploy); Asterisk keeps the channels and
bridges of a Stasis app whose websocket went away. To pick those calls up again the instance
writes, per call, a small record of what only it knows (the queue, the agent, when the agent
answered, the IVR node the caller is at) under a key named by its ARI app name: the owner.
The records of one owner and one part (``acd``, ``ivr``) live in one hash, field = call id,
value = JSON, so a restart reads them in one round trip. A record is dropped when the call
leaves that part; the hash has no expiry of its own, because a long conversation must outlive
any fixed deadline, and a record whose channel Asterisk no longer has is closed at the next
resync (``QueueRouter.reconcile``, ``IvrRunner.reconcile``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis


class OwnedCalls:
    """One owner's records of one part of the call path (``<prefix>:owned:<owner>:<part>``)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, owner: str, part: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:owned:{owner}:{part}"

    async def save(self, call_id: str, record: Mapping[str, Any]) -> None:
        await self.redis.hset(self.key, call_id, json.dumps(record, separators=(",", ":")))

    async def drop(self, call_id: str) -> None:
        await self.redis.hdel(self.key, call_id)

    async def load(self) -> dict[str, dict[str, Any]]:
        """Every record of this owner and part; unreadable ones are dropped (and left out)."""
        raw: dict[str, str] = await self.redis.hgetall(self.key)  # type: ignore[assignment]
        records: dict[str, dict[str, Any]] = {}
        for call_id, text in raw.items():
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict):
                records[call_id] = value
            else:
                await self.drop(call_id)
        return records


@dataclass(frozen=True)
class Reconciled:
    """What one part of the call path (the ACD, the IVR) holds after a resync.

    ``callers`` and ``legs`` are channels it owns: nobody else may send them anywhere.
    ``ended`` are calls it found over, whose end it missed while the events were away (or
    the service was down): the call layer closes them with their ``call_ended``.
    """

    callers: frozenset[str] = frozenset()
    legs: frozenset[str] = frozenset()
    ended: frozenset[str] = frozenset()

    @property
    def channels(self) -> frozenset[str]:
        return self.callers | self.legs
