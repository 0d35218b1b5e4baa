"""Loading what a report needs from the store: the period's facts and the calls around them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import EventKind
from cti.kpi.definitions import KpiConfig
from cti.kpi.facts import Facts, InboundCall, derive_facts
from cti.kpi.report import Period
from cti.store.events import call_starts_between, events_between, events_of_leads

# A queue stay's outcome can come after the period ends, and its start before: read a margin.
MARGIN = timedelta(days=1)


async def load_facts(engine: AsyncEngine, period: Period, cfg: KpiConfig) -> tuple[Facts, list[InboundCall]]:
    """The facts of ``period`` (with their outcomes) and the call history the 48 h / 7 d rules need."""
    start = period.start - MARGIN if period.start else None
    end = period.end + MARGIN if period.end else None
    events = await events_between(engine, start, end)
    new_leads = [
        e.lead_id for e in events if e.kind is EventKind.LEAD_CREATED and e.lead_id and e.at in period
    ]
    seen = {e.event_id for e in events}
    events += [e for e in await events_of_leads(engine, new_leads) if e.event_id not in seen]
    history_start = period.start - cfg.repeat_window if period.start else None
    history_end = period.end + cfg.fcr_window if period.end else None
    history = derive_facts(await call_starts_between(engine, history_start, history_end)).calls
    return derive_facts(events), list(history)
