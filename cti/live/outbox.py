"""The durable outbox between the call flow and the SQL store: a Redis stream.

A producer's ``record`` returns once Redis holds the event (well under a millisecond on
loopback), so call handling never waits for SQL. A drainer moves events into the store in
batches, one transaction each, and acknowledges (XACK, XDEL) only after the commit. If the
process is killed at any point, nothing is lost: entries read but not acknowledged stay
pending in the stream's consumer group and are read again on restart (this consumer's own
first, then other consumers' after ``claim_idle_ms``); an event stored just before a kill is
stored again harmlessly, because ``event_id`` is unique. Durability across a *Redis* restart
is Redis's: run it with appendonly in production.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, event_from_json, event_to_json
from cti.store.events import insert_events

log = logging.getLogger(__name__)

STREAM = "cti:events"
GROUP = "store"


class EventOutbox:
    """Where producers (IVR, ACD, dialer) record call events."""

    def __init__(self, redis: aioredis.Redis, stream: str = STREAM) -> None:
        self.redis = redis
        self.stream = stream

    async def record(self, *events: CallEvent) -> None:
        """Durable once this returns: the events are in Redis, in order."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(self.stream, {"e": event_to_json(event)})
            await pipe.execute()

    async def try_record(self, *events: CallEvent) -> None:
        """Record, or log the loss loudly: a call in progress goes on even if Redis is away."""
        try:
            await self.record(*events)
        except (RedisError, OSError) as exc:
            kinds = ", ".join(event.kind.value for event in events)
            call_ids = sorted({event.call_id for event in events})
            log.error("call events not recorded (%s): %s", kinds, exc, extra={"calls": call_ids})


class OutboxDrainer:
    """Moves recorded events into the SQL store, in batches, at least once."""

    def __init__(
        self,
        redis: aioredis.Redis,
        engine: AsyncEngine,
        consumer: str,
        *,
        stream: str = STREAM,
        batch: int = 500,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.consumer = consumer
        self.stream = stream
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _read(self) -> Sequence[tuple[str, dict[str, str]]]:
        """This consumer's unacknowledged entries first, then a dead consumer's, then new ones."""
        own: Any = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=self.batch)
        if entries := _stream_entries(own):
            return entries
        claim: Any = await self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, self.claim_idle_ms, "0-0", count=self.batch
        )
        if entries := [entry for entry in claim[1] if entry[1] is not None]:
            return entries
        fresh: Any = await self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        return _stream_entries(fresh)

    async def drain_once(self) -> int:
        """Store one batch; return how many entries it held (0: nothing to do)."""
        await self._ensure_group()
        entries = await self._read()
        if not entries:
            return 0
        events, unreadable = _decode(entries)
        await insert_events(self.engine, events)
        ids = [entry_id for entry_id, _ in entries]
        async with self.redis.pipeline(transaction=True) as pipe:  # both or neither: no stored
            pipe.xack(self.stream, GROUP, *ids)  # entry is left acknowledged in the stream
            pipe.xdel(self.stream, *ids)
            await pipe.execute()
        for entry_id in unreadable:
            log.error("outbox entry %s is not an event; dropped", entry_id)
        return len(entries)

    async def run(self, stopping: asyncio.Event) -> None:
        """Drain until ``stopping`` is set; Redis or SQL trouble is retried, never fatal."""
        while not stopping.is_set():
            try:
                await self.drain_once()
            except (RedisError, OSError) as exc:
                log.warning("outbox drain failed, retrying: %s", exc)
                await asyncio.sleep(1)
            except Exception:
                log.exception("outbox drain failed, retrying")
                await asyncio.sleep(1)


def _stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of a one-stream XREADGROUP reply (RESP2: [[stream, entries]])."""
    if not reply:
        return []
    return [entry for entry in reply[0][1] if entry[1] is not None]


def _decode(entries: Iterable[tuple[str, dict[str, Any]]]) -> tuple[list[CallEvent], list[str]]:
    events: list[CallEvent] = []
    unreadable: list[str] = []
    for entry_id, fields in entries:
        try:
            events.append(event_from_json(fields["e"]))
        except (KeyError, ValueError, TypeError):
            unreadable.append(entry_id)
    return events, unreadable
