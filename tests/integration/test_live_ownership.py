"""What survives a process on real Redis: the per-call records a restart adopts, and the
heartbeat that keeps a second instance off the same ARI app name."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cti.errors import AppInUse
from cti.live import InstanceLease, OwnedCalls, connect_redis
from tests.conftest import eventually


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[tuple[Any, str]]:
    prefix = f"test:own:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    yield redis, prefix
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_records_are_kept_per_owner_and_part_and_unreadable_ones_are_dropped(
    redis_prefix: tuple[Any, str],
) -> None:
    redis, prefix = redis_prefix
    acd = OwnedCalls(redis, prefix, "cti", "acd")
    other = OwnedCalls(redis, prefix, "cti-2", "acd")
    await acd.save("c1", {"queue": "sales", "entered_at": 1.5})
    await acd.save("c2", {"queue": "service", "entered_at": 2.0})
    await other.save("c3", {"queue": "sales", "entered_at": 3.0})
    await redis.hset(acd.key, "broken", "{not json")
    await redis.hset(acd.key, "list", "[1, 2]")
    await acd.drop("c2")
    assert await acd.load() == {"c1": {"queue": "sales", "entered_at": 1.5}}
    assert await redis.hkeys(acd.key) == ["c1"]  # the unreadable ones are gone for good
    assert set(await other.load()) == {"c3"}


async def test_a_live_holder_keeps_the_app_and_a_newcomer_is_refused(redis_prefix: tuple[Any, str]) -> None:
    redis, prefix = redis_prefix
    first = InstanceLease(redis, prefix, "cti", ttl_s=0.6)
    await first.acquire()
    keeping = asyncio.create_task(first.keep())
    try:
        second = InstanceLease(redis, prefix, "cti", ttl_s=0.6)
        with pytest.raises(AppInUse) as refused:
            await second.acquire()
        assert first.token in str(refused.value)  # it says who holds the app
        assert await redis.get(first.key) == first.token
    finally:
        keeping.cancel()
        await first.release()
    assert await redis.get(first.key) is None


async def test_the_heartbeat_of_a_dead_instance_lapses_and_the_restart_takes_the_app(
    redis_prefix: tuple[Any, str],
) -> None:
    redis, prefix = redis_prefix
    dead = InstanceLease(redis, prefix, "cti", ttl_s=0.6)
    await dead.acquire()  # and never renewed: the process was killed
    started = time.monotonic()
    restart = InstanceLease(redis, prefix, "cti", ttl_s=0.6)
    await restart.acquire()
    assert time.monotonic() - started >= 0.3  # it waited for the old heartbeat to lapse
    assert await redis.get(restart.key) == restart.token
    await dead.release()  # a late release of the old token must not free the new holder's key
    assert await redis.get(restart.key) == restart.token
    await restart.release()


async def test_a_lease_lost_with_redis_is_taken_again_by_its_holder(redis_prefix: tuple[Any, str]) -> None:
    redis, prefix = redis_prefix
    lease = InstanceLease(redis, prefix, "cti", ttl_s=0.6)
    await lease.acquire()
    keeping = asyncio.create_task(lease.keep())
    try:
        await redis.delete(lease.key)  # Redis restarted without its data
        await eventually(
            lambda: redis.get(lease.key), lambda held: held == lease.token, what="the lease written again"
        )
    finally:
        keeping.cancel()
        await lease.release()
