"""The campaign model (cti.outbound.campaigns): every field checked with a message naming it,
the center's limits never widened, and the status transitions."""

import re
from datetime import date, time, timedelta
from typing import Any

import pytest

from cti.outbound.campaign_checks import CampaignInvalid, campaign_from_row, new_campaign, updated_campaign
from cti.outbound.campaigns import (
    DEFAULT_RETRIES,
    CallingHours,
    Campaign,
    CampaignKind,
    CampaignSettings,
    CampaignStatus,
    CenterLimits,
    DialMode,
    RetryRule,
    Schedule,
    StatusRefused,
    change_status,
)
from cti.settings import OutboundSettings

LIMITS = CenterLimits.of(OutboundSettings())
TODAY = date(2026, 12, 7)  # a Monday
GOOD: dict[str, Any] = {
    "name": "renewals-2026-12",
    "title": "续保 2026 年 12 月",
    "kind": "insurance_renewal",
    "queue": "sales",
    "dial_mode": "predictive",
}


def test_a_campaign_with_the_least_fields_is_a_draft_with_the_defaults() -> None:
    campaign = new_campaign({k: v for k, v in GOOD.items() if k != "dial_mode"}, LIMITS)
    assert campaign == Campaign(
        "renewals-2026-12",
        "续保 2026 年 12 月",
        CampaignKind.INSURANCE_RENEWAL,
        "sales",
        DialMode.PROGRESSIVE,
        CampaignStatus.DRAFT,
        CampaignSettings(),
    )
    settings = campaign.settings
    assert settings.retries == DEFAULT_RETRIES
    assert (settings.max_attempts, settings.skip_called_within_days) == (5, 3)
    assert (settings.calling_hours, settings.abandon_cap) == (None, None)
    assert settings.retry_rule("busy") == RetryRule(600, 3)
    assert settings.retry_rule("answered") is None


