"""Campaigns in the real store (SQLite, and PostgreSQL when CTI_TEST_DATABASE_URL names one):
create, update, list, status changes with stopped final, and progress from the campaign's
lines, dial attempts and its leads' disposition and appointment events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind, to_us
from cti.outbound.campaign_checks import new_campaign, updated_campaign
from cti.outbound.campaign_store import CampaignExists, CampaignNotFound, CampaignStore, Progress
from cti.outbound.campaigns import CampaignStatus, CenterLimits, StatusRefused
from cti.settings import OutboundSettings
from cti.store.events import insert_events
from cti.store.models import DialAttemptRow, LeadRow

LIMITS = CenterLimits.of(OutboundSettings())
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
RIGHT_PARTY = {"resolved", "resolved_appointment", "follow_up_needed"}


def campaign(name: str = "renewals", **settings: Any) -> Any:
    fields = {
        "name": name,
        "title": "续保",
        "kind": "insurance_renewal",
        "queue": "sales",
        "settings": settings,
    }
    return new_campaign(fields, LIMITS)


def campaigns(store: AsyncEngine) -> CampaignStore:
    return CampaignStore(store, right_party_codes=RIGHT_PARTY, clock=lambda: NOW)


async def add_lines(store: AsyncEngine, name: str, statuses: list[str]) -> list[str]:
    ids = [f"{name}-{i}" for i in range(len(statuses))]
    rows = [
        {
            "lead_id": lead_id,
            "source": "list",
            "phone_number": f"+86138000000{i:02d}",
            "campaign": name,
            "created_at_us": to_us(NOW),
            "status": status,
            "data": {},
        }
        for i, (lead_id, status) in enumerate(zip(ids, statuses, strict=True))
    ]
    async with store.begin() as connection:
        await connection.execute(insert(LeadRow), rows)
    return ids


async def add_attempts(store: AsyncEngine, name: str, attempts: list[tuple[str, str]]) -> None:
    rows = [
        {
            "lead_id": lead,
            "call_id": f"{name}-call-{i}",
            "started_at_us": to_us(NOW),
            "result": result,
            "campaign": name,
        }
        for i, (lead, result) in enumerate(attempts)
    ]
    async with store.begin() as connection:
        await connection.execute(insert(DialAttemptRow), rows)


async def test_a_campaign_is_created_read_listed_and_updated(store: AsyncEngine) -> None:
    kept = campaigns(store)
    first = await kept.create(campaign("renewals", calling_hours="09:00-20:00"), by="zhao.lei")
    assert await kept.get("renewals") == first
    assert await kept.get("nope") is None
    with pytest.raises(CampaignExists, match="'renewals' exists already"):
        await kept.create(campaign("renewals"), by="zhao.lei")
    await kept.create(campaign("surveys"), by="zhao.lei")
    assert {c.name for c in await kept.all()} == {"renewals", "surveys"}
    changed = updated_campaign(first, {"title": "续保 12 月", "settings": {"max_attempts": 3}}, LIMITS)
    assert await kept.update(changed, by="zhao.lei") == changed
    assert (await kept.require("renewals")).settings.max_attempts == 3
    with pytest.raises(CampaignNotFound, match="no campaign 'nope'"):
        await kept.require("nope")


async def test_status_changes_are_checked_and_stopping_stops_the_waiting_lines(store: AsyncEngine) -> None:
    kept = campaigns(store)
    await kept.create(campaign("renewals"), by="zhao.lei")
    await kept.create(campaign("surveys"), by="zhao.lei")
    with pytest.raises(StatusRefused, match="is draft: it cannot be paused"):
        await kept.set_status("renewals", "paused", by="zhao.lei")
    assert (await kept.set_status("renewals", "running", by="zhao.lei")).status == CampaignStatus.RUNNING
    assert [c.name for c in await kept.running()] == ["renewals"]
    await kept.set_status("renewals", CampaignStatus.PAUSED, by="zhao.lei")
    assert await kept.running() == []
    await kept.set_status("renewals", "running", by="zhao.lei")
    ids = await add_lines(store, "renewals", ["new", "retry", "dialing", "done", "contacted"])
    await kept.set_status("renewals", "stopped", by="zhao.lei")
    async with store.connect() as connection:
        rows = await connection.execute(select(LeadRow.lead_id, LeadRow.status).order_by(LeadRow.lead_id))
        assert dict(rows.all()) == dict(
            zip(ids, ["stopped", "stopped", "dialing", "done", "contacted"], strict=True)
        )
    with pytest.raises(StatusRefused, match="stopped, which is final"):
        await kept.set_status("renewals", "running", by="zhao.lei")
    with pytest.raises(StatusRefused, match="final"):
        await kept.update(updated_campaign(campaign("renewals"), {"title": "x"}, LIMITS), by="zhao.lei")
    with pytest.raises(CampaignNotFound):
        await kept.set_status("nope", "running", by="zhao.lei")


async def test_a_campaign_whose_schedule_ended_is_not_started(store: AsyncEngine) -> None:
    kept = campaigns(store)
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    await kept.create(campaign("late", schedule={"end_on": yesterday}), by="zhao.lei")
    with pytest.raises(StatusRefused, match=f"schedule ended on {yesterday}"):
        await kept.set_status("late", "running", by="zhao.lei")


async def test_progress_counts_lines_attempts_contacts_right_parties_appointments_and_abandons(
    store: AsyncEngine,
) -> None:
    kept = campaigns(store)
    await kept.create(campaign("renewals"), by="zhao.lei")
    await kept.create(campaign("other"), by="zhao.lei")
    a, b, c, d, _ = await add_lines(
        store, "renewals", ["contacted", "contacted", "retry", "exhausted", "new"]
    )
    (other,) = await add_lines(store, "other", ["contacted"])
    await add_attempts(
        store,
        "renewals",
        [(a, "no_answer"), (a, "answered"), (b, "abandoned"), (b, "answered"), (c, "busy"), (d, "machine")],
    )
    await add_attempts(store, "other", [(other, "abandoned")])

    def event(kind: EventKind, lead: str, **data: Any) -> CallEvent:
        return CallEvent(kind, NOW, f"call-{lead}", lead_id=lead, data=data)

    await insert_events(
        store,
        [
            event(EventKind.DISPOSITION, a, code="resolved_appointment", resolved=True),
            event(EventKind.APPOINTMENT_BOOKED, a),
            event(EventKind.DISPOSITION, b, code="wrong_number", resolved=False),
            event(EventKind.DISPOSITION, other, code="resolved", resolved=True),
            event(EventKind.APPOINTMENT_BOOKED, other),
        ],
    )
    progress = await kept.progress("renewals")
    assert progress == Progress(
        lines=5,
        by_status={"contacted": 2, "retry": 1, "exhausted": 1, "new": 1},
        attempts=6,
        answered=3,
        contacted=2,
        right_party=1,
        appointments=1,
        abandoned=1,
    )
    assert progress.abandon_rate == pytest.approx(1 / 3)
    assert progress.to_json()["abandon_rate"] == pytest.approx(1 / 3)
    unknown_codes = await CampaignStore(store).progress("renewals")
    assert unknown_codes.right_party is None
    with pytest.raises(CampaignNotFound):
        await kept.progress("nope")


async def test_progress_of_a_new_campaign_has_no_abandon_rate(store: AsyncEngine) -> None:
    kept = campaigns(store)
    await kept.create(campaign("empty"), by="zhao.lei")
    progress = await kept.progress("empty")
    assert (progress.lines, progress.attempts, progress.contacted, progress.abandon_rate) == (0, 0, 0, None)
