"""Fixtures for the real stack: the project's Asterisk, Redis and the SQL database.

The Asterisk fixture runs ``scripts/asterisk.sh up`` (idempotent: seconds when already up).
``make test`` has already started everything; a service that is still unreachable fails
the run under CI=true and skips it elsewhere (``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from playwright.async_api import Browser, async_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import AcdConfig, AgentConfig, Command, QueueConfig
from cti.acd.router import QueueRouter
from cti.app import run_service
from cti.ari import AriClient, Dispatcher, Event, EventStream, Resynced
from cti.desk.users import UserStore
from cti.errors import AriConflict, AriNotFound
from cti.events import CallEvent, event_from_json
from cti.live import AcdState, EventOutbox, connect_redis
from cti.outbound.guard import DialGuard
from cti.roles import Role
from cti.settings import (
    DatabaseSettings,
    IvrSettings,
    OutboundSettings,
    RedisSettings,
    Settings,
    load_settings,
)
from cti.sim import (
    Softphone,
    SoftphoneUnavailable,
    acd_entry,
    place_simulated_call,
    sim_agent_endpoint,
    softphones,
)
from cti.sim.drill import free_port
from cti.sim.own_asterisk import OwnAsterisk
from cti.sim.relay import TcpProxy
from cti.store import make_engine, schema
from cti.tts import Prompts
from cti.web.sessions import SignInTokens
from tests.conftest import eventually, in_ci, service_missing
from tests.integration.hotline import FAST_SPEECH, Hotline, until_serving

PROJECT = Path(__file__).resolve().parents[2]
ASTERISK_SCRIPT = PROJECT / "scripts" / "asterisk.sh"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class AsteriskStack:
    settings: Settings
    root: Path

    def script(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(ASTERISK_SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"asterisk.sh {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    @property
    def rest_api_dir(self) -> Path:
        return self.root / "usr" / "share" / "asterisk" / "rest-api"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(PROJECT / "config" / "cti.toml")


#: Where ``scripts/asterisk.sh`` serves the project's Asterisk.
PROJECT_ARI_URL = "http://127.0.0.1:8088/ari"


@pytest.fixture(scope="session")
def asterisk(settings: Settings) -> AsteriskStack:
    """The project's Asterisk, brought up (or restarted, if its config changed) by the script;
    an Asterisk elsewhere (``CTI_ARI_URL``: an own instance, ``cti.sim.own_asterisk``) is used as
    it is: bringing up the project's would restart it under whoever else uses it."""
    if settings.ari.url == PROJECT_ARI_URL:
        done = subprocess.run(
            [str(ASTERISK_SCRIPT), "up"], capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            service_missing(f"the project's Asterisk did not come up: {done.stderr.strip()[-800:]}")
    root = subprocess.run([str(ASTERISK_SCRIPT), "root"], capture_output=True, text=True, check=True)
    return AsteriskStack(settings, Path(root.stdout.strip()))


@pytest.fixture
async def own_asterisk(asterisk: AsteriskStack) -> AsyncIterator[OwnAsterisk]:
    """An Asterisk of the test's own, for a test that kills or restarts Asterisk: the shared one
    serves every other test (and other suites) meanwhile. Removed after the test."""
    own = OwnAsterisk(f"test-{uuid.uuid4().hex[:8]}", free_port(), free_port())
    await asyncio.to_thread(own.install)
    try:
        await own.start()
        yield own
    finally:
        own.remove()


@dataclass(frozen=True)
class Relayed:
    """An ARI client whose requests and websocket go through a loopback relay the test cuts."""

    proxy: TcpProxy
    ari: AriClient


@pytest.fixture
async def relayed(asterisk: AsteriskStack) -> AsyncIterator[Relayed]:
    url = urlsplit(asterisk.settings.ari.url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 8088)
    await proxy.start()
    user = asterisk.settings.ari
    try:
        async with AriClient(
            f"http://127.0.0.1:{proxy.port}/ari", user.username, user.password.get_secret_value()
        ) as client:
            yield Relayed(proxy, client)
    finally:
        await proxy.close()


@pytest.fixture
async def ari(asterisk: AsteriskStack) -> AsyncIterator[AriClient]:
    """An ARI client; after the test (and the fixtures built on it), the channels the test
    left up are hung up and the bridges it left are destroyed: a call still running when a
    service was stopped would otherwise ring or talk into the next tests and the benches (an
    agent leg in Wait(3600) did)."""
    ari = asterisk.settings.ari
    async with AriClient(ari.url, ari.username, ari.password.get_secret_value()) as client:
        before = {channel.id for channel in await client.list_channels()}
        bridges_before = {bridge.id for bridge in await client.list_bridges()}
        yield client
        for channel in await client.list_channels():
            if channel.id not in before:
                await client.hangup(channel.id, missing_ok=True)
        for bridge in await client.list_bridges():  # a service stopped mid-call leaves its bridge
            if bridge.id not in bridges_before:
                # 409: the bridge is already being torn down (the test destroyed it itself)
                with contextlib.suppress(AriNotFound, AriConflict):
                    await client.destroy_bridge(bridge.id)


class EventLog:
    """Runs an EventStream in the background and lets a test wait for the events it expects."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self.stream:
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except Exception as exc:
            self.error = exc
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[Event], bool], within_s: float = 10.0, start: int = 0
    ) -> Event:
        """The first event at index >= ``start`` that satisfies ``predicate``."""

        def found() -> Event | None:
            return next((e for e in self.events[start:] if predicate(e)), None)

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: found() is not None or self.error is not None), within_s
            )
        event = found()
        if event is None:
            raise AssertionError(f"event stream ended with {self.error!r}")
        return event

    async def close(self) -> None:
        await self.stream.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
def app_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


OpenEventLog = Callable[[EventStream], Awaitable[EventLog]]


@pytest.fixture
async def open_event_log() -> AsyncIterator[OpenEventLog]:
    """Start an EventStream and return once it is connected (its first Resynced is in)."""
    logs: list[EventLog] = []

    async def open_log(stream: EventStream) -> EventLog:
        log = EventLog(stream)
        logs.append(log)
        await log.wait_for(lambda e: isinstance(e, Resynced))
        return log

    yield open_log
    for log in logs:
        await log.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium and the CJK fonts, installed once by ``scripts/services.sh up chromium``
    (idempotent; Playwright's own browser download is not used)."""
    done = subprocess.run(
        [str(PROJECT / "scripts" / "services.sh"), "up", "chromium"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    found = shutil.which("chromium")
    if done.returncode != 0 or found is None:
        service_missing(f"chromium could not be installed: {done.stderr.strip()[-800:]}")
    return found


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's, through Playwright), closed after the test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``CTI_SCREENSHOT_DIR`` (``docs`` makes the README's), else the
    test's tmp dir."""
    directory = Path(os.environ.get("CTI_SCREENSHOT_DIR", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --- real SIP softphones: baresip agents registered as 1001 and 1002 ---------------------------
PHONES = ("1001", "1002")  # agents of config/asterisk/pjsip_wizard.conf


@pytest.fixture(scope="session")
def baresip_installed() -> None:
    """``scripts/services.sh up baresip`` installs Debian's baresip-core once (idempotent)."""
    try:
        done = subprocess.run(
            [str(PROJECT / "scripts" / "services.sh"), "up", "baresip"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        service_missing("installing baresip-core took over 600 s")
    if done.returncode != 0:
        service_missing(f"baresip could not be installed: {done.stderr.strip()[-800:]}")


@pytest.fixture
async def phones(
    asterisk: AsteriskStack, baresip_installed: None, tmp_path: Path
) -> AsyncIterator[dict[str, Softphone]]:
    """Agents 1001 and 1002 on real softphones, registered, in manual answer mode; always stopped."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            started = await stack.enter_async_context(softphones(PHONES, tmp_path))
        except SoftphoneUnavailable as exc:
            service_missing(f"baresip did not start: {exc}")
        yield started


@pytest.fixture(scope="session")
def redis_url(settings: Settings) -> str:
    url = os.environ.get("CTI_TEST_REDIS_URL", settings.redis.url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {url} is not reachable: {exc}")
    return url


def _database_params() -> list[str]:
    """PostgreSQL too when a database is named, and always in CI (where a missing one fails)."""
    return ["sqlite", "postgresql"] if os.environ.get("CTI_TEST_DATABASE_URL") or in_ci() else ["sqlite"]


@pytest.fixture(params=_database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite, and on PostgreSQL when CTI_TEST_DATABASE_URL names one."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
        return
    url = os.environ.get("CTI_TEST_DATABASE_URL", "")
    if not url:
        service_missing("CTI_TEST_DATABASE_URL is not set: CI must test PostgreSQL too")
    yield url


def reset_database(url: str) -> None:
    """Drop everything: PostgreSQL's test database outlives a test, SQLite's file does not."""
    engine = create_engine(schema.sync_url(url))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("drop schema public cascade; create schema public"))
    engine.dispose()


@pytest.fixture
def migrated_database(database_url: str) -> Iterator[str]:
    """The URL of a database at the current schema, emptied before and after (each backend)."""
    reset_database(database_url)
    schema.upgrade(database_url)
    yield database_url
    reset_database(database_url)


@pytest.fixture
async def store(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    """A store at the current schema, emptied before and after."""
    engine = make_engine(migrated_database)
    yield engine
    await engine.dispose()


@dataclass(frozen=True)
class DeskUser:
    """A user made by ``desk_user``: its password, and a sign-in token as POST /api/login gives."""

    login: str
    password: str
    role: Role
    agent: str | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeDeskUser = Callable[..., Awaitable[DeskUser]]


@pytest.fixture
async def desk_user(store: AsyncEngine, settings: Settings) -> MakeDeskUser:
    """Make a user in the test's ``store`` (the app under test must use ``migrated_database``) and
    sign it in: ``await desk_user("wang.fang", "agent", agent="1001")`` (``name``: the name it is
    shown by). The token is signed with the session's ``[web]`` settings (config/cti.toml's
    signing key unless a test changes it); an agent id need not be in any ACD configuration here."""

    async def make(
        login: str, role: str = "agent", *, agent: str | None = None, name: str | None = None
    ) -> DeskUser:
        password = f"{login}-test-password"
        agents = {} if agent is None else {agent: f"Agent {agent}"}
        user = await UserStore(store).add(
            login, role, password, agents=agents, agent=agent, display_name=name
        )
        web = settings.web
        token, _ = SignInTokens(web.signing_key.get_secret_value(), web.session_ttl_s).issue(
            user.login, user.role, user.agent
        )
        return DeskUser(user.login, password, user.role, user.agent, token)

    return make


# --- the ACD on the real Asterisk, with simulated agents ------------------------------------
AGENT_IDS = ["1201", "1202", "1203"]


def agents(
    ids: list[str] = AGENT_IDS,
    skills: dict[str, dict[str, int]] | None = None,
    endpoint: Callable[[str], str] = sim_agent_endpoint,
) -> tuple[AgentConfig, ...]:
    """Simulated agents (or ``endpoint``'s), each with ``sales`` at level 3 unless ``skills``
    gives theirs."""
    return tuple(
        AgentConfig(
            id=i,
            name=f"Agent {i}",
            endpoint=endpoint(i),
            skills=(skills or {}).get(i, {"sales": 3}),
        )
        for i in ids
    )


def sales(**options: object) -> QueueConfig:
    """The tests' sales queue: rings 3 s, wraps up 1 s, unless ``options`` (more keys of a
    queue's configuration) say otherwise."""
    return QueueConfig.model_validate({"name": "sales", "ring_timeout_s": 3, "wrapup_s": 1, **options})


@dataclass
class Acd:
    ari: AriClient
    app: str
    router: QueueRouter
    state: AcdState
    outbox: EventOutbox
    guard: DialGuard  # the callbacks' (its store: ``guard.engine``, the do-not-call list)

    async def recorded(self) -> list[CallEvent]:
        entries = await self.outbox.redis.xrange(self.outbox.stream)
        return [event_from_json(fields["e"]) for _, fields in entries]

    async def wait_for(
        self, predicate: Callable[[list[CallEvent]], bool], within_s: float = 15
    ) -> list[CallEvent]:
        return await eventually(
            self.recorded,
            predicate,
            within_s=within_s,
            what=lambda events: f"recorded so far: {[(e.kind.value, e.agent) for e in events]}",
        )

    async def call(
        self,
        queue: str = "sales",
        hold_s: float = 30,
        delay_s: float = 0,
        priority: int = 0,
        digits: str = "",
    ) -> str:
        channel = await place_simulated_call(
            self.ari,
            app=self.app,
            app_args=f"caller,{queue},{priority}",
            hold_s=hold_s,
            delay_s=delay_s,
            digits=digits,
        )
        return channel.id


MakeAcd = Callable[..., Awaitable[Acd]]


@pytest.fixture(scope="session")
def guard_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store at the current schema for the ACD tests' dial guards (an empty do-not-call list)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('guard') / 'cti.sqlite3'}"
    schema.upgrade(url)
    return url


#: The ACD tests' dialing rules: any hour (the tests run at any time of day, the callbacks with them).
ANY_HOUR = OutboundSettings(calling_hours="00:00-24:00")


@pytest.fixture
async def make_acd(
    ari: AriClient, redis_url: str, settings: Settings, guard_store_url: str
) -> AsyncIterator[MakeAcd]:
    prefix = f"test:acd:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    guard_store = make_engine(guard_store_url)
    made: list[tuple[QueueRouter, Dispatcher]] = []

    async def make(
        queues: tuple[QueueConfig, ...],
        agent_ids: list[str] = AGENT_IDS,
        login: bool = True,
        skills: dict[str, dict[str, int]] | None = None,
        rng: random.Random | None = None,
        prompts: Prompts | None = None,
        safety_pass_s: float = 5.0,
        router_ari: AriClient | None = None,
        acd_options: dict[str, Any] | None = None,
        endpoint: Callable[[str], str] = sim_agent_endpoint,
        outbound: OutboundSettings = ANY_HOUR,
    ) -> Acd:
        """``router_ari``: the client the router's requests go through (a cut relay, say);
        its events come through the test's own client either way. ``acd_options``: more keys
        of the ACD file (``callback_ring_s``, say). ``endpoint``: an agent's dial string.
        ``outbound``: the callbacks' dialing rules."""
        app = f"acd-{uuid.uuid4().hex[:8]}"
        config = AcdConfig(agents=agents(agent_ids, skills, endpoint), queues=queues, **(acd_options or {}))
        state = AcdState(redis, prefix)
        outbox = EventOutbox(redis, f"{prefix}:events:{app}")
        ruled = settings.model_copy(
            update={"outbound": outbound, "acd": settings.acd.model_copy(update={"redis_prefix": prefix})}
        )
        guard = DialGuard.from_settings(ruled, guard_store, redis, outbox)
        router = QueueRouter(
            router_ari or ari, app, config, state, outbox, rng=rng, prompts=prompts, guard=guard
        )
        router.start(safety_pass_s)

        dispatcher = Dispatcher(acd_entry(router))
        stream = EventStream(ari, app)
        connected = asyncio.Event()

        async def pump() -> None:
            async for event in stream:
                connected.set()  # the first event is always the Resynced of the connect
                dispatcher.submit(event)

        tasks.append(asyncio.create_task(pump()))
        streams.append(stream)
        made.append((router, dispatcher))
        await asyncio.wait_for(connected.wait(), 10)
        if login:
            for agent_id in agent_ids:
                await state.transition(agent_id, Command.LOGIN, time.time())
        return Acd(ari, app, router, state, outbox, guard)

    tasks: list[asyncio.Task[None]] = []
    streams: list[EventStream] = []
    yield make
    for stream in streams:
        await stream.close()
    for task in tasks:
        task.cancel()
    for router, dispatcher in made:
        await dispatcher.aclose()
        await router.aclose()
    await _forget(redis, prefix)
    await guard_store.dispose()


async def _forget(redis: Any, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


# --- the whole service, called through the hotline (tests.integration.hotline) ----------------
StartHotline = Callable[..., Awaitable[Hotline]]


@pytest.fixture
async def start_hotline(
    asterisk: AsteriskStack,
    ari: AriClient,
    app_name: str,
    redis_url: str,
    tmp_path: Path,
    open_event_log: OpenEventLog,
) -> AsyncIterator[StartHotline]:
    tasks: list[asyncio.Task[None]] = []

    async def start(
        now: datetime,
        flows_dir: Path = Path("ivr_flows"),
        acd_file: Path = Path("config/acd.demo.toml"),
        ari_url: str | None = None,
        database_url: str | None = None,
        auto_login: bool = True,
    ) -> Hotline:
        """``ari_url``: where the service reaches ARI (a test's ``TcpProxy`` to cut it);
        ``database_url``: its store (``migrated_database``), by default a fresh SQLite file;
        ``auto_login``: the agents sign in by themselves (false: each through the API or its
        desktop)."""
        database_url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
        port = free_port()
        ari_update: dict[str, Any] = {"app": app_name}
        if ari_url is not None:
            ari_update["url"] = ari_url
        settings = asterisk.settings.model_copy(
            update={
                "ari": asterisk.settings.ari.model_copy(update=ari_update),
                "redis": RedisSettings(url=redis_url, outbox_stream=f"test:{app_name}:events"),
                "database": DatabaseSettings(url=database_url),
                "ivr": IvrSettings(flows_dir=flows_dir),
                # its own web port: a `make run` or another suite's service may hold 8080; no demo
                # users (each costs an argon2 hash; tests that sign in make their own)
                "web": asterisk.settings.web.model_copy(update={"port": port, "demo_users": False}),
                "sounds": FAST_SPEECH,
                # dials at any hour: the tests run at any time of day (the hours' own tests set theirs)
                "outbound": asterisk.settings.outbound.model_copy(update={"calling_hours": "00:00-24:00"}),
                "acd": asterisk.settings.acd.model_copy(
                    update={
                        "config_file": acd_file,
                        "auto_login": auto_login,
                        "redis_prefix": f"test:{app_name}:acd",
                    }
                ),
            }
        )
        driver = f"{app_name}-driver"
        await open_event_log(EventStream(ari, driver))
        tasks.append(asyncio.create_task(run_service(settings, clock=lambda: now)))
        await until_serving(ari, app_name, tasks[-1])
        return Hotline(ari, app_name, driver, database_url, f"http://127.0.0.1:{port}")

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if tasks:  # the service's keys: outbox, ACD state, push topics, journeys, sign-in throttle
        await _forget(connect_redis(redis_url), f"test:{app_name}")


# The service as its own processes (kill -9, SIGTERM, a second instance): fixtures shared by
# the fault and sweeper tests.
# The agent desktop's push channel beside a test's ACD (tests.integration.desk).
from tests.integration.desk import connect, start_desk  # noqa: E402, F401
from tests.integration.processes import hotline_of, service_processes, straight_flows  # noqa: E402, F401
