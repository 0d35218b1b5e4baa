"""A campaign: what kind of outbound work, when it may dial, how it retries, and its status.
Pure: the model, its validation (every problem names its field) and its status transitions;
``campaign_store`` keeps it in SQL, ``call_lists`` fills it with lines to call.

A campaign may narrow the center's rules, never widen them: its calling hours lie inside
``[outbound] calling_hours`` and its abandon cap is at most ``[outbound] abandon_cap`` (the
center's are what the law allows; a campaign may be more polite, not less).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any

from cti.errors import CtiError
from cti.settings import OutboundSettings


class CampaignKind(StrEnum):
    """The outbound work of an automotive care center (DESIGN §0: 3DC/7DC follow-ups, 首保,
    到期保养, 续保, surveys, insurer and web leads)."""

    FOLLOW_UP_SERVICE = "follow_up_service"  # 3 days after a service visit (3DC)
    FOLLOW_UP_DELIVERY = "follow_up_delivery"  # 7 days after a new car's delivery (7DC)
    FIRST_MAINTENANCE = "first_maintenance"  # the first free maintenance is due (首保)
    PERIODIC_MAINTENANCE = "periodic_maintenance"  # a periodic maintenance is due (到期保养)
    INSURANCE_RENEWAL = "insurance_renewal"  # the policy expires soon (续保)
    SURVEY = "survey"  # satisfaction survey (回访)
    LEADS = "leads"  # leads bought or passed on: called as soon as possible

    @property
    def due_offset(self) -> tuple[str, timedelta] | None:
        """Which date of a list line makes it due, and how long after it (negative: before):
        a follow-up 3 days after the service, a renewal a month before the policy expires."""
        return _DUE_OFFSETS.get(self)


#: (the list field the line's date is in, the offset from it): DESIGN §0's 3DC and 7DC, a
#: renewal reminder a month ahead (the seed's >= 20 % renewal target needs time for quotes),
#: maintenance reminders a week ahead.
_DUE_OFFSETS: dict[CampaignKind, tuple[str, timedelta]] = {
    CampaignKind.FOLLOW_UP_SERVICE: ("date", timedelta(days=3)),
    CampaignKind.FOLLOW_UP_DELIVERY: ("date", timedelta(days=7)),
    CampaignKind.FIRST_MAINTENANCE: ("due", timedelta(days=-7)),
    CampaignKind.PERIODIC_MAINTENANCE: ("due", timedelta(days=-7)),
    CampaignKind.INSURANCE_RENEWAL: ("due", timedelta(days=-30)),
}


class DialMode(StrEnum):
    """How the dialer paces the campaign (the same values as ``cti.outbound.pacing``'s)."""

    PREVIEW = "preview"  # the agent sees the record first and clicks to dial
    PROGRESSIVE = "progressive"  # one call per free agent
    PREDICTIVE = "predictive"  # more lines than free agents, under the abandon cap


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # final: its open lines are stopped too


#: The results of an attempt that may be retried (``dial_attempts.result``).
RETRY_RESULTS = ("busy", "no_answer", "failed", "machine")

_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


class StatusRefused(CtiError):
    """A status change the campaign's current status does not allow."""


@dataclass(frozen=True)
class CallingHours:
    """A daily window in the callee's local time, ``start`` included, ``end`` excluded."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> CallingHours:
        """``"08:00-21:00"``; ``ValueError`` saying what is wrong."""
        match = _HOURS.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a window such as 08:00-21:00")
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        if max(h1, h2) > 23 or max(m1, m2) > 59:
            raise ValueError(f"{text!r} is not a window of times of day (00:00 to 23:59)")
        if (h2, m2) <= (h1, m1):
            raise ValueError(f"{text!r} ends before it starts")
        return cls(time(h1, m1), time(h2, m2))

    def within(self, other: CallingHours) -> bool:
        return other.start <= self.start and self.end <= other.end

    def __str__(self) -> str:
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"


@dataclass(frozen=True)
class RetryRule:
    """After a result (busy, no answer...): try again ``after_s`` later, at most ``max_attempts``
    attempts that ended with it."""

    after_s: int
    max_attempts: int


#: Defaults: a busy line is free again soon; an unanswered phone is tried at another hour; a
#: failed call is likely a network problem; an answering machine means the customer is away.
DEFAULT_RETRIES: Mapping[str, RetryRule] = {
    "busy": RetryRule(after_s=600, max_attempts=3),
    "no_answer": RetryRule(after_s=3600, max_attempts=3),
    "failed": RetryRule(after_s=1800, max_attempts=2),
    "machine": RetryRule(after_s=4 * 3600, max_attempts=2),
}
ALL_WEEKDAYS = frozenset(range(1, 8))  # ISO: 1 Monday ... 7 Sunday


@dataclass(frozen=True)
class Schedule:
    """The days the campaign dials: from ``start_on`` to ``end_on`` (both included, None: open)
    on ``weekdays`` (ISO numbers, 1 Monday ... 7 Sunday)."""

    start_on: date | None = None
    end_on: date | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS

    def dials_on(self, day: date) -> bool:
        after_start = self.start_on is None or self.start_on <= day
        before_end = self.end_on is None or day <= self.end_on
        return after_start and before_end and day.isoweekday() in self.weekdays

    def over(self, today: date) -> bool:
        return self.end_on is not None and self.end_on < today


@dataclass(frozen=True)
class CampaignSettings:
    """How a campaign dials. ``calling_hours`` and ``abandon_cap``: None means the center's."""

    calling_hours: CallingHours | None = None
    retries: Mapping[str, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRIES))
    max_attempts: int = 5  # attempts per line, whatever their results (the carriers' 5 a day)
    abandon_cap: float | None = None
    skip_called_within_days: int = 3  # a list line whose number was called this recently is left out
    schedule: Schedule = Schedule()

    def retry_rule(self, result: str) -> RetryRule | None:
        """The rule for ``result``; None: that result is not retried (answered, abandoned...)."""
        return self.retries.get(result)

    def to_json(self) -> dict[str, Any]:
        """As the store keeps it (``campaigns.settings``) and the API shows it."""
        schedule = self.schedule
        return {
            "calling_hours": None if self.calling_hours is None else str(self.calling_hours),
            "retries": {  # every result, null where it is not retried (else its default would return)
                result: None if rule is None else {"after_s": rule.after_s, "max_attempts": rule.max_attempts}
                for result in RETRY_RESULTS
                for rule in [self.retries.get(result)]
            },
            "max_attempts": self.max_attempts,
            "abandon_cap": self.abandon_cap,
            "skip_called_within_days": self.skip_called_within_days,
            "schedule": {
                "start_on": None if schedule.start_on is None else schedule.start_on.isoformat(),
                "end_on": None if schedule.end_on is None else schedule.end_on.isoformat(),
                "weekdays": sorted(schedule.weekdays),
            },
        }


