"""Loading what a report needs from the store: the period's facts and the calls around them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.kpi.definitions import KpiConfig
from cti.kpi.facts import Facts, InboundCall
from cti.kpi.report import Period
from cti.store.projection import facts_between


async def load_facts(engine: AsyncEngine, period: Period, cfg: KpiConfig) -> tuple[Facts, list[InboundCall]]:
    """The facts of ``period`` and the calls from 48 h before it to 7 days after it (the repeat-call
    and FCR rules look there), as the store keeps them: each derived from all its call's events."""
    calls = Period(
        period.start - cfg.repeat_window if period.start else None,
        period.end + cfg.fcr_window if period.end else None,
    )
    return await facts_between(engine, period, calls)
