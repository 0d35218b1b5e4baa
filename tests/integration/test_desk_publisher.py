"""The desk's publisher on a real Redis: a batch is published in stream order, each pop as soon
as it and the pops before it are built, and what is not yet published stays pending."""

from __future__ import annotations

import asyncio
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
from tests.conftest import eventually

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Pops:
    """A pop builder whose pops for the calls in ``held`` wait until released."""

    def __init__(self, *held: str) -> None:
        self.released = {call_id: asyncio.Event() for call_id in held}

    async def __call__(self, offer: CallEvent, journey: Sequence[CallEvent]) -> Mapping[str, Any]:
        if offer.call_id in self.released:
            await self.released[offer.call_id].wait()
        return {"call_id": offer.call_id, "offer_id": offer.data["offer"]}


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


async def test_a_pop_waits_for_the_pops_before_it_in_the_stream_never_for_those_after(
    desk: tuple[aioredis.Redis, str, PushTopics],
) -> None:
    client, stream, topics = desk
    pops = Pops("slow")
    publisher = DeskPublisher(client, topics, stream, "a", pops, block_ms=10)
    await publisher.reader.ensure_group()
    for call_id, agent in (("fast", "1001"), ("slow", "1002"), ("after", "1003")):
        await offer(client, stream, call_id, agent)

    publishing = asyncio.create_task(publisher.publish_once())
    await eventually(lambda: popped(topics, "1001"), what="the first pop, before the slow one is built")
    assert await popped(topics, "1003") == []  # built, but behind the slow one in the stream
    assert (await client.xpending(stream, GROUP))["pending"] == 2

    pops.released["slow"].set()
    assert await publishing == 3
    assert (await popped(topics, "1002"), await popped(topics, "1003")) == (["slow"], ["after"])
    assert (await client.xpending(stream, GROUP))["pending"] == 0
    assert [await topics.seq(agent_topic(agent)) for agent in ("1001", "1002", "1003")] == [1, 1, 1]
    assert publisher.published == 3
