"""Where screen-pops come from: every call event, read once, becomes what the desktops are told.

Each instance runs one publisher, a consumer of the outbox stream's ``desk`` group (beside the
store's drainer, group ``store``; ``cti.live.stream_group``), so each event is handled once by
some instance and every instance's websockets hear of it through the push topics
(``cti.desk.push``). An event is acknowledged only after what it makes is published: a
publisher killed meanwhile leaves it pending, and it is handled again (the push store keeps
that from showing a pop twice). A Redis that lost the group makes it again at the stream's
end: a pop for a call of before is of no use.

Per call, the publisher keeps the journey (the call's events, ``<prefix>:journey:<call_id>``,
for a few hours): a pop tells the IVR path and the wait, an offer's withdrawal why it ended.
Events of different calls are handled concurrently (one slow pop, its CRM read, holds up no
other call's), each call's in stream order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from cti.desk.frames import in_journey, offer_key, pushes
from cti.desk.journey import journey_pop
from cti.desk.push import PushTopics
from cti.events import CallEvent, EventKind, event_from_json, event_to_json
from cti.live.stream_group import Entry, GroupReader

log = logging.getLogger(__name__)

GROUP = "desk"
JOURNEY_TTL_S = 4 * 3600  # a call's journey is kept this long after its last event
#: Calls whose events are handled at once: each holds a Redis connection (and, for a pop, the
#: CRM's), and the instance's Redis pool is shared with the call path (redis-py refuses, not
#: waits, past its size).
CONCURRENT_CALLS = 16

#: Builds an offer's pop body from the offer (``agent_offered``) and the call's journey before it.
PopBuilder = Callable[[CallEvent, Sequence[CallEvent]], Awaitable[Mapping[str, Any]]]


class DeskPublisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        topics: PushTopics,
        stream: str,
        consumer: str,
        build_pop: PopBuilder,
        *,
        block_ms: int = 200,
        claim_idle_ms: int = 10_000,
    ) -> None:
        self.redis = redis
        self.topics = topics
        self.build_pop = build_pop
        self.reader = GroupReader(
            redis,
            stream,
            GROUP,
            consumer,
            start_id="$",
            batch=200,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
        )
        self.published = 0  # push events this publisher published, for /metrics and tests
        self._calls = asyncio.Semaphore(CONCURRENT_CALLS)

    def journey_key(self, call_id: str) -> str:
        return f"{self.topics.prefix}:journey:{call_id}"

    async def publish_once(self) -> int:
        """Handle one batch of call events; how many entries it held (0: none came)."""
        entries = await self.reader.read()
        if not entries:
            return 0
        by_subject: dict[str, list[CallEvent]] = {}
        for event in _decode(entries):
            subject = f"agent:{event.agent}" if event.kind is EventKind.AGENT_STATE_CHANGED else event.call_id
            by_subject.setdefault(subject, []).append(event)
        await asyncio.gather(*(self._in_order(events) for events in by_subject.values()))
        await self.reader.acknowledge([entry_id for entry_id, _ in entries])
        return len(entries)

    async def _in_order(self, events: list[CallEvent]) -> None:
        async with self._calls:
            for event in events:
                await self.handle(event)

    async def handle(self, event: CallEvent) -> None:
        """Publish what ``event`` makes, with the call's journey before it."""
        journey = await self._journey_before(event) if in_journey(event) else []
        pop = await self._pop(event, journey) if event.kind is EventKind.AGENT_OFFERED else None
        for push in pushes(event, journey, pop):
            seq = await self.topics.publish(
                push.topic,
                push.event or {},
                change=push.change,
                agent=push.agent,
                offer=push.offer,
                pop=push.pop,
            )
            self.published += seq > 0

    async def _journey_before(self, event: CallEvent) -> list[CallEvent]:
        """Add ``event`` to its call's journey; the events before it (once each: an event
        handled again after a crash is in the journey already)."""
        key = self.journey_key(event.call_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, event_to_json(event))
            pipe.expire(key, JOURNEY_TTL_S)
            pipe.lrange(key, 0, -1)
            *_, kept = await pipe.execute()
        before: dict[str, CallEvent] = {}
        for earlier in _decode_texts(kept):
            if earlier.event_id == event.event_id:
                break
            before.setdefault(earlier.event_id, earlier)
        return list(before.values())

    async def _pop(self, offer: CallEvent, journey: list[CallEvent]) -> Mapping[str, Any] | None:
        """The offer's pop; built from the journey alone when the full builder fails (the CRM
        away): the agent still sees who calls and what the IVR learned."""
        if offer_key(offer) is None:
            return None
        try:
            return await self.build_pop(offer, journey)
        except Exception:
            log.exception("desk: pop built without the CRM", extra={"channel": offer.call_id})
            return journey_pop(offer, journey)

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set; Redis trouble is retried every second, logged when
        it starts and when it ends."""
        failing = False
        while not stopping.is_set():
            try:
                await self.publish_once()
            except Exception as exc:
                if not failing:
                    log.error("desk publisher failing, retrying every second: %s", exc, exc_info=True)
                failing = True
                await asyncio.sleep(1)
                continue
            if failing:
                log.warning("desk publisher publishing again")
                failing = False


async def pop_from_journey(offer: CallEvent, journey: Sequence[CallEvent]) -> Mapping[str, Any]:
    """The pop builder that needs nothing beyond the call's events (``cti.desk.journey``)."""
    return journey_pop(offer, journey)


def _decode(entries: Sequence[Entry]) -> list[CallEvent]:
    return _decode_texts(fields.get("e", "") for _, fields in entries)


def _decode_texts(texts: Any) -> list[CallEvent]:
    """The events among ``texts``; one that is none is skipped (the store's drainer dead-letters
    it, with the reason: nothing for a desktop)."""
    events = []
    for text in texts:
        try:
            events.append(event_from_json(text))
        except (KeyError, ValueError, TypeError):
            log.debug("desk: an outbox entry that is no event skipped")
    return events
