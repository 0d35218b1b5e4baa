"""A KPI report: the overall row and one row per group (queue, agent, hour, day, week, month).

Pure: facts and a period in, a plain dict out (the JSON shape of ``cti kpi report`` and
``GET /api/kpi``). Time buckets are taken in the center's timezone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cti.kpi.definitions import (
    DEFINITIONS_VERSION,
    CallHistory,
    KpiConfig,
    agent_view_kpis,
    appointment_kpis,
    fcr_kpis,
    funnel,
    lead_kpis,
    queue_kpis,
    repeat_call_kpis,
)
from cti.kpi.facts import Facts, InboundCall

UTC_ZONE = ZoneInfo("UTC")
GROUP_BY: tuple[str, ...] = ("queue", "agent", "hour", "day", "week", "month")


@dataclass(frozen=True)
class Period:
    """[start, end): None on either side means unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


def time_bucket(moment: datetime, by: str, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    if by == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if by == "day":
        return local.strftime("%Y-%m-%d")
    if by == "week":
        monday = local.date() - timedelta(days=local.weekday())
        return f"week of {monday.isoformat()}"
    return local.strftime("%Y-%m")


def kpi_row(facts: Facts, history: CallHistory, cfg: KpiConfig) -> dict[str, Any]:
    """Every KPI of DESIGN.md §4 over ``facts``; ``history`` holds calls around them (48 h / 7 d)."""
    row: dict[str, Any] = {"definitions_version": DEFINITIONS_VERSION}
    row |= queue_kpis(facts.stays, cfg)
    row |= agent_view_kpis(facts.offers, cfg)
    row |= lead_kpis(facts.leads, cfg)
    row |= repeat_call_kpis(facts.calls, history, cfg)
    row |= fcr_kpis(facts.stays, history, cfg)
    row |= appointment_kpis(facts.contacts)
    return row


def _keep(facts: Facts, keep: Callable[[str | None, str | None, datetime], bool]) -> Facts:
    """The facts whose (queue, agent, anchor time) pass ``keep``."""
    return Facts(
        stays=tuple(s for s in facts.stays if keep(s.queue, s.agent, s.entered_at)),
        offers=tuple(o for o in facts.offers if keep(o.queue, o.agent, o.rang_at)),
        calls=tuple(c for c in facts.calls if keep(c.queue, c.agent, c.at)),
        leads=tuple(lead for lead in facts.leads if keep(lead.queue, None, lead.created_at)),
        contacts=tuple(c for c in facts.contacts if keep(c.queue, c.agent, c.at)),
    )


def _partition(
    facts: Facts, key_of: Callable[[str | None, str | None, datetime], str | None]
) -> dict[str, Facts]:
    """Split facts into groups in one pass: each fact's key is computed once."""
    parts: dict[str, dict[str, list[Any]]] = {}

    def put(kind: str, item: Any, key: str | None) -> None:
        if key is not None:
            parts.setdefault(key, {}).setdefault(kind, []).append(item)

    for stay in facts.stays:
        put("stays", stay, key_of(stay.queue, stay.agent, stay.entered_at))
    for offer in facts.offers:
        put("offers", offer, key_of(offer.queue, offer.agent, offer.rang_at))
    for call in facts.calls:
        put("calls", call, key_of(call.queue, call.agent, call.at))
    for lead in facts.leads:
        put("leads", lead, key_of(lead.queue, None, lead.created_at))
    for contact in facts.contacts:
        put("contacts", contact, key_of(contact.queue, contact.agent, contact.at))
    return {
        key: Facts(**{kind: tuple(items) for kind, items in part.items()})
        for key, part in sorted(parts.items())
    }


def _grouper(by: str, tz: ZoneInfo) -> Callable[[str | None, str | None, datetime], str | None]:
    if by == "queue":
        return lambda queue, _agent, _at: queue
    if by == "agent":
        return lambda _queue, agent, _at: agent
    return lambda _queue, _agent, at: time_bucket(at, by, tz)


def build_report(
    facts: Facts,
    history: Iterable[InboundCall],
    cfg: KpiConfig,
    *,
    period: Period = Period(),
    queue: str | None = None,
    by: str | None = None,
    tz: ZoneInfo = UTC_ZONE,
) -> dict[str, Any]:
    """The report over ``period`` (and one queue, if given), grouped ``by`` one dimension."""
    calls = CallHistory(history)
    facts = _keep(facts, lambda q, _agent, at: at in period and (queue is None or q == queue))
    report: dict[str, Any] = {
        "definitions_version": DEFINITIONS_VERSION,
        "period": {"from": _iso(period.start), "to": _iso(period.end), "timezone": str(tz)},
        "queue": queue,
        "by": by,
        "config": {f.name: _plain(getattr(cfg, f.name)) for f in fields(cfg)},
        "overall": kpi_row(facts, calls, cfg),
        "groups": [],
        "funnel": funnel(facts.leads),
    }
    if by is not None:
        groups = _partition(facts, _grouper(by, tz))
        report["groups"] = [{"key": key, **kpi_row(part, calls, cfg)} for key, part in groups.items()]
    return report


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
