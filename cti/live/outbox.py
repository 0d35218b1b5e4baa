"""The durable outbox between the call flow and the SQL store: a Redis stream.

A producer's ``record`` returns once Redis holds the event (well under a millisecond on
loopback), so call handling never waits for SQL. A drainer moves events into the store in
batches, one transaction each, and acknowledges only after the commit (an entry leaves the
stream once every reader, the desk's publisher too, has acknowledged it). If the process is
killed at any point, nothing is lost: entries read but not acknowledged stay pending in the
stream's consumer group and are read again on restart (``cti.live.stream_group``); an event
stored just before a kill is stored again harmlessly, because ``event_id`` is unique.
Durability across a *Redis* restart is Redis's: run it with appendonly in production
(``scripts/services.sh`` does).

Nothing stops the drain for good. A Redis that restarted without its data has lost the
consumer group: it is created again (``NOGROUP``). A batch the database refuses is split
until the events it refuses are alone; those go to the dead-letter stream (``<stream>:dead``,
``cti outbox dead-letters``) with the database's reason, and the rest are stored. A database
that is away is waited for: nothing is acknowledged, everything is stored once it is back.
The stream is capped (``max_len``): a store away for days must not exhaust Redis's memory and
stop the call path; a warning is logged long before the cap, an error when it is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, event_from_json, event_to_json
from cti.live.stream_group import GroupReader
from cti.store.events import insert_events

log = logging.getLogger(__name__)

STREAM = "cti:events"
GROUP = "store"
#: Events the stream may hold before the oldest are trimmed: about 1 KB each, a million is a
#: gigabyte of Redis, and days of a busy center's events with the store away.
MAX_LEN = 1_000_000
WARN_SHARE = 0.5  # warn once the backlog reaches this share of the cap
CHECK_EVERY = 1000  # look at the backlog every this many records
DEAD_MAX_LEN = 100_000
HELD_MAX = 100_000  # call events a process holds while Redis is away (a few MB)
HELD_RETRY_S = 1.0  # how often held events are offered to Redis again
FLUSH_S = 2.0  # at a stop, how long the drain may take to store what is already recorded


def dead_letters(stream: str) -> str:
    """The stream where the events the store refused wait, with the reason."""
    return f"{stream}:dead"


class EventOutbox:
    """Where producers (IVR, ACD, dialer) record call events."""

    def __init__(self, redis: aioredis.Redis, stream: str = STREAM, *, max_len: int = MAX_LEN) -> None:
        self.redis = redis
        self.stream = stream
        self.max_len = max_len
        self._records = 0
        self._held: deque[CallEvent] = deque()  # Redis was away: recorded once it answers
        self._retry: asyncio.Task[None] | None = None
        # Per call, the last record under way: a call's events reach the stream in the order
        # they were recorded even when their records run concurrently (an offer recorded while
        # its agent is dialled, the caller's queue entry recorded in the background).
        self._under_way: dict[str, asyncio.Future[None]] = {}
        self.recorded = 0  # events put in the stream by this process, for /metrics

    async def record(self, *events: CallEvent) -> None:
        """Durable once this returns: the events are in Redis, in order."""
        self._records += 1
        check = self._records % CHECK_EVERY == 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(self.stream, {"e": event_to_json(event)}, maxlen=self.max_len, approximate=True)
            if check:
                pipe.xlen(self.stream)
            replies = await pipe.execute()
        self.recorded += len(events)
        if check:
            self._warn_backlog(int(replies[-1]))

    def _warn_backlog(self, backlog: int) -> None:
        if backlog >= self.max_len * 0.99:
            log.error(
                "outbox full: the oldest call events are being dropped; is the store draining?",
                extra={"stream": self.stream, "backlog": backlog, "max_len": self.max_len},
            )
        elif backlog >= self.max_len * WARN_SHARE:
            log.warning(
                "outbox backlog growing: the store is not keeping up (or is away)",
                extra={"stream": self.stream, "backlog": backlog, "max_len": self.max_len},
            )

    async def try_record(self, *events: CallEvent) -> None:
        """Record, or hold the events in this process and record them once Redis answers again:
        a call goes on while Redis is away, and what it did meanwhile is not lost (only a crash
        of this process during the outage loses what it held). Events held earlier go first,
        and a call's events go after that call's records already under way."""
        calls = {event.call_id for event in events}
        earlier = {self._under_way[call] for call in calls if call in self._under_way}
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for call in calls:
            self._under_way[call] = mine
        try:
            if earlier:
                await asyncio.wait(earlier)
            await self._record_or_hold(events)
        finally:
            mine.set_result(None)
            for call in calls:
                if self._under_way.get(call) is mine:
                    del self._under_way[call]

    async def _record_or_hold(self, events: Sequence[CallEvent]) -> None:
        if self._held:  # Redis was away a moment ago: wait behind what is held, keep the order
            self._hold(events)
            return
        try:
            await self.record(*events)
        except (RedisError, OSError) as exc:
            log.warning("call events held until Redis answers (%s)", exc, extra={"events": len(events)})
            self._hold(events)

    def _hold(self, events: Sequence[CallEvent]) -> None:
        overflow = len(self._held) + len(events) - HELD_MAX
        if overflow > 0:  # an outage too long to hold: the oldest go, and the log says so
            for _ in range(min(overflow, len(self._held))):
                lost = self._held.popleft()
                log.error("call event lost: Redis away too long", extra={"channel": lost.call_id})
        self._held.extend(events)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._record_held(), name="outbox-held")

    async def _record_held(self) -> None:
        while self._held:
            await asyncio.sleep(HELD_RETRY_S)
            batch = list(self._held)
            try:
                await self.record(*batch)
            except (RedisError, OSError):
                continue
            for _ in batch:
                self._held.popleft()
            log.warning("held call events recorded", extra={"events": len(batch)})

    @property
    def held(self) -> int:
        """Call events waiting in this process for Redis."""
        return len(self._held)

    async def aclose(self, grace_s: float = 2.0) -> None:
        """At a stop: one last chance for what is held, then say what is lost."""
        if self._retry is not None and not self._retry.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._retry), grace_s)
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        if self._held:
            log.error("stopping with call events Redis never took: lost", extra={"events": len(self._held)})


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
        self.stream = stream
        self.reader = GroupReader(
            redis,
            stream,
            GROUP,
            consumer,
            keeper=GROUP,
            batch=batch,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
        )
        self.drained = 0  # entries this drainer stored or dead-lettered, for /metrics

    async def drain_once(self) -> int:
        """Store one batch; return how many entries it held (0: nothing to do)."""
        entries = await self.reader.read()
        if not entries:
            return 0
        events, unreadable = _decode(entries)
        refused = await self._store(events)
        ids = [entry_id for entry_id, _ in entries]
        raw = dict(entries)

        def keep_refused(pipe: Any) -> None:  # with the acknowledgement, all or nothing: no
            for entry_id, reason in unreadable:  # entry is acknowledged without being stored or kept
                self._dead_letter(pipe, str(raw[entry_id].get("e", "")), reason)
            for event, reason in refused:
                self._dead_letter(pipe, event_to_json(event), reason)

        await self.reader.acknowledge(ids, keep_refused)
        self.drained += len(entries)
        for entry_id, reason in unreadable:
            log.error("outbox entry %s is not an event (%s): dead-lettered", entry_id, reason)
        for event, reason in refused:
            log.error(
                "the store refused event %s (%s): dead-lettered",
                event.event_id,
                reason,
                extra={"channel": event.call_id, "kind": event.kind.value},
            )
        return len(entries)

    async def _store(self, events: list[CallEvent]) -> list[tuple[CallEvent, str]]:
        """Store ``events``; a batch the database refuses is halved until each refused event is
        alone. Returns the refused events with the reason; a database that is away raises."""
        try:
            await insert_events(self.engine, events)
        except (IntegrityError, DataError, StatementError) as exc:
            if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError):
                raise  # connection trouble, a missing table: not this batch's fault, retry later
            if len(events) == 1:
                return [(events[0], _reason(exc))]
            half = len(events) // 2
            return await self._store(events[:half]) + await self._store(events[half:])
        return []

    def _dead_letter(self, pipe: Any, raw: str, reason: str) -> None:
        fields = {"e": raw, "reason": reason}
        pipe.xadd(dead_letters(self.stream), fields, maxlen=DEAD_MAX_LEN, approximate=True)

    async def run(self, stopping: asyncio.Event) -> None:
        """Drain until ``stopping`` is set; Redis or SQL trouble is retried, never fatal. An
        outage is logged when it starts and when it ends, not once a second in between."""
        failing = False
        while not stopping.is_set():
            try:
                await self.drain_once()
            except Exception as exc:
                if not failing:
                    expected = isinstance(exc, RedisError | OSError | DBAPIError)
                    log.error("outbox drain failing, retrying every second: %s", exc, exc_info=not expected)
                failing = True
                await asyncio.sleep(1)
                continue
            if failing:
                log.warning("outbox draining again")
                failing = False
        await self._flush()

    async def _flush(self) -> None:
        """At a stop, store what the last moments recorded (a graceful stop's own events:
        callers handed to the fallback), for a short while: what is left waits in Redis."""
        try:
            async with asyncio.timeout(FLUSH_S):
                while await self.drain_once():
                    pass
        except (TimeoutError, RedisError, OSError, DBAPIError) as exc:
            log.warning("outbox: not all flushed at the stop (%r); the next start stores the rest", exc)


def _decode(
    entries: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[list[CallEvent], list[tuple[str, str]]]:
    """The events, and the entries that are none (with why)."""
    events: list[CallEvent] = []
    unreadable: list[tuple[str, str]] = []
    for entry_id, fields in entries:
        try:
            events.append(event_from_json(fields["e"]))
        except (KeyError, ValueError, TypeError) as exc:
            unreadable.append((entry_id, f"unreadable: {exc!r}"[:500]))
    return events, unreadable


def _reason(exc: Exception) -> str:
    """The database's own words, first line only (the statement and parameters follow)."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0][:500] if str(original).strip() else type(exc).__name__


@dataclass(frozen=True)
class DeadLetter:
    """An event the store refused (or an entry that was no event), and the reason."""

    entry_id: str
    reason: str
    raw: str

    @property
    def event(self) -> CallEvent | None:
        try:
            return event_from_json(self.raw)
        except (KeyError, ValueError, TypeError):
            return None


async def read_dead_letters(redis: aioredis.Redis, stream: str, count: int = 100) -> list[DeadLetter]:
    """The newest ``count`` dead letters of ``stream``, newest first."""
    entries: Any = await redis.xrevrange(dead_letters(stream), count=count)
    return [
        DeadLetter(entry_id, fields.get("reason", ""), fields.get("e", "")) for entry_id, fields in entries
    ]
