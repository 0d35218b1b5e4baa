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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import redis.asyncio as aioredis

from cti.desk.frames import in_journey, offer_key, pushes
from cti.desk.pops import journey_only
from cti.desk.push import PopChange, PushTopics
from cti.events import CallEvent, EventKind, event_from_json, event_to_json
from cti.live.outbox import GROUP as STORE_GROUP
from cti.live.stream_group import GroupReader

log = logging.getLogger(__name__)

GROUP = "desk"
JOURNEY_TTL_S = 4 * 3600  # a call's journey is kept this long after its last event


class PopSource(Protocol):
    """Where pops come from (``cti.desk.pops.CrmPops``)."""

    def foresee(self, events: Sequence[CallEvent], journeys: Mapping[str, Sequence[CallEvent]]) -> None:
        """Every batch's events, with their calls' journeys as they now stand: what a pop will
        need may be read ahead, before any offer."""

    async def __call__(
        self, offers: Sequence[tuple[CallEvent, Sequence[CallEvent]]]
    ) -> Sequence[Mapping[str, Any]]:
        """The pop bodies of a batch's offers, each from the offer (``agent_offered``) and the
        call's journey before it, in their order."""


class DeskPublisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        topics: PushTopics,
        stream: str,
        consumer: str,
        build_pop: PopSource,
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
            keeper=STORE_GROUP,
            start_id="$",
            batch=200,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
        )
        self.published = 0  # push events this publisher published, for /metrics and tests
        self.pops = 0  # of which pops (an offer's first)

    def journey_key(self, call_id: str) -> str:
        return f"{self.topics.prefix}:journey:{call_id}"

    async def publish_once(self) -> int:
        """Handle one batch of call events; how many entries it held (0: none came).

        A batch costs two round trips to Redis whatever its size (a burst of fifty calls is one
        or two batches): the journeys in one, the publishing with the acknowledgement in the
        other. In between, the pop source is told of the batch's calls (it reads the CRM for
        the new ones in the background: ``cti.desk.pops``), and builds the offers' pops, with
        no read of the CRM for the calls it has seen before. Every round trip
        counts: in a burst the event loop is busy with the calls, and each wait for a reply is
        a wait for the loop. Events are published in stream order.
        """
        entries = await self.reader.read()
        if not entries:
            return 0
        events = _decode_texts(fields.get("e", "") for _, fields in entries)
        journeys = await self._journeys(events)
        self.build_pop.foresee(events, journeys)
        befores = [_before(event, journeys[event.call_id]) if in_journey(event) else [] for event in events]
        offers = [
            i for i, event in enumerate(events) if event.kind is EventKind.AGENT_OFFERED and offer_key(event)
        ]
        built = await self._pops([(events[i], befores[i]) for i in offers]) if offers else []
        pops = dict(zip(offers, built, strict=True))
        planned = [
            push
            for i, (event, before) in enumerate(zip(events, befores, strict=True))
            for push in pushes(event, before, pops.get(i))
        ]
        ids = [entry_id for entry_id, _ in entries]
        seqs = await self.reader.acknowledge(ids, partial(self.topics.queue_all, pushes=planned))
        self.published += sum(int(seq) > 0 for seq in seqs)
        self.pops += sum(
            int(seq) > 0 for push, seq in zip(planned, seqs, strict=True) if push.change is PopChange.OPEN
        )
        return len(entries)

    async def _journeys(self, events: list[CallEvent]) -> dict[str, list[CallEvent]]:
        """Add the events to their calls' journeys; each call's journey as it now stands."""
        kept = [event for event in events if in_journey(event)]
        calls = list(dict.fromkeys(event.call_id for event in kept))
        if not calls:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in kept:
                pipe.rpush(self.journey_key(event.call_id), event_to_json(event))
            for call_id in calls:
                pipe.expire(self.journey_key(call_id), JOURNEY_TTL_S)
                pipe.lrange(self.journey_key(call_id), 0, -1)
            replies = await pipe.execute()
        lists = replies[len(kept) + 1 :: 2]
        return {call_id: _decode_texts(texts) for call_id, texts in zip(calls, lists, strict=True)}

    async def _pops(
        self, offers: Sequence[tuple[CallEvent, Sequence[CallEvent]]]
    ) -> Sequence[Mapping[str, Any]]:
        """The offers' pops; built from the journeys alone when the full builder fails (the CRM
        away): the agents still see who calls and what the IVR learned."""
        try:
            return await self.build_pop(offers)
        except Exception:
            log.exception("desk: %d pops built without the CRM", len(offers))
            return [journey_only(offer, journey) for offer, journey in offers]

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


def _decoded(text: str) -> CallEvent | None:
    """The event ``text`` holds; None when it holds none (the store's drainer dead-letters it,
    with the reason: nothing for a desktop)."""
    try:
        return event_from_json(text)
    except (KeyError, ValueError, TypeError):
        log.debug("desk: an outbox entry that is no event skipped")
        return None


def _decode_texts(texts: Iterable[str]) -> list[CallEvent]:
    return [event for text in texts if (event := _decoded(text)) is not None]


def _before(event: CallEvent, journey: list[CallEvent]) -> list[CallEvent]:
    """The call's events before ``event``, once each (an event handled again after a crash is
    in the journey twice)."""
    before: dict[str, CallEvent] = {}
    for earlier in journey:
        if earlier.event_id == event.event_id:
            break
        before.setdefault(earlier.event_id, earlier)
    return list(before.values())
