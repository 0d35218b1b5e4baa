"""KPIs from call events: definitions (pure), facts, reports, queue_log import, SQL queries."""

from cti.kpi.definitions import DEFINITIONS_VERSION, KpiConfig
from cti.kpi.facts import Facts, derive_facts
from cti.kpi.report import GROUP_BY, Period, build_report

__all__ = ["DEFINITIONS_VERSION", "GROUP_BY", "Facts", "KpiConfig", "Period", "build_report", "derive_facts"]
