"""The live wallboard on the real stack: the publisher reads the ACD's state in Redis and today's
KPIs from the store, and a supervisor's socket sees a caller join a queue within about a second;
two publishers on one Redis publish each change once (the turn's holder), and the other takes
over when the holder stops or dies; the push channel's figures are on ``/metrics`` from the start."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cti.acd import Command
from cti.desk.push import PushTopics
from cti.desk.wallboard import TOPIC
from cti.desk.wallboard_feed import TodayKpis, WallboardSource
from cti.desk.wallboard_publisher import LEASE_TTL_S, WallboardPublisher, wallboard_lease
from cti.kpi.report import Period
from cti.kpi.service import kpi_report
from cti.settings import Settings
from cti.store import schema
from tests.conftest import eventually
from tests.integration.conftest import Acd, MakeAcd, sales
from tests.integration.desk import Connect, DeskClient, StartDesk
from tests.integration.test_web_api import serve

A, B = "1381", "1382"


@dataclass
class Running:
    """A publisher and its ``run`` task (``stop``: as an instance stops, letting go of the turn)."""

    publisher: WallboardPublisher
    stopping: asyncio.Event
    task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            await self.task


MakePublisher = Callable[..., Awaitable[Running]]


@pytest.fixture
async def make_publisher(settings: Settings, tmp_path: Path) -> AsyncIterator[MakePublisher]:
    """Wallboard publishers on a test's ACD (its Redis prefix: its keys go with the ACD's), each
    with today's KPIs from a store of the test's own, known from the start (a cold instance's
    first turns publish nothing until they are): ``await make_publisher(acd, run=False)`` for one
    the test turns itself."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'wallboard.sqlite3'}"
    await asyncio.to_thread(schema.upgrade, database_url)
    rules, tz = settings.kpi.config(), ZoneInfo(settings.kpi.timezone)
    made: list[tuple[Running, TodayKpis]] = []

    async def by_queue(period: Period) -> dict[str, Any]:
        report, _ = await kpi_report(database_url, rules, period=period, queue=None, by="queue", tz=tz)
        return report

    async def make(acd: Acd, run: bool = True, every_s: float = 1.0) -> Running:
        today = TodayKpis(by_queue, tz)
        await today.rows(datetime.now(UTC))  # computed once, as by an instance that served the page
        source = WallboardSource(acd.router.config, acd.state, today)
        topics = PushTopics(acd.state.redis, acd.state.prefix, settings.web.replay_max)
        lease = wallboard_lease(acd.state.redis, acd.state.prefix)
        running = Running(WallboardPublisher(source, topics, lease, every_s=every_s), asyncio.Event())
        if run:
            running.task = asyncio.create_task(running.publisher.run(running.stopping))
        made.append((running, today))
        return running

    yield make
    for running, today in made:
        await running.stop()
        await running.publisher.lease.release()  # the ones the test turned itself
        await today.aclose()


def boards(client: DeskClient) -> list[dict[str, Any]]:
    """The wallboard bodies the socket was sent, snapshots and events alike, in order."""
    return [
        f["state"] if f["type"] == "snapshot" else f["event"]
        for f in client.frames
        if f.get("topic") == TOPIC and f["type"] in ("snapshot", "event")
    ]


def waiting(body: dict[str, Any]) -> int | None:
    return next((q["waiting"] for q in body.get("queues", []) if q["name"] == "sales"), None)


def agent(body: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in body["agents"] if a["id"] == agent_id)


async def bodies_on_topic(topics: PushTopics) -> list[dict[str, Any]]:
    """Every wallboard event kept on the topic, oldest first."""
    entries = await topics.redis.xrange(topics.stream(TOPIC))
    return [json.loads(fields["e"]) for _, fields in entries]


async def test_a_supervisor_sees_an_agent_pause_and_a_caller_join_within_about_a_second(
    make_acd: MakeAcd, start_desk: StartDesk, make_publisher: MakePublisher, connect: Connect
) -> None:
    acd = await make_acd((sales(),), agent_ids=[A, B], login=False)  # nobody to answer: callers wait
    desk = await start_desk(acd)
    await make_publisher(acd)
    board = await connect(desk.url, "dev-supervisor-token", topics=["wallboard"])
    await board.until("an empty line on the board", lambda c: [b for b in boards(c) if waiting(b) == 0])

    await acd.state.transition(A, Command.LOGIN, time.time())
    await acd.state.transition(A, Command.PAUSE, time.time(), reason="lunch")
    await board.until(
        "the pause on the board", lambda c: agent(boards(c)[-1], A)["state"] == "paused", within_s=5
    )
    shown = boards(board)[-1]
    assert (agent(shown, A)["reason"], agent(shown, A)["reason_label"]) == (
        "lunch",
        {"zh": "午餐", "en": "Lunch"},
    )
    assert agent(shown, B)["reason_label"] is None  # logged out: nothing to explain
    assert [r["code"] for r in shown["pause_reasons"]][:2] == ["break", "lunch"]

    await acd.call(hold_s=60)  # A is paused: the caller waits
    await board.until("the caller on the board", lambda c: waiting(boards(c)[-1]) == 1, within_s=5)
    assert boards(board)[-1]["queues"][0]["longest_wait_s"] >= 0
    assert desk.hub.sockets()["supervisor"] == 1
    assert desk.hub.counts.snapshots == 1  # its first catch-up; the rest came live
    assert desk.hub.counts.frames == len(boards(board))


