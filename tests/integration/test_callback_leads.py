"""Callback requests become leads, on the real Asterisk, Redis and SQL: an after-hours IVR caller's
request is a lead of source ``ivr_callback`` in the hopper, due when the center opens; a queue
callback the customer did not answer is a lead of source ``queue_callback`` under the lead id its
booking recorded, dialled again later."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import Command, Strategy
from cti.events import EventKind
from cti.live import EventOutbox, connect_redis
from cti.outbound.hopper import Hopper
from cti.outbound.intake import LeadIntake
from cti.outbound.lead_store import LeadStore
from cti.outbound.leads import Lead, LeadRules, LeadStatus
from cti.outbound.numbers import NumberPolicy
from cti.sim import place_simulated_call, set_agent_timing
from cti.store import make_engine
from tests.conftest import eventually
from tests.integration.conftest import MakeAcd, StartHotline
from tests.integration.conftest import sales as sales_queue
from tests.integration.hotline import Hotline

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOSED = datetime(2026, 11, 25, 22, 0, tzinfo=SHANGHAI)  # a Wednesday night
OPENS = datetime(2026, 11, 26, 8, 30, tzinfo=SHANGHAI)  # Thursday morning (the flow's hours)
RULES = LeadRules(NumberPolicy(), 60.0, SHANGHAI)


async def serving(start_hotline: StartHotline, caplog: pytest.LogCaptureFixture) -> Hotline:
    """The hotline after hours, once it has taken stock of Asterisk's channels (its first resync):
    a call placed before that may be handed to the dialplan as one nobody owns."""
    caplog.set_level(logging.INFO, logger="cti.calls.tracker")
    hotline = await start_hotline(CLOSED)
    await eventually(lambda: "resynced" in caplog.messages, what="the service's first resync")
    return hotline


async def stored_lead(engine: AsyncEngine, lead_id: str) -> Lead:
    """The lead, once its background task stored it."""
    found = await eventually(
        lambda: LeadStore(engine).get(lead_id), lambda lead: lead is not None, within_s=15
    )
    assert found is not None
    return found


async def test_an_after_hours_callback_request_is_a_lead_due_when_the_center_opens(
    start_hotline: StartHotline, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    hotline = await serving(start_hotline, caplog)
    caller = await hotline.call("13800138000")
    await hotline.reach(caller, "closed_menu")
    await hotline.press(caller, "2")
    events = await hotline.until_ended(caller)
    created = next(e for e in events if e.kind is EventKind.LEAD_CREATED)
    assert created.lead_id is not None
    deadline_s = (OPENS - CLOSED).total_seconds() + 60  # a minute after the opening
    assert (created.data["source"], created.data["deadline_s"]) == ("ivr_callback", deadline_s)
    assert created.data["due_at"] == OPENS.isoformat()
    engine = make_engine(hotline.database_url)
    try:
        lead = await stored_lead(engine, created.lead_id)
    finally:
        await engine.dispose()
    assert (lead.source, lead.phone_number, lead.status) == ("ivr_callback", "+8613800138000", LeadStatus.NEW)
    assert (lead.next_attempt_at, lead.deadline_at) == (OPENS, OPENS + timedelta(seconds=60))
    assert (lead.data["queue"], lead.data["call_id"]) == ("service", caller.id)
    redis = connect_redis(redis_url)
    hopper = Hopper(redis, f"test:{hotline.app}:acd:hopper", "test")
    try:
        assert await hopper.take(1, OPENS.timestamp() - 1) == []  # not before the center opens
        assert await hopper.take(1, OPENS.timestamp()) == [lead.lead_id]
    finally:
        await redis.aclose()


async def test_a_callback_request_from_a_number_that_cannot_be_dialled_is_refused_not_stored(
    start_hotline: StartHotline, caplog: pytest.LogCaptureFixture
) -> None:
    hotline = await serving(start_hotline, caplog)
    caller = await hotline.call("110")
    await hotline.reach(caller, "closed_menu")
    await hotline.press(caller, "2")
    both = {EventKind.LEAD_CREATED, EventKind.DIAL_REFUSED}  # recorded apart: either may come first
    events = await hotline.wait_for(caller, lambda ev: both <= {e.kind for e in ev})
    created = next(e for e in events if e.kind is EventKind.LEAD_CREATED)
    refused = next(e for e in events if e.kind is EventKind.DIAL_REFUSED)
    assert (created.data["refused"], refused.data["rule"], refused.lead_id) == (
        "emergency",
        "emergency",
        created.lead_id,
    )
    engine = make_engine(hotline.database_url)
    try:
        assert await LeadStore(engine).find() == []
    finally:
        await engine.dispose()


@pytest.fixture
async def intake(store: AsyncEngine, redis_url: str) -> AsyncIterator[LeadIntake]:
    prefix = f"test:callback-leads:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    made = LeadIntake(
        LeadStore(store), Hopper(redis, f"{prefix}:hopper"), EventOutbox(redis, f"{prefix}:events"), RULES
    )
    yield made
    await made.aclose()
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_a_queue_callback_the_customer_does_not_answer_becomes_a_lead_dialled_again_later(
    make_acd: MakeAcd, intake: LeadIntake
) -> None:
    number = f"1390{uuid.uuid4().int % 10**7:07d}"  # its own ring time (a global): nobody else's customer
    acd = await make_acd(
        (sales_queue(strategy=Strategy.LINEAR, ring_timeout_s=5, callback_key="1"),),
        ["1291"],
        login=False,
        acd_options={"callback_ring_s": 5},
    )
    acd.router.callbacks.unserved = intake  # as cti.app wires it (QueueRouter(unserved_callbacks=...))
    await set_agent_timing(acd.ari, "1291", ring_s=0, talk_s=120)
    await set_agent_timing(acd.ari, number, ring_s=60)  # the customer would answer after a minute
    caller = await place_simulated_call(
        acd.ari, app=acd.app, app_args="caller,sales", caller_number=number, digits="1", hold_s=30
    )
    booked = await acd.wait_for(lambda ev: any(e.kind is EventKind.LEAD_CREATED for e in ev))
    lead_id = next(e.lead_id for e in booked if e.kind is EventKind.LEAD_CREATED and e.call_id == caller.id)
    assert lead_id is not None
    await acd.state.transition("1291", Command.LOGIN, time.time())  # an agent for the callback
    before = datetime.now(UTC)
    events = await acd.wait_for(
        lambda ev: any(e.kind is EventKind.COMPLETED and e.call_id == caller.id for e in ev), within_s=30
    )
    assert next(e for e in events if e.kind is EventKind.COMPLETED).data["by"] == "customer_no_answer"
    lead = await stored_lead(intake.store.engine, lead_id)
    assert (lead.source, lead.phone_number, lead.status) == ("queue_callback", f"+86{number}", LeadStatus.NEW)
    assert (lead.data["queue"], lead.data["call_id"], lead.data["reason"]) == (
        "sales",
        caller.id,
        "customer_no_answer",
    )
    assert lead.next_attempt_at is not None
    assert lead.next_attempt_at >= before + timedelta(seconds=intake.callback_retry_s)
    assert await intake.hopper.holds(lead_id)
    assert [e.kind for e in events if e.lead_id == lead_id].count(
        EventKind.LEAD_CREATED
    ) == 1  # the booking's
