"""The push channel as a desktop sees it: websocket clients signed in as agents, and the desk
(publisher and ``/api/ws``) beside a test's ACD (``make_acd``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.agent_view import agent_views
from cti.desk.dispositions import load_dispositions
from cti.desk.hub import PushHub
from cti.desk.pops import CrmPops
from cti.desk.publisher import DeskPublisher
from cti.desk.push import PushTopics
from cti.events import CallEvent, EventKind, event_from_json
from cti.settings import DatabaseSettings, Settings
from cti.sim.desktop import add_agent_users, sign_in_token
from cti.sim.drill import free_port
from cti.store import make_engine
from cti.web import build_web_app
from cti.web.ws import add_push_routes
from tests.conftest import eventually

if TYPE_CHECKING:
    from tests.integration.conftest import Acd


@dataclass
class DeskClient:
    """A websocket client: every frame it got, in order, read in the background."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.frames.append(message.json())

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The events of ``kind``, from events and snapshots (its open pops) alike."""
        found = [f["event"] for f in self.frames if f["type"] == "event" and f["event"]["kind"] == kind]
        if kind == "pop":
            found += [
                pop for f in self.frames if f["type"] == "snapshot" for pop in f["state"].get("pops", [])
            ]
        return found

    async def until(self, what: str, check: Callable[[DeskClient], object], within_s: float = 30) -> None:
        await eventually(
            lambda: check(self), within_s=within_s, what=lambda _: f"{what}; frames so far: {self.frames}"
        )

    def last_seq(self, topic: str) -> int:
        return max((f["seq"] for f in self.frames if f.get("topic") == topic and "seq" in f), default=0)

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await self.task


Connect = Callable[..., Awaitable[DeskClient]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open desktop websockets: ``await connect(url, token, topics=..., resume=...)`` returns once
    the hello is sent (``token=None``: a hello without one, ``raw``: send that text instead;
    ``read=False``: a client that reads nothing until the test starts its ``_read``)."""
    http = aiohttp.ClientSession()
    clients: list[DeskClient] = []

    async def open_socket(
        url: str,
        token: str | None,
        topics: list[str] | None = None,
        resume: dict[str, int] | None = None,
        raw: str | None = None,
        read: bool = True,
    ) -> DeskClient:
        client = DeskClient(await http.ws_connect(url))
        hello: dict[str, Any] = {"type": "hello", "topics": topics or ["agent"]}
        if token is not None:
            hello["token"] = token
        if resume is not None:
            hello["resume"] = resume
        if raw is not None:
            await client.ws.send_str(raw)
        else:
            await client.ws.send_json(hello)
        if read:
            client.task = asyncio.create_task(client._read())
        clients.append(client)
        return client

    yield open_socket
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
    await http.close()


@dataclass
class Desk:
    url: str
    settings: Settings
    publisher: DeskPublisher
    topics: PushTopics
    hub: PushHub

    def token(self, agent: str, **options: Any) -> str:
        return sign_in_token(self.settings, agent, **options)

    async def journey(self, call_id: str) -> list[CallEvent]:
        """The call's events as the publisher keeps them (the outbox stream is trimmed once
        every reader has handled an event: the test's ``acd.recorded()`` no longer has them)."""
        texts = await self.publisher.redis.lrange(self.publisher.journey_key(call_id), 0, -1)
        return [event_from_json(text) for text in texts]

    async def offers(self, call_id: str) -> list[CallEvent]:
        return [e for e in await self.journey(call_id) if e.kind is EventKind.AGENT_OFFERED]


StartDesk = Callable[["Acd"], Awaitable[Desk]]


@pytest.fixture
async def start_desk(settings: Settings, tmp_path: Path) -> AsyncIterator[StartDesk]:
    """The desk beside a test's ACD: its publisher on the ACD's outbox stream, ``/api/ws`` on a
    port of its own, the ACD's agents as users."""
    runners: list[web.AppRunner] = []
    engines: list[AsyncEngine] = []
    tasks: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def start(acd: Acd) -> Desk:
        database_url = f"sqlite+aiosqlite:///{tmp_path / f'desk-{len(runners)}.sqlite3'}"
        agents = list(acd.router.agents)
        await asyncio.to_thread(add_agent_users, database_url, agents)
        desk_settings = settings.model_copy(
            update={
                "database": DatabaseSettings(url=database_url),
                "web": settings.web.model_copy(update={"port": free_port()}),
            }
        )
        topics = PushTopics(acd.state.redis, acd.state.prefix, desk_settings.web.replay_max)
        engine = make_engine(database_url)
        engines.append(engine)
        pops = CrmPops(engine, ZoneInfo(desk_settings.kpi.timezone))
        publisher = DeskPublisher(acd.state.redis, topics, acd.outbox.stream, "test", pops, block_ms=50)
        await publisher.reader.ensure_group()  # from now on every call event reaches the desk
        tasks.append(asyncio.create_task(publisher.run(stopping)))
        app = build_web_app(desk_settings)
        views = agent_views(acd.router.config, load_dispositions(desk_settings.acd.dispositions_file))
        hub = PushHub(topics, acd.state, views)
        add_push_routes(app, hub)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", desk_settings.web.port).start()
        runners.append(runner)
        return Desk(f"ws://127.0.0.1:{desk_settings.web.port}/api/ws", desk_settings, publisher, topics, hub)

    yield start
    stopping.set()
    await asyncio.gather(*tasks)
    for runner in runners:
        await runner.cleanup()
    for engine in engines:
        await engine.dispose()
