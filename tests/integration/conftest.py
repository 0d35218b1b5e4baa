"""Fixtures for the real stack: the project's Asterisk, Redis and the SQL database.

The Asterisk fixture runs ``scripts/asterisk.sh up`` (idempotent: seconds when already up).
``make test`` has already started everything; a service that is still unreachable fails
the run under CI=true and skips it elsewhere (``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from cti.ari import AriClient, Event, EventStream, Resynced
from cti.settings import Settings, load_settings
from tests.conftest import service_missing

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


@pytest.fixture(scope="session")
def asterisk(settings: Settings) -> AsteriskStack:
    done = subprocess.run(
        [str(ASTERISK_SCRIPT), "up"], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        service_missing(f"the project's Asterisk did not come up: {done.stderr.strip()[-800:]}")
    root = subprocess.run([str(ASTERISK_SCRIPT), "root"], capture_output=True, text=True, check=True)
    return AsteriskStack(settings, Path(root.stdout.strip()))


@pytest.fixture
async def ari(asterisk: AsteriskStack) -> AsyncIterator[AriClient]:
    ari = asterisk.settings.ari
    async with AriClient(ari.url, ari.username, ari.password.get_secret_value()) as client:
        yield client


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
def redis_url(settings: Settings) -> str:
    url = os.environ.get("CTI_TEST_REDIS_URL", settings.redis.url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {url} is not reachable: {exc}")
    return url


def _database_params() -> list[str]:
    return (
        ["sqlite", "postgresql"]
        if os.environ.get("CTI_TEST_DATABASE_URL") or os.environ.get("CI")
        else ["sqlite"]
    )


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
