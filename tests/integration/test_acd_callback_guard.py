"""Queue callbacks through the dial guard on the real Asterisk: a number that may not be called
books nothing and the caller keeps waiting; a booked callback the guard refuses later leaves the
line without ringing anyone, or, refused at the dial itself, ends and frees its agent."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cti.acd.announcements import position_announcement
from cti.ari import AriClient, EventStream
from cti.ari.events import PlaybackStarted
from cti.events import CallEvent, EventKind
from cti.outbound.dnc import add_numbers
from cti.sim import place_simulated_call, set_agent_timing
from cti.store import insert_events, make_engine, schema
from cti.store.acd_history import recall_acd
from cti.tts import PromptRenderer
from tests.integration.conftest import Acd, MakeAcd, OpenEventLog
from tests.integration.hotline import FAST_SPEECH
from tests.integration.test_acd_callbacks import busy_agent, first, of, sales


def a_mobile() -> str:
    """A number of this test's own (the guard's counts and do-not-call list outlive a test)."""
    return f"1390{uuid.uuid4().int % 10**7:07d}"


def refused(events: list[CallEvent], call_id: str) -> list[str]:
    return [e.data["rule"] for e in events if e.call_id == call_id and e.kind is EventKind.DIAL_REFUSED]


async def callback(acd: Acd, number: str, delay_s: float = 1) -> str:
    caller = await place_simulated_call(
        acd.ari, app=acd.app, app_args="caller,sales", caller_number=number, digits="1", delay_s=delay_s
    )
    return caller.id


async def test_a_caller_whose_number_could_never_be_called_back_is_offered_no_callback(
    make_acd: MakeAcd, open_event_log: OpenEventLog, ari: AriClient
) -> None:
    renderer = PromptRenderer.from_settings(FAST_SPEECH)
    acd = await make_acd(
        (sales(announce_every_s=1, callback_key="1"),), ["1201"], login=False, prompts=renderer
    )
    observer = f"observer-{uuid.uuid4().hex[:8]}"
    log = await open_event_log(EventStream(ari, observer))
    caller = await place_simulated_call(
        ari, app=acd.app, app_args="caller,sales", caller_number="+12125551234", hold_s=15
    )
    await ari.subscribe(observer, f"channel:{caller.id}")
    started = await log.wait_for(
        lambda e: isinstance(e, PlaybackStarted) and e.playback.id.startswith("acd-say-"), within_s=10
    )
    assert isinstance(started, PlaybackStarted)
    spoken = renderer.path_for(position_announcement(1, 0.0, "zh", None), "zh")  # no "press 1"
    assert started.playback.media_uri == f"sound:{spoken.with_suffix('')}"
    await ari.hangup(caller.id)


@pytest.mark.parametrize(
    ("number", "rule"),
    [("110", "emergency"), ("+12125551234", "international"), ("4008123123", "premium")],
)
async def test_a_caller_whose_number_may_not_be_called_books_nothing_and_keeps_waiting(
    make_acd: MakeAcd, number: str, rule: str
) -> None:
    acd = await make_acd((sales(callback_key="1"),), ["1201"])
    talking = await busy_agent(acd)
    caller = await callback(acd, number)
    events = await acd.wait_for(lambda ev: bool(refused(ev, caller)))
    assert refused(events, caller) == [rule]
    assert EventKind.CALLBACK_REQUESTED.value not in of(events, caller)
    assert caller in acd.router.calls  # still in line, keeping its place
    await acd.ari.hangup(talking)  # the agent frees up: the caller is answered as any other
    events = await acd.wait_for(lambda ev: EventKind.AGENT_ANSWERED.value in of(ev, caller), within_s=20)
    assert EventKind.DIAL_STARTED.value not in of(events, caller)
    await acd.ari.hangup(caller)


async def test_a_callback_put_on_the_do_not_call_list_meanwhile_leaves_the_line_unrung(
    make_acd: MakeAcd, tmp_path: Path
) -> None:
    acd = await make_acd((sales(callback_key="1"),), ["1201"])
    talking = await busy_agent(acd)
    number = a_mobile()
    leaving = await callback(acd, number)
    events = await acd.wait_for(lambda ev: EventKind.CALLBACK_REQUESTED.value in of(ev, leaving))
    lead_id = first(events, leaving, EventKind.LEAD_CREATED).lead_id
    staying = await acd.call(hold_s=60)  # behind the callback
    await acd.wait_for(lambda ev: EventKind.QUEUE_ENTERED.value in of(ev, staying))
    await add_numbers(acd.guard.engine, [f"+86{number}"], source="api", now=datetime.now(UTC))

    await acd.ari.hangup(talking)  # the callback is at the front: refused, the next caller served
    events = await acd.wait_for(lambda ev: EventKind.AGENT_ANSWERED.value in of(ev, staying), within_s=20)
    assert of(events, leaving) == [
        "queue_entered",
        "callback_requested",
        "lead_created",
        "dial_refused",
    ]
    event = first(events, leaving, EventKind.DIAL_REFUSED)
    assert (event.lead_id, event.data["rule"], event.data["reason"]) == (
        lead_id,
        "dnc",
        "on the do-not-call list",
    )
    assert await acd.state.callbacks(time.time(), 120) == []  # out of line for good
    await acd.ari.hangup(staying)
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"  # and not back after a Redis loss
    schema.upgrade(url)
    engine = make_engine(url)
    await insert_events(engine, await acd.recorded())
    assert (await recall_acd(engine)).callbacks == ()
    await engine.dispose()


async def test_a_callback_over_the_limits_at_the_dial_ends_and_frees_its_agent(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(callback_key="1", wrapup_s=1),), ["1201"])
    talking = await busy_agent(acd)
    number = a_mobile()
    leaving = await callback(acd, number)
    await acd.wait_for(lambda ev: EventKind.CALLBACK_REQUESTED.value in of(ev, leaving))
    await set_agent_timing(acd.ari, "1201", ring_s=3, talk_s=120)  # room to fill the counts meanwhile
    await acd.ari.hangup(talking)
    await acd.wait_for(lambda ev: EventKind.AGENT_OFFERED.value in of(ev, leaving), within_s=20)
    for _ in range(3):  # another instance's dialler calls the number while the agent's phone rings
        assert (
            await acd.guard.attempts.take(f"+86{number}", datetime.now(UTC), max_24h=5, max_5min=3)
        ).counted

    events = await acd.wait_for(lambda ev: EventKind.COMPLETED.value in of(ev, leaving), within_s=20)
    assert refused(events, leaving) == ["rate_5min"]
    assert first(events, leaving, EventKind.COMPLETED).data["by"] == "dial_refused"
    assert EventKind.DIAL_STARTED.value not in of(events, leaving)  # the customer was never dialled
    assert f"{leaving}-cb" not in {channel.id for channel in await acd.ari.list_channels()}
    await acd.wait_for(  # the agent is back to work after the wrap-up
        lambda ev: any(e.kind is EventKind.WRAPUP_ENDED and e.call_id == leaving for e in ev), within_s=20
    )
