"""A KPI report: the overall row and one row per group (queue, agent, hour, day, week, month).

Pure: facts and a period in, a plain dict out (the JSON shape of ``cti kpi report`` and
``GET /api/kpi``). Time buckets are taken in the center's timezone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from itertools import compress
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from cti.events import to_us
from cti.kpi.definitions import (
    DEFINITIONS_VERSION,
    CallHistory,
    KpiConfig,
    agent_view_kpis,
    appointment_kpis,
    fcr_counts,
    fcr_flags,
    funnel,
    lead_kpis,
    queue_kpis,
    repeat_call_counts,
    repeat_flags,
)
from cti.kpi.facts import Facts, InboundCall, QueueStay

UTC_ZONE = ZoneInfo("UTC")
GROUP_BY: tuple[str, ...] = ("queue", "agent", "hour", "day", "week", "month")


@dataclass(frozen=True)
class Period:
    """[start, end): None on either side means unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def span_us(self) -> tuple[float, float]:
        """[start, end) in microseconds since the epoch, as facts keep times (open: infinite)."""
        return (
            -math.inf if self.start is None else to_us(self.start),
            math.inf if self.end is None else to_us(self.end),
        )


def time_bucket(moment: datetime, by: str, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    if by == "weekday_hour":  # the heat map's cells: "0 9" is Monday 09:00-10:00
        return f"{local.weekday()} {local.hour}"
    if by == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if by == "day":
        return local.strftime("%Y-%m-%d")
    if by == "week":
        monday = local.date() - timedelta(days=local.weekday())
        return f"week of {monday.isoformat()}"
    return local.strftime("%Y-%m")


@dataclass(frozen=True)
class Flags:
    """Each call's repeat flag and each stay's FCR flag, in the order of ``Facts.calls`` and
    ``Facts.stays``: looked up in the call history once per report, then counted by the overall
    row and by every group's (a month by day asked the history some 276k times, twice per fact)."""

    repeat: Sequence[bool] = ()
    fcr: Sequence[bool | None] = ()

    @classmethod
    def of(cls, facts: Facts, history: CallHistory, cfg: KpiConfig) -> Flags:
        return cls(repeat_flags(facts.calls, history, cfg), fcr_flags(facts.stays, history, cfg))


def kpi_row(facts: Facts, history: CallHistory, cfg: KpiConfig) -> dict[str, Any]:
    """Every KPI of docs/kpi.md over ``facts``; ``history`` holds calls around them (48 h / 7 d)."""
    return flagged_row(facts, Flags.of(facts, history, cfg), cfg)


def flagged_row(facts: Facts, flags: Flags, cfg: KpiConfig) -> dict[str, Any]:
    """``kpi_row`` of ``facts`` whose ``Flags`` are already known."""
    row: dict[str, Any] = {"definitions_version": DEFINITIONS_VERSION}
    row |= queue_kpis(facts.stays, cfg)
    row |= agent_view_kpis(facts.offers, cfg)
    row |= lead_kpis(facts.leads, cfg)
    row |= repeat_call_counts(flags.repeat)
    row |= fcr_counts(flags.fcr)
    row |= appointment_kpis(facts.contacts)
    return row


#: Each kind of fact's queue, agent and anchor time (the time it is counted at).
_ANCHORS: dict[str, tuple[Callable[[Any], str | None], Callable[[Any], str | None], Callable[[Any], int]]] = {
    "stays": (attrgetter("queue"), attrgetter("agent"), attrgetter("entered_us")),
    "offers": (attrgetter("queue"), attrgetter("agent"), attrgetter("rang_us")),
    "calls": (attrgetter("queue"), attrgetter("agent"), attrgetter("at_us")),
    "leads": (attrgetter("queue"), lambda _lead: None, attrgetter("created_us")),
    "contacts": (attrgetter("queue"), attrgetter("agent"), attrgetter("at_us")),
}


def _keep(facts: Facts, start: float, end: float, queue: str | None) -> Facts:
    """The facts anchored in [start, end) (and of ``queue``, if given)."""
    kept: dict[str, tuple[Any, ...]] = {}
    for kind, (queue_of, _agent_of, time_of) in _ANCHORS.items():
        items = getattr(facts, kind)
        if queue is None:
            inside = [start <= at_us < end for at_us in map(time_of, items)]
        else:
            inside = [
                start <= t < end and q == queue
                for t, q in zip(map(time_of, items), map(queue_of, items), strict=True)
            ]
        kept[kind] = tuple(compress(items, inside))
    return Facts(**kept)


KeyOf = Callable[[str | None, str | None, int], str | None]  # (queue, agent, anchor time) -> group


def _split(items: Iterable[Any], keys: Iterable[str | None]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for item, key in zip(items, keys, strict=True):
        if key is not None:
            groups[key].append(item)
    return groups


def _keys(items: Sequence[Any], kind: str, key_of: KeyOf) -> list[str | None]:
    """Each fact's group; a time's worked out in bulk (``TimeBuckets.many``)."""
    queue_of, agent_of, time_of = _ANCHORS[kind]
    if isinstance(key_of, TimeBuckets):
        return key_of.many(map(time_of, items))
    return list(map(key_of, map(queue_of, items), map(agent_of, items), map(time_of, items)))


def _partition(facts: Facts, flags: Flags, key_of: KeyOf) -> dict[str, tuple[Facts, Flags]]:
    """Split facts, and their flags alike, into groups in one pass: each fact's key is computed once."""
    keys = {kind: _keys(getattr(facts, kind), kind, key_of) for kind in _ANCHORS}
    parts = {kind: _split(getattr(facts, kind), kind_keys) for kind, kind_keys in keys.items()}
    repeat, fcr = _split(flags.repeat, keys["calls"]), _split(flags.fcr, keys["stays"])
    names = sorted({key for groups in parts.values() for key in groups})
    return {
        key: (
            Facts(**{kind: tuple(groups.get(key, ())) for kind, groups in parts.items()}),
            Flags(repeat.get(key, []), fcr.get(key, [])),
        )
        for key in names
    }


def grouper(by: str, tz: ZoneInfo) -> KeyOf:
    """Each fact's group ``by`` one dimension."""
    if by == "queue":
        return lambda queue, _agent, _at_us: queue
    if by == "agent":
        return lambda _queue, agent, _at_us: agent
    return TimeBuckets(by, tz)


class TimeBuckets:
    """``time_bucket`` of each fact's time, worked out once per UTC minute: a month's report has
    some 300k facts in 20k minutes, and a local time costs a microsecond.

    A minute whose first and last seconds are in the same local hour at the same UTC offset lies
    wholly in that hour: local time runs straight through it, as no zone changes its offset twice
    within a minute. Other minutes are worked out moment by moment. Whole seconds suffice:
    offsets, so local hours, begin on whole seconds.
    """

    def __init__(self, by: str, tz: ZoneInfo) -> None:
        self.by, self.tz = by, tz
        self.hours: dict[tuple[date, int], str] = {}  # (local date, hour) -> its bucket
        self.minutes: dict[int, str] = {}  # UTC minute -> its bucket

    def _name(self, local: datetime) -> str:
        unit = (local.date(), local.hour)
        found = self.hours.get(unit)
        if found is None:
            found = self.hours[unit] = time_bucket(local, self.by, self.tz)
        return found

    def __call__(self, _queue: str | None, _agent: str | None, at_us: int) -> str:
        seconds = at_us // 1_000_000
        found = self.minutes.get(seconds // 60)
        if found is None:
            first = datetime.fromtimestamp(seconds - seconds % 60, self.tz)
            last = datetime.fromtimestamp(seconds - seconds % 60 + 59, self.tz)
            if first.hour != last.hour or first.utcoffset() != last.utcoffset():
                return self._name(datetime.fromtimestamp(seconds, self.tz))
            found = self.minutes[seconds // 60] = self._name(first)
        return found

    def many(self, times: Iterable[int]) -> list[str | None]:
        """The buckets of many times: a dictionary look-up each, once their minutes are known."""
        known = self.minutes.get
        return [known(at_us // 60_000_000) or self(None, None, at_us) for at_us in times]


def build_report(
    facts: Facts,
    history: Iterable[InboundCall],
    cfg: KpiConfig,
    *,
    period: Period = Period(),
    queue: str | None = None,
    by: str | None = None,
    tz: ZoneInfo = UTC_ZONE,
    heatmap: bool = False,
) -> dict[str, Any]:
    """The report over ``period`` (and one queue, if given), grouped ``by`` one dimension; with
    ``heatmap``, the three-ring rate by weekday x hour too (the HTML page's)."""
    calls = CallHistory(history)
    start, end = period.span_us()
    facts = _keep(facts, start, end, queue)
    flags = Flags.of(facts, calls, cfg)
    report: dict[str, Any] = {
        "definitions_version": DEFINITIONS_VERSION,
        "period": {"from": _iso(period.start), "to": _iso(period.end), "timezone": str(tz)},
        "queue": queue,
        "by": by,
        "config": {f.name: _plain(getattr(cfg, f.name)) for f in fields(cfg)},
        "overall": flagged_row(facts, flags, cfg),
        "groups": [],
        "funnel": funnel(facts.leads),
    }
    if by is not None:
        groups = _partition(facts, flags, grouper(by, tz))
        report["groups"] = [
            {"key": key, **flagged_row(part, part_flags, cfg)} for key, (part, part_flags) in groups.items()
        ]
    if heatmap:
        report["heatmap"] = three_ring_heatmap(facts.stays, cfg, tz)
    return report


def three_ring_heatmap(stays: Sequence[QueueStay], cfg: KpiConfig, tz: ZoneInfo) -> dict[str, Any]:
    """Calls offered and the three-ring rate by weekday (Monday first) x hour of day, center
    time: where the staffing planner adds agents. A cell without calls has no rate (``None``)."""
    cells = _split(stays, _keys(stays, "stays", TimeBuckets("weekday_hour", tz)))
    offered: list[list[int]] = [[0] * 24 for _ in range(7)]
    rates: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for key, group in cells.items():
        day, hour = map(int, key.split())
        kpis = queue_kpis(group, cfg)
        offered[day][hour], rates[day][hour] = kpis["offered"], kpis["three_ring_rate"]
    return {"offered": offered, "three_ring_rate": rates}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _plain(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


def parse_bound(text: str, tz: ZoneInfo, *, inclusive_end: bool = False) -> datetime:
    """``--from``/``--to``: an ISO date (a whole day in the center's zone) or date-time.

    A bare date as the end bound includes that day: ``--to 2026-11-30`` ends at midnight after it.
    A date-time without an offset is taken in ``tz``.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO date (2026-11-01) or date-time (2026-11-01T08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if inclusive_end and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def make_period(start: str | None, end: str | None, tz: ZoneInfo) -> Period:
    period = Period(
        parse_bound(start, tz) if start else None,
        parse_bound(end, tz, inclusive_end=True) if end else None,
    )
    if period.start and period.end and period.end <= period.start:
        raise ValueError(f"the period is empty: --to {end} is not after --from {start}")
    return period
