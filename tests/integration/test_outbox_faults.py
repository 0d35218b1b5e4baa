"""The outbox never stops: a Redis restarted without its data, a store that refuses an event,
a store that is away, a backlog that would exhaust Redis.

The Redis restart is a drill on this test's own ``redis-server`` (its own port and data
directory, stopped by its process id); the machine's Redis is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.cli import cli
from cti.events import CallEvent, EventKind, event_to_json
from cti.live import EventOutbox, OutboxDrainer, connect_redis, read_dead_letters
from cti.live.outbox import dead_letters
from cti.store import count_events, events_between, make_engine, schema
from tests.conftest import eventually, service_missing
from tests.integration.conftest import reset_database
from tests.unit.kpi_events import at


def events(n: int, call: str = "call") -> list[CallEvent]:
    return [
        CallEvent(EventKind.IVR_KEY_PRESSED, at(i / 10), f"{call}-{i}", data={"digit": "1"}) for i in range(n)
    ]


@dataclass
class OwnRedis:
    """A ``redis-server`` of this test's own, without persistence, that it may stop and start."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server is not installed")
        where = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            [binary, *where, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        client = connect_redis(self.url)

        async def answers() -> bool:
            try:
                return bool(await client.ping())
            except (OSError, aioredis.RedisError):
                return False

        try:
            await eventually(answers, every_s=0.05, what=f"own redis-server on port {self.port} started")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # by its own process id: only this instance
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = OwnRedis(tmp_path, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis_stream(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = connect_redis(redis_url)
    stream = f"test:outbox:{uuid.uuid4().hex[:8]}"
    yield client, stream
    await client.delete(stream, dead_letters(stream))
    await client.aclose()


async def until_stored(engine: AsyncEngine, count: int) -> None:
    await eventually(
        lambda: count_events(engine),
        lambda stored: stored >= count,
        what=lambda stored: f"{stored} events stored, expected {count}",
    )


@pytest.fixture
async def draining_outbox(own_redis: OwnRedis, sqlite_store: AsyncEngine) -> AsyncIterator[EventOutbox]:
    """An outbox on this test's own Redis, drained into the SQLite store while the test runs."""
    await own_redis.ready()
    redis = connect_redis(own_redis.url)
    outbox = EventOutbox(redis, "cti:events")
    stopping = asyncio.Event()
    drainer = OutboxDrainer(redis, sqlite_store, "c1", stream="cti:events", block_ms=20)
    running = asyncio.create_task(drainer.run(stopping))
    try:
        yield outbox
    finally:
        stopping.set()
        await running
        await outbox.aclose()
        await redis.aclose()


async def test_after_a_redis_restart_the_drain_creates_its_group_again_and_goes_on(
    own_redis: OwnRedis,
    sqlite_store: AsyncEngine,
    draining_outbox: EventOutbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await draining_outbox.record(*events(20, "before"))
    await until_stored(sqlite_store, 20)

    own_redis.stop()  # Redis dies and comes back empty: no stream, no consumer group
    own_redis.start()
    await own_redis.ready()
    await draining_outbox.record(*events(30, "after"))
    await until_stored(sqlite_store, 50)
    assert "consumer group is gone" in caplog.text
    assert "outbox draining again" in caplog.text


async def test_events_of_calls_while_redis_is_away_are_held_and_stored_once_it_is_back(
    own_redis: OwnRedis, sqlite_store: AsyncEngine, draining_outbox: EventOutbox
) -> None:
    """A Redis restart (or freeze) in the middle of calls: ``try_record`` never raises, holds
    what it could not record, in order, and records it once Redis answers again."""
    await draining_outbox.try_record(*events(5, "before"))
    await until_stored(sqlite_store, 5)
    own_redis.stop()  # this Redis keeps nothing: it comes back empty
    for i in range(10):  # calls go on: nothing raises while Redis is away
        await draining_outbox.try_record(*events(1, f"away-{i}"))
    assert draining_outbox.held == 10
    own_redis.start()
    await own_redis.ready()
    await until_stored(sqlite_store, 15)
    assert draining_outbox.held == 0
    stored = {event.call_id for event in await events_between(sqlite_store, None, None)}
    assert {f"away-{i}-0" for i in range(10)} <= stored


async def test_an_entry_that_is_no_event_goes_to_the_dead_letters_and_the_rest_is_stored(
    redis_stream: tuple[aioredis.Redis, str], sqlite_store: AsyncEngine
) -> None:
    redis, stream = redis_stream
    await redis.xadd(stream, {"e": "{not json"})
    too_long = event_to_json(events(1)[0]).replace('"call-0"', f'"{"c" * 65}"')  # made elsewhere
    await redis.xadd(stream, {"e": too_long})
    await EventOutbox(redis, stream).record(*events(3))
    drainer = OutboxDrainer(redis, sqlite_store, "c1", stream=stream, block_ms=10)
    while await drainer.drain_once():
        pass
    assert await count_events(sqlite_store) == 3
    letters = await read_dead_letters(redis, stream)
    assert [letter.raw for letter in letters] == [too_long, "{not json"]  # newest first
    assert "call_id is 65 characters, the store keeps at most 64" in letters[0].reason
    assert await redis.xlen(stream) == 0


@pytest.fixture
async def postgres_store() -> AsyncIterator[AsyncEngine]:
    """PostgreSQL refuses what SQLite takes (a NaN in a JSON document): the refusal's store."""
    url = os.environ.get("CTI_TEST_DATABASE_URL", "")
    if not url:
        service_missing("CTI_TEST_DATABASE_URL is not set: the refused-batch test needs PostgreSQL")
    reset_database(url)
    schema.upgrade(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()
    reset_database(url)


async def test_a_batch_the_database_refuses_is_split_and_only_the_refused_event_is_dead_lettered(
    redis_stream: tuple[aioredis.Redis, str], postgres_store: AsyncEngine, redis_url: str
) -> None:
    redis, stream = redis_stream
    good = events(40)
    bad = CallEvent(EventKind.COMPLETED, at(1), "call-bad", data={"talk_s": math.nan})
    await EventOutbox(redis, stream).record(*good[:25], bad, *good[25:])
    drainer = OutboxDrainer(redis, postgres_store, "c1", stream=stream, batch=100, block_ms=10)
    assert await drainer.drain_once() == 41
    stored = await events_between(postgres_store, None, None)
    assert sorted(e.call_id for e in stored) == sorted(e.call_id for e in good)
    [letter] = await read_dead_letters(redis, stream)
    assert letter.event is not None
    assert (letter.event.event_id, letter.event.kind) == (bad.event_id, bad.kind)
    assert "json" in letter.reason.lower()
    assert await redis.xlen(stream) == 0

    env = {"CTI_REDIS_URL": redis_url, "CTI_REDIS_OUTBOX_STREAM": stream}
    # In a thread: the command runs its own event loop.
    shown = await asyncio.to_thread(CliRunner().invoke, cli, ["outbox", "dead-letters"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "call-bad" in shown.output
    assert "completed" in shown.output


async def test_with_the_database_away_nothing_is_acknowledged_and_all_is_stored_once_it_is_back(
    redis_stream: tuple[aioredis.Redis, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    redis, stream = redis_stream
    caplog.set_level(logging.WARNING)
    url = f"sqlite+aiosqlite:///{tmp_path / 'later' / 'store.sqlite3'}"
    (tmp_path / "later").mkdir()
    (tmp_path / "later").chmod(0o500)  # the store cannot be opened yet: it is "away"
    engine = make_engine(url)
    await EventOutbox(redis, stream).record(*events(10))
    drainer = OutboxDrainer(redis, engine, "c1", stream=stream, block_ms=10)
    stopping = asyncio.Event()
    running = asyncio.create_task(drainer.run(stopping))
    try:
        await eventually(
            lambda: "outbox drain failing" in caplog.text, what="the drain reporting its failure"
        )
        assert await redis.xlen(stream) == 10  # nothing acknowledged, nothing lost

        (tmp_path / "later").chmod(0o700)  # the store is back
        schema.upgrade(url)
        await until_stored(engine, 10)
    finally:
        stopping.set()
        await running
        await engine.dispose()
    assert caplog.text.count("outbox drain failing") == 1  # one line per outage, not per second
    assert "outbox draining again" in caplog.text


async def test_a_backlog_near_the_cap_is_warned_about_and_the_stream_stays_capped(
    redis_stream: tuple[aioredis.Redis, str], caplog: pytest.LogCaptureFixture
) -> None:
    redis, stream = redis_stream
    outbox = EventOutbox(redis, stream, max_len=1000)
    for event in events(3000):
        await outbox.record(event)
    assert await redis.xlen(stream) <= 1000 + 200  # approximate trimming: whole nodes of 100
    assert "outbox backlog growing" in caplog.text or "outbox full" in caplog.text
    assert "outbox full" in caplog.text
