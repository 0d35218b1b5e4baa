"""The rules no dial may break, decided from what is known of a number: calling hours in the
callee's local time, the do-not-call list, at most N calls to one number in 24 h and M in 5
minutes, and no redial for a while after an abandoned call (DESIGN.md §8). Pure: the guard
(``cti.outbound.guard``) reads the facts and records the verdicts.

Calling hours are the callee's (China's carriers enforce 08:00-21:00 Beijing time; the US TCPA
8 am-9 pm at the called party's location). ``phonenumbers`` gives the timezones a number may be
in: a number is called only while the window is open in *every* one of them (a US toll-free
number may ring anywhere from Guam to Halifax); a number with no known zone is judged in the
center's timezone. A refusal that waiting cures says when the dial may be tried again: the next
opening of the window, the moment the oldest counted call leaves its window, the end of the
lock-out, whichever comes last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones

from cti.outbound.numbers import Dialable
from cti.outbound.refusal import Refusal, Rule

if TYPE_CHECKING:  # cti.settings reads calling hours with this module's reader
    from cti.settings import OutboundSettings

DAY = timedelta(hours=24)
FIVE_MINUTES = timedelta(minutes=5)
_UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer for a number it cannot place
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_LOOK_AHEAD_DAYS = 8  # windows that do not meet within a week never meet


@dataclass(frozen=True)
class Window:
    """A daily calling window in local time: from ``start`` (included) to ``end`` (excluded),
    both minutes after midnight; ``end`` may be 1440 (24:00)."""

    start: int
    end: int

    def holds(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_calling_hours(text: str) -> tuple[Window, ...]:
    """``"08:00-21:00"`` (or several windows, comma-separated: ``"08:00-12:00, 13:30-21:00"``;
    ``"00:00-24:00"``: any time) as windows; ``ValueError`` saying which part is wrong."""
    windows = []
    for part in text.split(","):
        found = _WINDOW.match(part)
        if found is None:
            raise ValueError(f"calling hours {text!r}: {part.strip()!r} is not HH:MM-HH:MM")
        start_h, start_m, end_h, end_m = (int(group) for group in found.groups())
        if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
            raise ValueError(f"calling hours {text!r}: {part.strip()!r} is no time of day")
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if end <= start:
            raise ValueError(f"calling hours {text!r}: {part.strip()!r} ends before it starts")
        windows.append(Window(start, end))
    return tuple(sorted(windows, key=lambda window: window.start))


def number_zones(number: Dialable, center: ZoneInfo) -> tuple[ZoneInfo, ...]:
    """The timezones the number may ring in (phonenumbers' geography), else the center's."""
    names = number_timezones.time_zones_for_number(phonenumbers.parse(number.e164))
    zones = []
    for name in names:
        if name == _UNKNOWN_ZONE:
            continue
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:  # a zone this system's tz database lacks: judged as unknown
            continue
    return tuple(zones) or (center,)


@dataclass(frozen=True)
class CallingRules:
    hours: tuple[Window, ...]
    center: ZoneInfo  # where a number with no known timezone is judged
    max_calls_24h: int
    max_calls_5min: int
    abandon_lockout: timedelta  # 0: no lock-out

    @classmethod
    def from_settings(cls, settings: OutboundSettings, center_timezone: str) -> CallingRules:
        """The rules of ``[outbound]``; ``center_timezone``: the center's (``[kpi] timezone``)."""
        return cls(
            parse_calling_hours(settings.calling_hours),
            ZoneInfo(center_timezone),
            settings.max_calls_24h,
            settings.max_calls_5min,
            timedelta(hours=settings.abandon_lockout_h),
        )

    def within(self, calling_hours: str | None) -> CallingRules:
        """These rules with a campaign's own calling hours (``"09:00-18:00"``; None: the
        center's), kept inside the center's: a campaign may call less, never at other hours."""
        if calling_hours is None:
            return self
        return replace(self, hours=_overlap(self.hours, parse_calling_hours(calling_hours)))

    def check(
        self,
        number: Dialable,
        now: datetime,
        *,
        recent_calls: Sequence[datetime],
        last_abandoned: datetime | None,
        on_dnc: bool,
    ) -> Refusal | None:
        """None if ``number`` may be dialled at ``now``, else the first rule it breaks (the
        do-not-call list, the lock-out, the calling hours, the 24 h and 5-minute limits, in that
        order), with ``retry_at``: the first moment every rule allows it (None: never by waiting)."""
        if on_dnc:
            return Refusal(Rule.DNC, "on the do-not-call list")
        zones = number_zones(number, self.center)
        calls = sorted((moment for moment in recent_calls if moment > now - DAY), reverse=True)
        lockout_end = last_abandoned + self.abandon_lockout if last_abandoned is not None else None
        free_24h = _free_at(calls, self.max_calls_24h, DAY)
        free_5min = _free_at(calls, self.max_calls_5min, FIVE_MINUTES)
        broken: list[tuple[Rule, str]] = []
        if lockout_end is not None and now < lockout_end:
            broken.append((Rule.ABANDON_LOCKOUT, _lockout_reason(self.abandon_lockout, lockout_end)))
        closed = [zone for zone in zones if not self._open(now, zone)]
        if closed:
            broken.append((Rule.CALLING_HOURS, self._hours_reason(now, closed)))
        if free_24h is not None and now < free_24h:
            broken.append((Rule.RATE_24H, _rate_reason(calls, now, DAY, "24 h", self.max_calls_24h)))
        if free_5min is not None and now < free_5min:
            broken.append(
                (Rule.RATE_5MIN, _rate_reason(calls, now, FIVE_MINUTES, "5 minutes", self.max_calls_5min))
            )
        if not broken:
            return None
        rule, reason = broken[0]
        # In the clock's zone, whichever zone the facts came in (Redis's are UTC).
        earliest = max([now, *(t for t in (lockout_end, free_24h, free_5min) if t is not None)])
        earliest = earliest.astimezone(now.tzinfo)
        retry_at = self.next_open(earliest, zones)
        if retry_at is None:
            reason += f"; the calling hours {self._hours_text()} never meet in {_names(zones)}"
        return Refusal(rule, reason, retry_at)

    def next_open(self, moment: datetime, zones: Sequence[ZoneInfo]) -> datetime | None:
        """The first moment from ``moment`` on when the window is open in every zone (None if
        the zones' windows never meet). That moment is ``moment`` itself or some zone's opening."""
        candidates = [moment]
        for zone in zones:
            first_day = moment.astimezone(zone).date()
            for offset in range(-1, _LOOK_AHEAD_DAYS):
                day = first_day + timedelta(days=offset)
                candidates += [_opening(day, window, zone) for window in self.hours]
        for candidate in sorted(c for c in candidates if c >= moment):
            if all(self._open(candidate, zone) for zone in zones):
                return candidate.astimezone(moment.tzinfo)
        return None

    def _open(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone)
        return any(window.holds(local) for window in self.hours)

    def _hours_text(self) -> str:
        return ", ".join(str(window) for window in self.hours) or "(none)"

    def _hours_reason(self, now: datetime, closed: Sequence[ZoneInfo]) -> str:
        local = ", ".join(f"{now.astimezone(zone):%H:%M} in {zone.key}" for zone in closed[:3])
        more = f" and {len(closed) - 3} more zones" if len(closed) > 3 else ""
        return f"{local}{more}: outside the calling hours {self._hours_text()} (the callee's local time)"


def _overlap(ours: Sequence[Window], theirs: Sequence[Window]) -> tuple[Window, ...]:
    """The minutes of the day both sets of windows hold."""
    both = (Window(max(a.start, b.start), min(a.end, b.end)) for a in ours for b in theirs)
    return tuple(sorted((w for w in both if w.start < w.end), key=lambda window: window.start))


def _opening(day: date, window: Window, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(window.start // 60, window.start % 60), tzinfo=zone)


def _free_at(calls_newest_first: Sequence[datetime], limit: int, span: timedelta) -> datetime | None:
    """When fewer than ``limit`` of the calls lie within ``span`` before the moment: once the
    ``limit``-th newest has left it (None: fewer calls than the limit, free now)."""
    if len(calls_newest_first) < limit:
        return None
    return calls_newest_first[limit - 1] + span


def _rate_reason(calls: Sequence[datetime], now: datetime, span: timedelta, said: str, limit: int) -> str:
    within = sum(moment > now - span for moment in calls)
    return f"{within} calls to this number in the last {said} (at most {limit})"


def _lockout_reason(lockout: timedelta, until: datetime) -> str:
    hours = lockout.total_seconds() / 3600
    return f"an abandoned call to this number: no redial for {hours:g} h, until {until.isoformat()}"


def _names(zones: Sequence[ZoneInfo]) -> str:
    return ", ".join(zone.key for zone in zones)
