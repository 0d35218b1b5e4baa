"""The KPI definitions of DESIGN.md §4, as pure functions over facts. Versioned: reports print it.

Conventions. Rates are fractions in [0, 1], ``None`` where the denominator is 0. Times are
seconds. "Within three rings" is strict (wait < 3 x ring cycle: with a 5 s cycle 14.9 s is in
and 15.0 s is out); service-level thresholds are inclusive (wait <= T), as app_queue's are.
A short abandon (wait < short_abandon_s) is left out of offered and abandoned alike; the default
0 s leaves nothing out. A callback request is neither answered nor abandoned: it is a miss for
the three-ring rate (the caller was not answered) and is reported on its own.

Change a definition -> change ``DEFINITIONS_VERSION``, so numbers from different rules are never
compared unknowingly.
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
DEFINITIONS_VERSION = "kpi-defs/2026-11-23.1"
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


def _wait(stay: QueueStay) -> float:
    return stay.wait_s if stay.wait_s is not None else math.inf


def is_short_abandon(stay: QueueStay, cfg: KpiConfig) -> bool:
    return stay.outcome is Outcome.ABANDONED and _wait(stay) < cfg.short_abandon_s


def queue_kpis(stays: Iterable[QueueStay], cfg: KpiConfig) -> dict[str, Any]:
    """Caller-view KPIs of queue stays: three rings, SL, SL2, ASA, abandonment, AHT."""
    stays = list(stays)
    counted = [s for s in stays if not is_short_abandon(s, cfg)]
    answered = [s for s in counted if s.outcome is Outcome.ANSWERED]
    waits = [_wait(s) for s in answered]
    abandoned_waits = [_wait(s) for s in counted if s.outcome is Outcome.ABANDONED]
    rings_s, threshold_s = cfg.three_rings_s, cfg.threshold_s
    within_rings = sum(1 for wait in waits if wait < rings_s)  # answered within three rings
    answered_in_t = sum(1 for wait in waits if wait <= threshold_s)
    abandoned_in_t = sum(1 for wait in abandoned_waits if wait <= threshold_s)
    handled = [s for s in answered if s.talk_s is not None]
    outcomes = Counter(s.outcome for s in counted)
    return {
        "offered": len(counted),
        "answered": len(answered),
        "abandoned": len(abandoned_waits),
        "short_abandons_excluded": len(stays) - len(counted),
        "overflowed": outcomes[Outcome.OVERFLOWED],
        "timed_out": outcomes[Outcome.TIMED_OUT],
        "callbacks": outcomes[Outcome.CALLBACK],
        "answered_within_three_rings": within_rings,
        "three_ring_rate": rate(within_rings, len(counted)),
        "service_level": rate(answered_in_t, len(answered)),
        "service_level_2": rate(answered_in_t + abandoned_in_t, len(answered) + len(abandoned_waits)),
        "asa_s": mean(waits),
        "abandon_rate": rate(len(abandoned_waits), len(counted)),
        "handled": len(handled),
        "aht_s": mean([(s.talk_s or 0) + s.hold_s + (s.wrapup_s or 0) for s in handled]),
    }


def agent_view_kpis(offers: Iterable[AgentOffer], cfg: KpiConfig) -> dict[str, Any]:
    """Of agent offers (the agent's phone ringing), the share picked up within three rings."""
    offers = list(offers)
    within = sum(1 for o in offers if o.answered and o.ring_s is not None and o.ring_s < cfg.three_rings_s)
    return {
        "agent_offers": len(offers),
        "agent_answered_within_three_rings": within,
        "agent_three_ring_rate": rate(within, len(offers)),
    }


def micros(span: timedelta) -> int:
    """A timedelta in whole microseconds (exact), to compare with facts' ``*_us`` times."""
    return span // _US


def lead_kpis(leads: Iterable[Lead], cfg: KpiConfig) -> dict[str, Any]:
    """Contacted within one minute (customer answered < 60 s after the lead was created)."""
    leads = list(leads)
    limit = micros(timedelta(seconds=cfg.lead_contact_s))
    contacted = sum(
        1 for lead in leads if lead.answered_us is not None and lead.answered_us - lead.created_us < limit
    )
    to_dial = [
        (lead.first_dial_us - lead.created_us) / 1_000_000 for lead in leads if lead.first_dial_us is not None
    ]
    return {
        "leads": len(leads),
        "leads_contacted_within_one_minute": contacted,
        "one_minute_contact_rate": rate(contacted, len(leads)),
        "leads_never_dialled": sum(1 for lead in leads if lead.first_dial_us is None),
        "time_to_first_dial_p50_s": percentile(to_dial, 50),
        "time_to_first_dial_p90_s": percentile(to_dial, 90),
        "time_to_first_dial_p99_s": percentile(to_dial, 99),
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
    """Per stay: ``None`` unless a handled call (answered, talk known); else whether it was resolved
    at first contact (resolved, and no call from the number within 7 days after).

    Worked out once per report; the overall row and every group's count them (``fcr_counts``).
    """
    window = micros(cfg.fcr_window)
    called = history.called
    return [
        None
        if s.outcome is not Outcome.ANSWERED or s.talk_s is None
        else bool(s.resolved)
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
    """Counts per funnel stage and the loss reasons recorded at each stage (the waterfall)."""
    leads = list(leads)
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
