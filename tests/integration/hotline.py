"""The whole service on the real Asterisk, called through the hotline and driven key by key.

The ``start_hotline`` fixture (conftest.py) runs ``run_service`` on the test's own Stasis app,
outbox stream, SQLite store and ACD keys, with the clock the test chooses (open hours, after
hours) and prompts spoken fast. A caller dials the hotline 4000 like anyone; its far half sits
in a driver Stasis app, so the test keys each digit when the IVR has asked for it. Where a
caller is, and what happened to it, is read back from the store the service drains into."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from cti.ari import AriClient
from cti.errors import AriNotFound
from cti.events import CallEvent, EventKind
from cti.settings import SoundsSettings
from cti.sim import place_simulated_call
from cti.store import events_between, make_engine
from tests.conftest import eventually

#: Real prompts, spoken fast: the journeys are the same and the tests take half the time.
FAST_SPEECH = SoundsSettings(rates={"zh": 450, "en": 400})


@dataclass
class Caller:
    id: str

    @property
    def far(self) -> str:
        return f"{self.id}-far"


@dataclass
class Hotline:
    """The running service, and what a test needs to call it and read what it recorded."""

    ari: AriClient
    app: str
    driver: str
    database_url: str
    #: The service's web site (``http://127.0.0.1:<port>``), where it serves one in-process.
    web: str = ""

    async def call(self, caller_number: str = "13800138000") -> Caller:
        channel = await place_simulated_call(
            self.ari,
            caller_number=caller_number,
            variables={"CTI_APP": self.app},
            driver_app=self.driver,
        )
        return Caller(channel.id)

    async def events(self, caller: Caller) -> list[CallEvent]:
        engine = make_engine(self.database_url)
        try:
            found = [e for e in await events_between(engine, None, None) if e.call_id == caller.id]
        finally:
            await engine.dispose()
        return sorted(found, key=lambda e: e.at)

    async def wait_for(
        self, caller: Caller, predicate: Callable[[list[CallEvent]], bool], within_s: float = 30
    ) -> list[CallEvent]:
        return await eventually(
            lambda: self.events(caller),
            predicate,
            within_s=within_s,
            what=lambda events: f"journey so far: {journey(events)}",
        )

    async def reach(self, caller: Caller, node: str, times: int = 1, within_s: float = 30) -> None:
        """Wait until the caller has entered ``node`` ``times`` times (its prompt is playing)."""
        await self.wait_for(caller, lambda ev: entered(ev).count(node) >= times, within_s)

    async def press(self, caller: Caller, digits: str) -> None:
        await self.ari.send_dtmf(caller.far, digits, duration_ms=100)

    async def until_queued(self, caller: Caller) -> list[CallEvent]:
        queued = await self.wait_for(
            caller, lambda ev: any(e.kind is EventKind.QUEUE_ENTERED for e in ev), within_s=60
        )
        return queued

    async def until_ended(self, caller: Caller, within_s: float = 30) -> list[CallEvent]:
        return await self.wait_for(
            caller, lambda ev: any(e.kind is EventKind.CALL_ENDED for e in ev), within_s
        )


def entered(events: list[CallEvent]) -> list[str]:
    return [e.data["node"] for e in events if e.kind is EventKind.IVR_NODE_ENTERED]


def journey(events: list[CallEvent]) -> list[str]:
    """The IVR journey as ``node`` and ``node:key`` steps, in order."""
    steps = []
    for event in events:
        if event.kind is EventKind.IVR_NODE_ENTERED:
            steps.append(event.data["node"])
        elif event.kind is EventKind.IVR_KEY_PRESSED:
            steps.append(f"{event.data['node']}:{event.data['key']}")
    return steps


def queued(events: list[CallEvent]) -> tuple[str | None, int]:
    entry = next(e for e in events if e.kind is EventKind.QUEUE_ENTERED)
    return entry.queue, int(entry.data["priority"])


async def fallback_of(ari: AriClient, caller_id: str) -> str:
    """Why the hotline's dialplan took the caller back (``CTI_FALLBACK``), once it has."""

    async def reason() -> str:
        with contextlib.suppress(AriNotFound):  # ARI answers 404 for a variable not set yet
            return await ari.get_variable(caller_id, "CTI_FALLBACK")
        return ""

    return await eventually(reason, what="the dialplan fallback taking the caller")


async def until_serving(ari: AriClient, app: str, service: asyncio.Task[None]) -> None:
    """Wait until the service's websocket is up (Asterisk lists the app), or it died trying."""

    async def connected() -> bool:
        if service.done():
            service.result()  # raises what stopped it
        with contextlib.suppress(AriNotFound):
            await ari.get_application(app)
            return True
        return False

    await eventually(connected, every_s=0.05, what=f"the service connecting its app {app}")
