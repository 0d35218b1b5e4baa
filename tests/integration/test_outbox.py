"""The event outbox on real Redis and the real store: batched, durable, nothing lost when killed."""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind
from cti.live import EventOutbox, OutboxDrainer, connect_redis
from cti.live.outbox import GROUP
from cti.store import count_events, events_between, make_engine, schema
from tests.unit.kpi_events import at

PROJECT = str(Path(__file__).resolve().parents[2])
DRAIN_FOREVER = """
import asyncio, sys
from cti.live import OutboxDrainer, connect_redis
from cti.store import make_engine

async def main() -> None:
    redis, engine = connect_redis(sys.argv[1]), make_engine(sys.argv[2])
    drainer = OutboxDrainer(redis, engine, "crashy", stream=sys.argv[3], batch=25)
    while True:
        await drainer.drain_once()

asyncio.run(main())
"""


def events(n: int) -> list[CallEvent]:
    return [
        CallEvent(EventKind.IVR_KEY_PRESSED, at(i / 10), f"call-{i // 5}", data={"digit": str(i % 10)})
        for i in range(n)
    ]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def stream(redis: aioredis.Redis) -> AsyncIterator[str]:
    name = f"test:outbox:{uuid.uuid4().hex[:8]}"
    yield name
    await redis.delete(name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    yield url, engine
    await engine.dispose()


async def drain_all(drainer: OutboxDrainer) -> None:
    while await drainer.drain_once():
        pass


async def test_recorded_events_reach_the_store_in_batches_once(
    redis: aioredis.Redis, stream: str, store: tuple[str, AsyncEngine]
) -> None:
    _, engine = store
    batch = events(120)
    await EventOutbox(redis, stream).record(*batch)
    drainer = OutboxDrainer(redis, engine, "c1", stream=stream, batch=50, block_ms=10)
    assert [await drainer.drain_once() for _ in range(4)] == [50, 50, 20, 0]
    assert sorted(await events_between(engine, None, None), key=lambda e: e.at) == batch
    assert await redis.xlen(stream) == 0


async def test_a_drainer_killed_mid_way_loses_nothing_and_duplicates_nothing(
    redis_url: str, redis: aioredis.Redis, stream: str, store: tuple[str, AsyncEngine]
) -> None:
    url, engine = store
    await EventOutbox(redis, stream).record(*events(2000))
    env = {**os.environ, "PYTHONPATH": PROJECT}
    crashy = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRAIN_FOREVER, redis_url, url, stream, env=env
    )
    try:
        for _ in range(300):
            if await count_events(engine) >= 300:
                break
            await asyncio.sleep(0.02)
    finally:
        crashy.send_signal(signal.SIGKILL)
        await crashy.wait()
    stored_at_kill = await count_events(engine)
    assert 300 <= stored_at_kill < 2000, "the drainer must be killed mid-way for this test to mean anything"

    await drain_all(
        OutboxDrainer(redis, engine, "crashy", stream=stream, block_ms=10)
    )  # the restarted instance
    assert await count_events(engine) == 2000
    assert await redis.xlen(stream) == 0
    assert (await redis.xpending(stream, GROUP))["pending"] == 0


async def test_entries_a_dead_consumer_had_read_are_claimed_by_another(
    redis: aioredis.Redis, stream: str, store: tuple[str, AsyncEngine]
) -> None:
    _, engine = store
    await EventOutbox(redis, stream).record(*events(30))
    await redis.xgroup_create(stream, GROUP, id="0")
    await redis.xreadgroup(GROUP, "dead", {stream: ">"}, count=30)  # read, never acknowledged
    survivor = OutboxDrainer(redis, engine, "alive", stream=stream, block_ms=10, claim_idle_ms=0)
    await drain_all(survivor)
    assert await count_events(engine) == 30
    assert await redis.xlen(stream) == 0


async def test_a_calls_events_reach_the_stream_in_the_order_they_were_recorded(
    redis: aioredis.Redis, stream: str
) -> None:
    """Records run concurrently (an offer recorded while its agent is dialled): a call's later
    event never overtakes an earlier, slower record of the same call."""
    outbox = EventOutbox(redis, stream)
    slow = [CallEvent(EventKind.IVR_KEY_PRESSED, at(0), "call-a", data={"n": i}) for i in range(3000)]
    late = CallEvent(EventKind.AGENT_OFFERED, at(1), "call-a")
    await asyncio.gather(outbox.try_record(*slow), outbox.try_record(late))
    offered = ['"agent_offered"' in fields["e"] for _, fields in await redis.xrange(stream)]
    assert offered == [False] * len(slow) + [True]
