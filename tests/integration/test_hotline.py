"""The hotline's dialplan and the service on the real Asterisk.

The dialplan sends hotline calls to the Stasis app named by CTI_APP; these tests set it on
their own caller's channel (it wins over the global), so nothing shared is changed.
"""

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cti.app import run_service
from cti.ari import AriClient, EventStream
from cti.ari.events import StasisStart
from cti.events import EventKind
from cti.settings import DatabaseSettings, RedisSettings, Settings
from cti.sim import place_simulated_call
from cti.store import events_between, make_engine
from tests.conftest import eventually
from tests.integration.conftest import AsteriskStack, OpenEventLog
from tests.integration.hotline import fallback_of


def to_app(app: str) -> dict[str, str]:
    return {"CTI_APP": app}


@pytest.fixture
def service_settings(asterisk: AsteriskStack, app_name: str, redis_url: str, tmp_path: Path) -> Settings:
    """The service on its own Stasis app, outbox stream and SQLite store."""
    return asterisk.settings.model_copy(
        update={
            "ari": asterisk.settings.ari.model_copy(update={"app": app_name}),
            "redis": RedisSettings(url=redis_url, outbox_stream=f"test:{app_name}:events"),
            "database": DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"),
            "acd": asterisk.settings.acd.model_copy(update={"redis_prefix": f"test:{app_name}:acd"}),
        }
    )


async def test_hotline_call_enters_our_stasis_app_with_caller_id(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    events = await open_event_log(EventStream(ari, app_name))
    caller = await place_simulated_call(
        ari, caller_number="13912345678", hold_s=10, variables=to_app(app_name)
    )
    start = await events.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id)
    assert isinstance(start, StasisStart)
    assert start.args == ("hotline",)
    assert start.channel.dialplan.exten == "4000"
    assert start.channel.caller.number == "13912345678"
    await ari.hangup(caller.id)


async def test_when_the_app_is_down_the_caller_gets_the_apology_and_fallback_queue(
    ari: AriClient, app_name: str
) -> None:
    # No websocket is open for app_name, so Stasis() fails at once.
    caller = await place_simulated_call(ari, hold_s=20, variables=to_app(app_name))
    try:
        assert await fallback_of(ari, caller.id) == "app-down"
        assert await ari.get_variable(caller.id, "STASISSTATUS") == "FAILED"
    finally:
        await ari.hangup(caller.id)


async def test_service_follows_a_hotline_call_from_stasis_start_to_hang_up(
    service_settings: Settings, ari: AriClient, app_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    open_hours = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday
    service = asyncio.create_task(run_service(service_settings, clock=lambda: open_hours))
    try:
        await eventually(lambda: "ARI events connected" in caplog.text, what="the service connected")
        # Key 1 six seconds in: after the welcome (about 3 s), while the main menu plays.
        caller = await place_simulated_call(
            ari, digits="w" * 12 + "1", delay_s=0.5, hold_s=8, variables=to_app(app_name)
        )
        await eventually(
            lambda: any(r.getMessage().startswith("call ended") for r in caplog.records),
            what="the call ended",
        )
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    messages = [r.getMessage() for r in caplog.records if getattr(r, "channel", None) == caller.id]
    assert messages[0] == "call entered from 13800138000"
    assert "caller pressed 1" in messages
    assert "ivr: to queue sales" in messages
    assert messages[-1] == "call ended (StasisEnd)"

    engine = make_engine(service_settings.database.url)  # the outbox was drained into the store
    stored = [e for e in await events_between(engine, None, None) if e.call_id == caller.id]
    await engine.dispose()
    stored.sort(key=lambda e: e.at)
    kinds = [e.kind for e in stored]
    assert (kinds[0], kinds[-1]) == (EventKind.CALL_STARTED, EventKind.CALL_ENDED)
    assert kinds.index(EventKind.IVR_KEY_PRESSED) < kinds.index(EventKind.QUEUE_ENTERED)  # the IVR's choice
    assert EventKind.AGENT_ANSWERED in kinds  # a demo agent took it
    assert stored[0].caller_number == "13800138000"
    assert stored[0].data["direction"] == "inbound"


async def test_a_call_left_in_our_app_by_a_previous_instance_goes_to_the_fallback(
    service_settings: Settings, ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    previous = await open_event_log(EventStream(ari, app_name))
    caller = await place_simulated_call(ari, hold_s=30, app=app_name)
    await previous.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id)
    await previous.close()  # that instance dies; the caller stays in the app, in silence

    service = asyncio.create_task(run_service(service_settings))
    try:
        assert await fallback_of(ari, caller.id) == "handed-back"
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
        await ari.hangup(caller.id)
