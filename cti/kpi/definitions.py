"""The KPI definitions of the center (docs/kpi.md), as pure functions over facts. Versioned:
every report prints ``DEFINITIONS_VERSION``.

Conventions. Rates are fractions in [0, 1], ``None`` where the denominator is 0 (nothing to
measure: reports say "no data", JSON says ``null``, never 0 %). Times are seconds, every
duration measured and rounded the same way (``cti.kpi.facts``). "Within three rings" is strict
(wait < 3 x ring cycle: with a 5 s cycle 14.9 s is in and 15.0 s is out), for callers (queue
stays) and agents (offers) alike; service-level thresholds are inclusive (wait <= T), as
app_queue's are. An unknown wait (``None``) is never within either limit: the call stays in
every denominator as a miss, is left out of ASA's mean, and is counted in ``waits_unknown``.
A short abandon (known wait < short_abandon_s) is left out of offered and abandoned alike; the
default 0 s leaves nothing out. A callback request is neither answered nor abandoned: it is a
miss for the three-ring rate (the caller was not answered) and is reported on its own.

Leads: "contacted within one minute" needs the customer's answer at or after the lead's
creation and less than 60 s after it (an answer stamped earlier is clock skew, a miss, counted in
``leads_answered_before_created``). Queue callbacks (source ``queue_callback``: a waiting caller
kept their place) are not leads: they are reported on their own line (``queue_callback_*``) and
per source, and left out of the lead rate and the funnel.

Change a definition -> change ``DEFINITIONS_VERSION`` and say what changed in ``CHANGES``, so
numbers from different rules are never compared unknowingly.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cti.kpi.facts import AgentOffer, Contact, InboundCall, Lead, Outcome, QueueStay

_US = timedelta(microseconds=1)
DEFINITIONS_VERSION = "kpi-defs/2026-12-20.1"
#: What each version changed in meaning (newest first); docs/kpi.md shows the same list.
CHANGES: tuple[tuple[str, str], ...] = (
    (
        "kpi-defs/2026-12-20.1",
        "FCR counts the handled calls that were disposed: a call with no disposition is neither "
        "resolved nor unresolved (no dispositions at all: FCR has no data, not 0 %)",
    ),
    (
        "kpi-defs/2026-12-05.1",
        "an unknown wait is a miss, not a 0 s wait (waits_unknown); agent offers and queue stays "
        "measured and rounded alike (ms); an answer before its lead's creation is not a contact; "
        "AHT includes hold time (hold events), talk excludes it; queue callbacks left out of the "
        "one-minute lead rate and the funnel, reported apart and per lead source",
    ),
    ("kpi-defs/2026-11-23.1", "the definitions as first released"),
)
QUEUE_CALLBACK = "queue_callback"  # a lead source: a caller who asked to be called back from a queue
FUNNEL_STAGES = ("lead", "contacted", "appointment_booked", "assessed", "completed", "surveyed")


@dataclass(frozen=True)
class KpiConfig:
    ring_cycle_s: float = 5.0  # China: 1 s on, 4 s off; US: 6 s
    rings: int = 3
    threshold_s: float = 20.0  # service level T
    short_abandon_s: float = 0.0
    lead_contact_s: float = 60.0
    repeat_window: timedelta = timedelta(hours=48)
    fcr_window: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.ring_cycle_s <= 0 or self.rings <= 0:
            raise ValueError("ring cycle and rings must be positive")
        if self.threshold_s < 0 or self.short_abandon_s < 0:
            raise ValueError("thresholds cannot be negative")
        if self.repeat_window < timedelta(0) or self.fcr_window < timedelta(0):
            raise ValueError("the repeat-call and FCR windows cannot be negative")

    @property
    def three_rings_s(self) -> float:
        return self.rings * self.ring_cycle_s


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def mean(values: Sequence[float]) -> float | None:
    """The mean, its sum exactly rounded (``math.fsum``): the same whatever order the facts come in."""
    return math.fsum(values) / len(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least pct% of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def within_rings(durations: Iterable[float | None], cfg: KpiConfig) -> int:
    """How many durations are less than three rings (strict); an unknown one never is. The one
    rule for callers' waits and agents' ring times alike."""
    limit = cfg.three_rings_s
    return sum(1 for seconds in durations if seconds is not None and seconds < limit)


def within_threshold(durations: Iterable[float | None], cfg: KpiConfig) -> int:
    """How many durations are at most the service-level threshold T (inclusive, as app_queue's);
    an unknown one never is."""
    limit = cfg.threshold_s
    return sum(1 for seconds in durations if seconds is not None and seconds <= limit)


def is_short_abandon(stay: QueueStay, cfg: KpiConfig) -> bool:
    return stay.outcome is Outcome.ABANDONED and stay.wait_s is not None and stay.wait_s < cfg.short_abandon_s


def queue_kpis(stays: Iterable[QueueStay], cfg: KpiConfig) -> dict[str, Any]:
    """Caller-view KPIs of queue stays: three rings, SL, SL2, ASA, abandonment, AHT."""
    stays = list(stays)
    counted = [s for s in stays if not is_short_abandon(s, cfg)]
    answered = [s.wait_s for s in counted if s.outcome is Outcome.ANSWERED]
    abandoned = [s.wait_s for s in counted if s.outcome is Outcome.ABANDONED]
    within_rings_n = within_rings(answered, cfg)
    answered_in_t = within_threshold(answered, cfg)
    abandoned_in_t = within_threshold(abandoned, cfg)
    handled = [s for s in counted if s.outcome is Outcome.ANSWERED and s.talk_s is not None]
    outcomes = Counter(s.outcome for s in counted)
    return {
        "offered": len(counted),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandons_excluded": len(stays) - len(counted),
        "overflowed": outcomes[Outcome.OVERFLOWED],
        "timed_out": outcomes[Outcome.TIMED_OUT],
        "callbacks": outcomes[Outcome.CALLBACK],
        "waits_unknown": sum(1 for s in counted if s.outcome is not Outcome.WAITING and s.wait_s is None),
        "answered_within_three_rings": within_rings_n,
        "three_ring_rate": rate(within_rings_n, len(counted)),
        "service_level": rate(answered_in_t, len(answered)),
        "service_level_2": rate(answered_in_t + abandoned_in_t, len(answered) + len(abandoned)),
        "asa_s": mean([wait for wait in answered if wait is not None]),
        "abandon_rate": rate(len(abandoned), len(counted)),
        "handled": len(handled),
        "aht_s": mean([(s.talk_s or 0) + s.hold_s + (s.wrapup_s or 0) for s in handled]),
        "hold_s": mean([s.hold_s for s in handled]),
    }


def agent_view_kpis(offers: Iterable[AgentOffer], cfg: KpiConfig) -> dict[str, Any]:
    """Of agent offers (the agent's phone ringing), the share picked up within three rings."""
    offers = list(offers)
    within = within_rings((o.ring_s for o in offers if o.answered), cfg)
    return {
        "agent_offers": len(offers),
        "agent_answered_within_three_rings": within,
        "agent_three_ring_rate": rate(within, len(offers)),
    }


def micros(span: timedelta) -> int:
    """A timedelta in whole microseconds (exact), to compare with facts' ``*_us`` times."""
    return span // _US


def _contacted(lead: Lead, limit_us: int) -> bool:
    """Answered at or after its creation and less than the limit after it (earlier: clock skew)."""
    return lead.answered_us is not None and 0 <= lead.answered_us - lead.created_us < limit_us


def _contact_counts(leads: Sequence[Lead], limit_us: int) -> tuple[int, int, float | None]:
    contacted = sum(1 for lead in leads if _contacted(lead, limit_us))
    return len(leads), contacted, rate(contacted, len(leads))


def lead_kpis(leads: Iterable[Lead], cfg: KpiConfig) -> dict[str, Any]:
    """Contacted within one minute (customer answered < 60 s after the lead was created), over
    leads; queue callbacks on their own line; every source's own figures in ``lead_sources``."""
    every = list(leads)
    limit = micros(timedelta(seconds=cfg.lead_contact_s))
    real = [lead for lead in every if lead.source != QUEUE_CALLBACK]
    callbacks = [lead for lead in every if lead.source == QUEUE_CALLBACK]
    to_dial = [(lead.first_dial_us - lead.created_us) / 1_000_000 for lead in real if lead.first_dial_us]
    sources: dict[str, list[Lead]] = {}
    for lead in every:
        sources.setdefault(lead.source or "unknown", []).append(lead)
    count, contacted, contact_rate = _contact_counts(real, limit)
    cb_count, cb_contacted, cb_rate = _contact_counts(callbacks, limit)
    return {
        "leads": count,
        "leads_contacted_within_one_minute": contacted,
        "one_minute_contact_rate": contact_rate,
        "leads_never_dialled": sum(1 for lead in real if lead.first_dial_us is None),
        "leads_answered_before_created": sum(
            1 for lead in every if lead.answered_us is not None and lead.answered_us < lead.created_us
        ),
        "time_to_first_dial_p50_s": percentile(to_dial, 50),
        "time_to_first_dial_p90_s": percentile(to_dial, 90),
        "time_to_first_dial_p99_s": percentile(to_dial, 99),
        "queue_callbacks": cb_count,
        "queue_callbacks_contacted_within_one_minute": cb_contacted,
        "queue_callback_one_minute_contact_rate": cb_rate,
        "lead_sources": {
            name: dict(
                zip(
                    ("leads", "contacted_within_one_minute", "rate"),
                    _contact_counts(group, limit),
                    strict=True,
                )
            )
            for name, group in sorted(sources.items())
        },
    }


class CallHistory:
    """Calls by caller number, sorted by time: built once per report, asked per call (bisect)."""

    def __init__(self, calls: Iterable[InboundCall]) -> None:
        self._calls: dict[str, tuple[list[int], list[str]]] = {}  # number -> (times, call ids)
        for call in sorted(calls, key=lambda c: c.at_us):
            if call.caller_number:
                known = self._calls.get(call.caller_number)
                if known is None:
                    known = self._calls[call.caller_number] = ([], [])
                known[0].append(call.at_us)
                known[1].append(call.call_id)

    def called(self, number: str | None, after_us: int, until_us: int, *, besides: str) -> bool:
        """Did ``number`` call in (after, until] (``after`` excluded), other than call ``besides``?"""
        known = self._calls.get(number) if number else None
        if known is None:
            return False
        times, ids = known
        if len(ids) == 1:  # most numbers: often the asking call itself
            return ids[0] != besides and after_us < times[0] <= until_us
        first = bisect.bisect_right(times, after_us)
        last = bisect.bisect_right(times, until_us)
        return ids[first:last].count(besides) < last - first


def repeat_flags(calls: Iterable[InboundCall], history: CallHistory, cfg: KpiConfig) -> list[bool]:
    """Per call: did its number call within the previous 48 h (earlier calls from ``history``)?

    Worked out once per report; the overall row and every group's count them (``repeat_call_counts``).
    """
    window = micros(cfg.repeat_window) + 1  # 1 µs more: the window's start is in, the call's own instant out
    called = history.called
    return [called(c.caller_number, c.at_us - window, c.at_us - 1, besides=c.call_id) for c in calls]


def repeat_call_counts(flags: Sequence[bool]) -> dict[str, Any]:
    """The repeat-call KPIs of calls, from their ``repeat_flags``."""
    repeats = flags.count(True)
    return {"calls": len(flags), "repeat_calls": repeats, "repeat_call_rate": rate(repeats, len(flags))}


def fcr_flags(stays: Iterable[QueueStay], history: CallHistory, cfg: KpiConfig) -> list[bool | None]:
    """Per stay: ``None`` unless a handled call (answered, talk known) that was disposed; else
    whether it was resolved at first contact (resolved, and no call from the number within 7 days
    after). A call nobody disposed says nothing of its resolution: counting it unresolved made
    FCR read 0 % wherever agents record no dispositions.

    Worked out once per report; the overall row and every group's count them (``fcr_counts``).
    """
    window = micros(cfg.fcr_window)
    called = history.called
    return [
        None
        if s.outcome is not Outcome.ANSWERED or s.talk_s is None or s.resolved is None
        else s.resolved
        and not called(s.caller_number, s.entered_us, s.entered_us + window, besides=s.call_id)
        for s in stays
    ]


def fcr_counts(flags: Sequence[bool | None]) -> dict[str, Any]:
    """The FCR KPIs of queue stays, from their ``fcr_flags``."""
    resolved = flags.count(True)
    return {"first_contact_resolved": resolved, "fcr_rate": rate(resolved, len(flags) - flags.count(None))}


def appointment_kpis(contacts: Iterable[Contact]) -> dict[str, Any]:
    """Appointment rate: contacts that booked a service appointment / contacts."""
    contacts = list(contacts)
    booked = sum(1 for c in contacts if c.booked_appointment)
    return {
        "contacts": len(contacts),
        "appointments": booked,
        "appointment_rate": rate(booked, len(contacts)),
    }


def funnel(leads: Iterable[Lead]) -> list[dict[str, Any]]:
    """Counts per funnel stage and the loss reasons recorded at each stage (the waterfall); queue
    callbacks are not leads."""
    leads = [lead for lead in leads if lead.source != QUEUE_CALLBACK]
    rows: list[dict[str, Any]] = []
    for stage in FUNNEL_STAGES:
        reached = len(leads) if stage == "lead" else sum(1 for lead in leads if stage in lead.stages)
        reasons: dict[str, int] = {}
        for lead in leads:
            for lost_stage, reason in lead.lost:
                if lost_stage == stage:
                    reasons[reason] = reasons.get(reason, 0) + 1
        rows.append({"stage": stage, "count": reached, "lost": dict(sorted(reasons.items()))})
    return rows