def test_every_setting_round_trips_through_its_json() -> None:
    settings = {
        "calling_hours": "09:30-20:00",
        "retries": {"busy": {"after_s": 120, "max_attempts": 5}, "machine": None},
        "max_attempts": 7,
        "abandon_cap": 0.02,
        "skip_called_within_days": 14,
        "schedule": {"start_on": "2026-12-01", "end_on": "2026-12-31", "weekdays": [1, 2, 3, 4, 5]},
    }
    campaign = new_campaign({**GOOD, "settings": settings}, LIMITS)
    got = campaign.settings
    assert got.calling_hours == CallingHours(time(9, 30), time(20, 0))
    assert got.retries == {
        "busy": RetryRule(120, 5),
        "no_answer": DEFAULT_RETRIES["no_answer"],
        "failed": DEFAULT_RETRIES["failed"],
    }
    assert got.schedule == Schedule(date(2026, 12, 1), date(2026, 12, 31), frozenset({1, 2, 3, 4, 5}))
    assert (got.max_attempts, got.abandon_cap, got.skip_called_within_days) == (7, 0.02, 14)
    again = new_campaign({**GOOD, "settings": got.to_json()}, LIMITS)
    assert again == campaign
    row = campaign.to_json()
    assert (
        campaign_from_row(**{k: row[k] for k in row if k != "settings"}, settings=row["settings"]) == campaign
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "Renewals"}, "name", "a-z, 0-9"),
        ({"name": "-x"}, "name", "starting with a letter or digit"),
        ({"name": "x" * 65}, "name", "at most 64"),
        ({"name": 7}, "name", "required"),
        ({"title": " "}, "title", "required"),
        ({"title": "t" * 201}, "title", "at most 200"),
        ({"kind": "cold_calls"}, "kind", "not one of follow_up_service"),
        ({"queue": None}, "queue", "required"),
        ({"dial_mode": "blaster"}, "dial_mode", "not one of preview, progressive, predictive"),
        ({"colour": "red"}, "colour", "not a field of a campaign"),
        ({"settings": []}, "settings", "must be an object"),
        ({"settings": {"speed": 1}}, "settings.speed", "not a setting"),
        ({"settings": {"calling_hours": "07:00-21:00"}}, "settings.calling_hours", "wider than the center's"),
        ({"settings": {"calling_hours": "08:00-21:30"}}, "settings.calling_hours", "wider than the center's"),
        ({"settings": {"calling_hours": "9-17"}}, "settings.calling_hours", "such as 08:00-21:00"),
        ({"settings": {"calling_hours": "10:00-09:00"}}, "settings.calling_hours", "ends before it starts"),
        ({"settings": {"calling_hours": "10:00-24:00"}}, "settings.calling_hours", "times of day"),
        ({"settings": {"calling_hours": 9}}, "settings.calling_hours", "such as 09:00-20:00"),
        ({"settings": {"abandon_cap": 0.05}}, "settings.abandon_cap", "above the center's cap 0.03"),
        ({"settings": {"abandon_cap": 0}}, "settings.abandon_cap", "between 0 and 1"),
        ({"settings": {"abandon_cap": True}}, "settings.abandon_cap", "between 0 and 1"),
        ({"settings": {"max_attempts": 0}}, "settings.max_attempts", "from 1 to 20"),
        ({"settings": {"max_attempts": 21}}, "settings.max_attempts", "from 1 to 20"),
        ({"settings": {"max_attempts": 2.5}}, "settings.max_attempts", "whole number"),
        ({"settings": {"max_attempts": None}}, "settings.max_attempts", "whole number"),
        ({"settings": {"skip_called_within_days": -1}}, "settings.skip_called_within_days", "from 0 to 365"),
        ({"settings": {"retries": []}}, "settings.retries", "rules by result"),
        ({"settings": {"retries": {"answered": None}}}, "settings.retries.answered", "not a result"),
        ({"settings": {"retries": {"busy": 60}}}, "settings.retries.busy", '{"after_s": 600'),
        ({"settings": {"retries": {"busy": {"after_s": 60}}}}, "settings.retries.busy", '{"after_s": 600'),
        (
            {"settings": {"retries": {"busy": {"after_s": 5, "max_attempts": 1}}}},
            "settings.retries.busy.after_s",
            "from 60 to 2592000",
        ),
        (
            {"settings": {"retries": {"busy": {"after_s": 60, "max_attempts": 0}}}},
            "settings.retries.busy.max_attempts",
            "from 1 to 20",
        ),
        ({"settings": {"schedule": "weekdays"}}, "settings.schedule", "an object with"),
        ({"settings": {"schedule": {"from": 1}}}, "settings.schedule.from", "not a field of a schedule"),
        ({"settings": {"schedule": {"start_on": "1/12/2026"}}}, "settings.schedule.start_on", "such as"),
        ({"settings": {"schedule": {"end_on": 20261231}}}, "settings.schedule.end_on", "such as"),
        (
            {"settings": {"schedule": {"start_on": "2026-12-31", "end_on": "2026-12-01"}}},
            "settings.schedule.end_on",
            "before start_on 2026-12-31",
        ),
        ({"settings": {"schedule": {"weekdays": []}}}, "settings.schedule.weekdays", "non-empty list"),
        ({"settings": {"schedule": {"weekdays": [0, 1]}}}, "settings.schedule.weekdays", "1 Monday"),
        ({"settings": {"schedule": {"weekdays": [8]}}}, "settings.schedule.weekdays", "7 Sunday"),
    ],
)
def test_a_bad_field_is_refused_with_a_message_naming_it(
    change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(CampaignInvalid) as refused:
        new_campaign({**GOOD, **change}, LIMITS)
    assert set(refused.value.problems) == {field}
    assert message in refused.value.problems[field]
    assert field in str(refused.value)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(CampaignInvalid) as refused:
        new_campaign({"kind": "x", "settings": {"max_attempts": 0, "abandon_cap": 2}}, LIMITS)
    assert set(refused.value.problems) == {
        "name",
        "title",
        "kind",
        "queue",
        "settings.max_attempts",
        "settings.abandon_cap",
    }


def test_the_queue_is_one_of_the_acds_when_they_are_known() -> None:
    assert new_campaign(GOOD, LIMITS, queues={"sales", "service"}).queue == "sales"
    with pytest.raises(CampaignInvalid, match=r"queue: 'sales' is not a queue of the ACD \(service\)"):
        new_campaign(GOOD, LIMITS, queues={"service"})


def test_a_campaign_may_narrow_the_centers_limits() -> None:
    narrow = new_campaign({**GOOD, "settings": {"calling_hours": "08:00-21:00", "abandon_cap": 0.03}}, LIMITS)
    assert str(narrow.settings.calling_hours) == "08:00-21:00"
    strict = CenterLimits(CallingHours.parse("09:00-18:00"), 0.01)
    with pytest.raises(CampaignInvalid, match="wider than the center's 09:00-18:00"):
        new_campaign({**GOOD, "settings": {"calling_hours": "08:00-21:00"}}, strict)


@pytest.mark.parametrize(
    ("kind", "offset"),
    [
        ("follow_up_service", ("date", timedelta(days=3))),
        ("follow_up_delivery", ("date", timedelta(days=7))),
        ("first_maintenance", ("due", timedelta(days=-7))),
        ("periodic_maintenance", ("due", timedelta(days=-7))),
        ("insurance_renewal", ("due", timedelta(days=-30))),
        ("survey", None),
        ("leads", None),
    ],
)
def test_each_kind_says_when_a_line_is_due(kind: str, offset: tuple[str, timedelta] | None) -> None:
    assert CampaignKind(kind).due_offset == offset


@pytest.mark.parametrize(
    ("schedule", "day", "dials"),
    [
        (Schedule(), date(2026, 12, 6), True),
        (Schedule(weekdays=frozenset({1, 2, 3, 4, 5})), date(2026, 12, 6), False),  # a Sunday
        (Schedule(weekdays=frozenset({1, 2, 3, 4, 5})), date(2026, 12, 7), True),
        (Schedule(start_on=date(2026, 12, 8)), date(2026, 12, 7), False),
        (Schedule(start_on=date(2026, 12, 7)), date(2026, 12, 7), True),
        (Schedule(end_on=date(2026, 12, 7)), date(2026, 12, 7), True),
        (Schedule(end_on=date(2026, 12, 6)), date(2026, 12, 7), False),
    ],
)
def test_the_schedule_says_which_days_dial(schedule: Schedule, day: date, dials: bool) -> None:
    assert schedule.dials_on(day) is dials


DRAFT = new_campaign(GOOD, LIMITS)
S = CampaignStatus


@pytest.mark.parametrize(
    ("now", "to", "refusal"),
    [
        (S.DRAFT, S.RUNNING, None),
        (S.DRAFT, S.STOPPED, None),
        (S.RUNNING, S.PAUSED, None),
        (S.RUNNING, S.STOPPED, None),
        (S.PAUSED, S.RUNNING, None),
        (S.PAUSED, S.STOPPED, None),
        (S.DRAFT, S.PAUSED, "is draft: it cannot be paused (only running or stopped)"),
        (S.DRAFT, S.DRAFT, "is draft already"),
        (S.RUNNING, S.RUNNING, "is running already"),
        (S.RUNNING, S.DRAFT, "is running: it cannot be draft (only paused or stopped)"),
        (S.PAUSED, S.PAUSED, "is paused already"),
        (S.STOPPED, S.RUNNING, "stopped, which is final"),
        (S.STOPPED, S.PAUSED, "stopped, which is final"),
        (S.STOPPED, S.STOPPED, "is stopped already"),
    ],
)
def test_status_transitions(now: CampaignStatus, to: CampaignStatus, refusal: str | None) -> None:
    campaign = Campaign(**{**DRAFT.__dict__, "status": now})
    if refusal is None:
        assert change_status(campaign, to, TODAY).status == to
        return
    with pytest.raises(StatusRefused, match=re.escape(refusal)):
        change_status(campaign, to, TODAY)


def test_a_campaign_whose_schedule_is_over_cannot_run_but_can_stop() -> None:
    ended = new_campaign({**GOOD, "settings": {"schedule": {"end_on": "2026-12-06"}}}, LIMITS)
    with pytest.raises(StatusRefused, match=r"schedule ended on 2026-12-06: change schedule.end_on"):
        change_status(ended, S.RUNNING, TODAY)
    assert change_status(ended, S.STOPPED, TODAY).status == S.STOPPED
    assert change_status(ended, S.RUNNING, date(2026, 12, 6)).status == S.RUNNING


def test_an_update_changes_what_it_names_and_keeps_the_rest() -> None:
    running = change_status(DRAFT, S.RUNNING, TODAY)
    changed = updated_campaign(running, {"title": "新标题", "settings": {"max_attempts": 2}}, LIMITS)
    assert (changed.name, changed.status, changed.title) == (DRAFT.name, S.RUNNING, "新标题")
    assert changed.settings == CampaignSettings(max_attempts=2)
    same_settings = updated_campaign(changed, {"dial_mode": "preview"}, LIMITS)
    assert same_settings.settings == changed.settings
    assert same_settings.dial_mode == DialMode.PREVIEW


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "other"}, "name"),
        ({"status": "running"}, "status"),
        ({"kind": "nope"}, "kind"),
        ({"settings": {"abandon_cap": 0.5}}, "settings.abandon_cap"),
    ],
)
def test_an_update_is_checked_like_a_new_campaign(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(CampaignInvalid) as refused:
        updated_campaign(DRAFT, changes, LIMITS)
    assert set(refused.value.problems) == {field}


def test_a_stopped_campaign_is_not_updated() -> None:
    stopped = change_status(DRAFT, S.STOPPED, TODAY)
    with pytest.raises(StatusRefused, match="final"):
        updated_campaign(stopped, {"title": "again"}, LIMITS)


def test_the_centers_limits_come_from_the_settings() -> None:
    limits = CenterLimits.of(OutboundSettings(calling_hours="09:00-20:30", abandon_cap=0.05))
    assert limits == CenterLimits(CallingHours(time(9), time(20, 30)), 0.05)
