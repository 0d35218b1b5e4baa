"""The center's targets and the headline figures a manager reads first (pure).

Targets are settings (``[kpi] target_*``), not definitions: they say what the center aims for,
the definitions say what a number means. A headline with nothing to measure is "no data",
neither met nor missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Targets:
    """At least this share answered within three rings, within T, contacted within a minute;
    at most this share abandoned."""

    three_ring_rate: float = 0.90
    service_level: float = 0.80
    abandon_rate: float = 0.05
    one_minute_contact_rate: float = 0.95

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0 <= value <= 1:
                raise ValueError(f"target {name} must be a share between 0 and 1, not {value}")


class Status(StrEnum):
    MET = "met"
    MISSED = "missed"
    NO_DATA = "no_data"


class Headline(NamedTuple):
    key: str  # the KPI's key in a report row
    value: float | None
    target: float
    at_most: bool  # the target is a ceiling (abandonment), not a floor
    status: Status
    part: int | None = None  # the counts behind the rate, when the report has them
    whole: int | None = None


# (KPI, its numerator and denominator in a report row, whether the target is a ceiling)
_HEADLINES: tuple[tuple[str, str | None, str | None, bool], ...] = (
    ("three_ring_rate", "answered_within_three_rings", "offered", False),
    ("service_level", None, "answered", False),
    ("abandon_rate", "abandoned", "offered", True),
    ("one_minute_contact_rate", "leads_contacted_within_one_minute", "leads", False),
)


def status(value: float | None, target: float, at_most: bool) -> Status:
    if value is None:
        return Status.NO_DATA
    return Status.MET if (value <= target if at_most else value >= target) else Status.MISSED


def headlines(row: dict[str, Any], targets: Targets) -> list[Headline]:
    """The four headline KPIs of a report row against the targets."""
    return [
        Headline(
            key,
            row.get(key),
            getattr(targets, key),
            at_most,
            status(row.get(key), getattr(targets, key), at_most),
            row.get(part) if part else None,
            row.get(whole) if whole else None,
        )
        for key, part, whole, at_most in _HEADLINES
    ]