@dataclass(frozen=True)
class CenterLimits:
    """What no campaign may exceed: the center's calling hours and abandon cap (``[outbound]``)."""

    calling_hours: CallingHours
    abandon_cap: float

    @classmethod
    def of(cls, settings: OutboundSettings) -> CenterLimits:
        return cls(CallingHours.parse(settings.calling_hours), settings.abandon_cap)


@dataclass(frozen=True)
class Campaign:
    name: str
    title: str
    kind: CampaignKind
    queue: str  # the queue whose agents take its calls
    dial_mode: DialMode
    status: CampaignStatus
    settings: CampaignSettings

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind.value,
            "queue": self.queue,
            "dial_mode": self.dial_mode.value,
            "status": self.status.value,
            "settings": self.settings.to_json(),
        }


#: Which status each status may move to (stopped is final; ``stopped`` is reached from any other).
_MOVES: Mapping[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.RUNNING, CampaignStatus.STOPPED}),
    CampaignStatus.RUNNING: frozenset({CampaignStatus.PAUSED, CampaignStatus.STOPPED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.RUNNING, CampaignStatus.STOPPED}),
    CampaignStatus.STOPPED: frozenset(),
}


def change_status(campaign: Campaign, to: CampaignStatus, today: date) -> Campaign:
    """``campaign`` in status ``to``, or ``StatusRefused`` saying why not: stopped is final, a
    draft is started before it can be paused, and a campaign whose schedule is over cannot run."""
    now = campaign.status
    if to not in _MOVES[now]:
        if now == to:
            raise StatusRefused(f"campaign {campaign.name} is {now} already")
        if now == CampaignStatus.STOPPED:
            raise StatusRefused(f"campaign {campaign.name} is stopped, which is final: create a new one")
        raise StatusRefused(f"campaign {campaign.name} is {now}: it cannot be {to} (only {_verbs(now)})")
    if to == CampaignStatus.RUNNING and campaign.settings.schedule.over(today):
        end = campaign.settings.schedule.end_on
        raise StatusRefused(
            f"campaign {campaign.name}'s schedule ended on {end}: change schedule.end_on first"
        )
    return replace(campaign, status=to)


def _verbs(status: CampaignStatus) -> str:
    return " or ".join(sorted(str(s) for s in _MOVES[status]))