async def test_two_publishers_publish_each_change_once_and_the_other_takes_over_when_one_stops(
    make_acd: MakeAcd, make_publisher: MakePublisher
) -> None:
    acd = await make_acd((sales(),), agent_ids=[A, B], login=False)
    first, second = await make_publisher(acd), await make_publisher(acd)
    topics = first.publisher.topics
    await eventually(lambda: bodies_on_topic(topics), what="the first body")
    holder, other = (first, second) if first.publisher.leading else (second, first)

    await acd.state.transition(A, Command.LOGIN, time.time())
    ready = await eventually(
        lambda: bodies_on_topic(topics), lambda bodies: agent(bodies[-1], A)["state"] == "ready"
    )
    await asyncio.sleep(3 * holder.publisher.every_s)  # turns enough for a second publication to show
    bodies = await bodies_on_topic(topics)
    assert bodies == ready  # each change once, nothing since: the clock alone is no news
    assert [agent(body, A)["state"] for body in bodies] == ["logged_out", "ready"]
    assert (holder.publisher.published, other.publisher.published) == (2, 0)
    assert not other.publisher.leading

    await holder.stop()  # it lets go of the turn: the other's next turn takes it
    await eventually(lambda: other.publisher.leading, what="the other publisher's turn")
    await acd.state.transition(A, Command.PAUSE, time.time(), reason="break")
    bodies = await eventually(
        lambda: bodies_on_topic(topics), lambda bodies: agent(bodies[-1], A)["state"] == "paused"
    )
    assert len(bodies) == 3  # the takeover itself published nothing: the topic's last body was known
    assert other.publisher.published == 1


async def test_a_holder_that_dies_is_replaced_once_its_turn_lapses(
    make_acd: MakeAcd, make_publisher: MakePublisher
) -> None:
    acd = await make_acd((sales(),), agent_ids=[A], login=False)
    first, second = await make_publisher(acd, run=False), await make_publisher(acd, run=False)
    dying, taking_over = first.publisher, second.publisher
    assert await dying.turn()  # the first body
    assert not await taking_over.turn()
    await acd.state.transition(A, Command.LOGIN, time.time())
    assert not await taking_over.turn()  # news, but not its turn
    assert await dying.turn()
    last_renewed = time.monotonic()  # and then it turns no more: killed

    await eventually(taking_over.turn, lambda _: taking_over.leading, what="the turn taken over")
    assert time.monotonic() - last_renewed >= LEASE_TTL_S * 0.9  # not before the dead one's lapsed
    assert taking_over.published == 0  # the body it found on the topic is the one it read
    await acd.state.transition(A, Command.PAUSE, time.time(), reason="meeting")
    assert await taking_over.turn()
    assert not await dying.turn()  # back from the dead (a long pause): no longer its turn
    bodies = await bodies_on_topic(taking_over.topics)
    assert [agent(body, A)["state"] for body in bodies] == ["logged_out", "ready", "paused"]


async def test_the_push_figures_are_on_metrics_from_the_start_at_zero(tmp_path: Path) -> None:
    async with await serve(tmp_path / "metrics.sqlite3") as client:
        scraped = await client.get("/metrics", headers={"Authorization": "Bearer dev-api-token"})
        exposed = await scraped.text()
    samples = dict(line.rsplit(" ", 1) for line in exposed.splitlines() if not line.startswith("#"))
    zeros = [
        "cti_push_events_published_total",
        "cti_push_pops_published_total",
        "cti_wallboard_published_total",
        "cti_wallboard_turn",
        "cti_push_frames_sent_total",
        "cti_push_sockets_closed_too_slow_total",
        'cti_push_catch_ups_total{served_by="replay"}',
        'cti_push_catch_ups_total{served_by="snapshot"}',
        'cti_push_sockets{role="agent"}',
        'cti_push_sockets{role="supervisor"}',
        'cti_push_sockets{role="manager"}',
    ]
    assert {name: samples.get(name) for name in zeros} == dict.fromkeys(zeros, "0.0")
    assert "# TYPE cti_push_frames_sent_total counter" in exposed
