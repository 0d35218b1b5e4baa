"""Two consumer groups on one stream (the outbox's store and desk): an entry leaves the stream
only once both acknowledged it, and a group created at ``$`` sees only what came after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cti.live import connect_redis
from cti.live.stream_group import GroupReader


@pytest.fixture
async def stream(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = connect_redis(redis_url)
    name = f"test:group:{uuid.uuid4().hex[:8]}"
    yield client, name
    await client.delete(name)
    await client.aclose()


async def add(client: aioredis.Redis, stream: str, count: int) -> list[str]:
    return [str(await client.xadd(stream, {"e": str(i)})) for i in range(count)]


async def ack(reader: GroupReader, entries: list[tuple[str, dict[str, str]]]) -> None:
    await reader.acknowledge([entry_id for entry_id, _ in entries])


async def test_an_entry_stays_until_every_group_acknowledged_it(stream: tuple[aioredis.Redis, str]) -> None:
    client, name = stream
    store = GroupReader(client, name, "store", "a", keeper="store", block_ms=10)
    desk = GroupReader(client, name, "desk", "a", keeper="store", block_ms=10)
    await store.ensure_group()
    await desk.ensure_group()
    ids = await add(client, name, 5)

    await ack(store, await store.read())
    assert [entry_id for entry_id, _ in await client.xrange(name)] == ids  # desk has read nothing

    first = (await desk.read())[:2]
    await ack(desk, first)
    assert [entry_id for entry_id, _ in await client.xrange(name)] == ids[2:]

    rest = await desk.read()  # its pending ones: none; then the three it has not read
    assert [entry_id for entry_id, _ in rest] == ids[2:]
    await ack(desk, rest)
    assert await client.xlen(name) == 0


async def test_a_pending_entry_holds_the_stream_back_from_where_it_is(
    stream: tuple[aioredis.Redis, str],
) -> None:
    client, name = stream
    store = GroupReader(client, name, "store", "a", keeper="store", block_ms=10, batch=2)
    await store.ensure_group()
    ids = await add(client, name, 4)
    held = await store.read()  # two read, never acknowledged (a consumer killed meanwhile)
    other = GroupReader(
        client, name, "store", "b", keeper="store", block_ms=10, batch=2, claim_idle_ms=60_000
    )
    await ack(other, await other.read())  # the next two
    assert [entry_id for entry_id, _ in await client.xrange(name)] == ids
    await ack(store, held)
    assert await client.xlen(name) == 0


async def test_a_group_created_at_the_end_sees_only_what_follows_and_again_after_redis_lost_it(
    stream: tuple[aioredis.Redis, str],
) -> None:
    client, name = stream
    await add(client, name, 3)
    desk = GroupReader(client, name, "desk", "a", keeper="store", start_id="$", block_ms=10)
    assert await desk.read() == []
    new = await add(client, name, 1)
    assert [entry_id for entry_id, _ in await desk.read()] == new

    await client.delete(name)  # as a Redis restarted without its data
    assert await desk.read() == []  # NOGROUP
    assert await desk.read() == []  # created again, at the end: what came meanwhile is no pop
    newer = await add(client, name, 2)
    assert [entry_id for entry_id, _ in await desk.read()] == newer


async def test_without_the_keepers_group_nothing_is_trimmed(stream: tuple[aioredis.Redis, str]) -> None:
    """The store was away when the service started (its drainer has not made its group yet), or
    Redis lost the groups: the desk's acknowledgements must not take events the store never read."""
    client, name = stream
    desk = GroupReader(client, name, "desk", "a", keeper="store", start_id="$", block_ms=10)
    await desk.ensure_group()
    ids = await add(client, name, 3)
    await ack(desk, await desk.read())
    assert [entry_id for entry_id, _ in await client.xrange(name)] == ids
    store = GroupReader(client, name, "store", "a", keeper="store", block_ms=10)
    assert [entry_id for entry_id, _ in await store.read()] == ids  # every one, when it comes
