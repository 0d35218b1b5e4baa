"""The desk's publisher on a real Redis: a batch's pops are built in one go, and published with
the batch's acknowledgement; a builder that fails still gives pops, without the CRM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from cti.desk.publisher import GROUP, DeskPublisher
from cti.desk.push import PushTopics, agent_topic
from cti.events import CallEvent, EventKind, event_to_json
from cti.live import connect_redis

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Pops:
    """A pop builder that remembers the batches it was asked for (their call ids) and the calls
    it was told of."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.batches: list[list[str]] = []
        self.foreseen: list[str] = []

    def foresee(self, events: Sequence[CallEvent], journeys: Mapping[str, Sequence[CallEvent]]) -> None:
        self.foreseen += [event.call_id for event in events if event.call_id in journeys]

    async def __call__(
        self, offers: Sequence[tuple[CallEvent, Sequence[CallEvent]]]
    ) -> list[Mapping[str, Any]]:
        self.batches.append([offer.call_id for offer, _ in offers])
        if self.failing:
            raise ConnectionError("the CRM is away")
        return [{"call_id": offer.call_id, "crm_reached": True} for offer, _ in offers]


@pytest.fixture
async def desk(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str, PushTopics]]:
    client = connect_redis(redis_url)
    prefix = f"test:publisher:{uuid.uuid4().hex[:8]}"
    yield client, f"{prefix}:events", PushTopics(client, prefix, replay_max=100)
    await client.delete(*[key async for key in client.scan_iter(f"{prefix}:*")])
    await client.aclose()


async def offer(client: aioredis.Redis, stream: str, call_id: str, agent: str) -> None:
    event = CallEvent(
        EventKind.AGENT_OFFERED, NOW, call_id, queue="sales", agent=agent, data={"offer": f"leg-{call_id}"}
    )
    await client.xadd(stream, {"e": event_to_json(event)})


async def popped(topics: PushTopics, agent: str) -> list[str]:
    return [pop["call_id"] for pop in await topics.open_pops(agent)]


async def test_a_batch_of_offers_is_built_in_one_go_and_published_with_its_acknowledgement(
    desk: tuple[aioredis.Redis, str, PushTopics],
) -> None:
    client, stream, topics = desk
    pops = Pops()
    publisher = DeskPublisher(client, topics, stream, "a", pops, block_ms=10)
    await publisher.reader.ensure_group()
    for call_id, agent in (("first", "1001"), ("second", "1002"), ("third", "1003")):
        await offer(client, stream, call_id, agent)

    assert await publisher.publish_once() == 3
    assert pops.foreseen == ["first", "second", "third"]
    assert pops.batches == [["first", "second", "third"]]
    assert [await popped(topics, agent) for agent in ("1001", "1002", "1003")] == [
        ["first"],
        ["second"],
        ["third"],
    ]
    assert [await topics.seq(agent_topic(agent)) for agent in ("1001", "1002", "1003")] == [1, 1, 1]
    assert (await client.xpending(stream, GROUP))["pending"] == 0
    assert publisher.published == 3


async def test_offers_whose_pops_cannot_be_built_still_pop_without_the_crm(
    desk: tuple[aioredis.Redis, str, PushTopics],
) -> None:
    client, stream, topics = desk
    publisher = DeskPublisher(client, topics, stream, "a", Pops(failing=True), block_ms=10)
    await publisher.reader.ensure_group()
    await offer(client, stream, "lonely", "1001")

    assert await publisher.publish_once() == 1
    [pop] = await topics.open_pops("1001")
    assert (pop["call_id"], pop["crm_reached"]) == ("lonely", False)
    assert (await client.xpending(stream, GROUP))["pending"] == 0
