"""A campaign's fields as people and programs give them (the CLI's options, the API's JSON),
checked into a ``cti.outbound.campaigns.Campaign``: every bad field is named with what is wrong,
all of them at once, and the center's limits are never widened. Pure."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from cti.errors import CtiError
from cti.outbound.campaigns import (
    ALL_WEEKDAYS,
    DEFAULT_RETRIES,
    RETRY_RESULTS,
    CallingHours,
    Campaign,
    CampaignKind,
    CampaignSettings,
    CampaignStatus,
    CenterLimits,
    DialMode,
    RetryRule,
    Schedule,
    StatusRefused,
)

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TITLE_MAX = 200
QUEUE_MAX = 64
MAX_ATTEMPTS_LIMIT = 20  # a campaign that wants more is harassing someone
RETRY_AFTER_MIN_S = 60
RETRY_AFTER_MAX_S = 30 * 86_400
SKIP_DAYS_MAX = 365


class CampaignInvalid(CtiError):
    """A campaign's fields are wrong: ``problems`` maps each bad field to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        said = "; ".join(f"{key}: {problem}" for key, problem in sorted(self.problems.items()))
        super().__init__(f"the campaign has bad fields: {said}")


def new_campaign(
    fields: Mapping[str, Any], limits: CenterLimits, queues: Collection[str] | None = None
) -> Campaign:
    """A draft campaign from ``fields`` (name, title, kind, queue, dial_mode, settings: the JSON
    shape ``to_json`` writes; settings may leave out anything that has a default). ``queues``:
    the ACD's queue names, when known. ``CampaignInvalid`` names every bad field."""
    problems: dict[str, str] = {}
    unknown = sorted(set(fields) - {"name", "title", "kind", "queue", "dial_mode", "settings"})
    for key in unknown:
        problems[key] = "not a field of a campaign (name, title, kind, queue, dial_mode, settings)"
    name = _checked(problems, "name", fields.get("name"), _name)
    campaign = _campaign_fields(problems, name or "", CampaignStatus.DRAFT, fields, limits, queues)
    if problems or campaign is None:
        raise CampaignInvalid(problems)
    return campaign


def updated_campaign(
    campaign: Campaign,
    changes: Mapping[str, Any],
    limits: CenterLimits,
    queues: Collection[str] | None = None,
) -> Campaign:
    """``campaign`` with ``changes`` (any of title, kind, queue, dial_mode, settings; a settings
    object replaces the whole settings). Its name and status are not changed this way; a
    stopped campaign is not changed at all."""
    problems: dict[str, str] = {}
    if campaign.status == CampaignStatus.STOPPED:
        raise StatusRefused(f"campaign {campaign.name} is stopped, which is final: create a new one")
    for key in sorted(set(changes) - {"title", "kind", "queue", "dial_mode", "settings"}):
        problems[key] = "cannot be changed (title, kind, queue, dial_mode, settings can)"
    merged = {**{k: v for k, v in campaign.to_json().items() if k != "settings"}, **changes}
    if "settings" not in changes:
        merged["settings"] = campaign.settings.to_json()
    result = _campaign_fields(problems, campaign.name, campaign.status, merged, limits, queues)
    if problems or result is None:
        raise CampaignInvalid(problems)
    return result


def campaign_from_row(
    name: str, title: str, kind: str, queue: str, dial_mode: str, status: str, settings: Mapping[str, Any]
) -> Campaign:
    """A stored campaign as it was validated when written (no limits checked again: the center's
    may have narrowed since, and the rules module applies the stricter of both at the dial)."""
    return Campaign(
        name,
        title,
        CampaignKind(kind),
        queue,
        DialMode(dial_mode),
        CampaignStatus(status),
        settings_from_json(settings, None, {}),
    )


def _campaign_fields(
    problems: dict[str, str],
    name: str,
    status: CampaignStatus,
    fields: Mapping[str, Any],
    limits: CenterLimits,
    queues: Collection[str] | None,
) -> Campaign | None:
    title = _checked(problems, "title", fields.get("title"), _title)
    kind = _checked(problems, "kind", fields.get("kind"), lambda v: _choice(v, CampaignKind))
    queue = _checked(problems, "queue", fields.get("queue"), lambda v: _queue(v, queues))
    dial_mode = _checked(
        problems,
        "dial_mode",
        fields.get("dial_mode", DialMode.PROGRESSIVE.value),
        lambda v: _choice(v, DialMode),
    )
    raw = fields.get("settings", {})
    if not isinstance(raw, Mapping):
        problems["settings"] = "must be an object"
        raw = {}
    settings = settings_from_json(raw, limits, problems)
    if title is None or kind is None or queue is None or dial_mode is None or problems:
        return None
    return Campaign(name, title, kind, queue, dial_mode, status, settings)


def settings_from_json(
    data: Mapping[str, Any], limits: CenterLimits | None, problems: dict[str, str]
) -> CampaignSettings:
    """Settings from their JSON shape; each bad field is added to ``problems`` as
    ``settings.<field>`` (a default stands in for it). ``limits``: None skips the center's."""
    default = CampaignSettings()
    for key in sorted(set(data) - set(default.to_json())):
        problems[f"settings.{key}"] = f"not a setting ({', '.join(default.to_json())})"

    def get(key: str, parse: Any, fallback: Any) -> Any:
        value = _checked(problems, f"settings.{key}", data[key], parse) if key in data else None
        return fallback if value is None else value

    hours = _checked(problems, "settings.calling_hours", data.get("calling_hours"), _hours)
    if hours is not None and limits is not None and not hours.within(limits.calling_hours):
        problems["settings.calling_hours"] = f"{hours} is wider than the center's {limits.calling_hours}"
    cap = _checked(problems, "settings.abandon_cap", data.get("abandon_cap"), _fraction)
    if cap is not None and limits is not None and cap > limits.abandon_cap:
        problems["settings.abandon_cap"] = f"{cap} is above the center's cap {limits.abandon_cap}"
    return CampaignSettings(
        calling_hours=hours,
        retries=get("retries", lambda v: _retries(v, problems), default.retries),
        max_attempts=get("max_attempts", lambda v: _whole(v, 1, MAX_ATTEMPTS_LIMIT), default.max_attempts),
        abandon_cap=cap,
        skip_called_within_days=get(
            "skip_called_within_days", lambda v: _whole(v, 0, SKIP_DAYS_MAX), default.skip_called_within_days
        ),
        schedule=get("schedule", lambda v: _schedule(v, problems), default.schedule),
    )


def _checked(problems: dict[str, str], key: str, value: Any, parse: Any) -> Any:
    """``parse(value)``, or None with the ``ValueError``'s message recorded under ``key``
    (a None value is None: a missing required field is the parser's to refuse)."""
    try:
        return parse(value)
    except ValueError as exc:
        problems.setdefault(key, str(exc))
        return None


def _text(value: Any, longest: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("required: a non-empty text")
    if len(value.strip()) > longest:
        raise ValueError(f"{len(value.strip())} characters, at most {longest}")
    return value.strip()


def _name(value: Any) -> str:
    text = _text(value, 64)
    if not NAME.fullmatch(text):
        raise ValueError(f"{text!r}: use 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
    return text


def _title(value: Any) -> str:
    return _text(value, TITLE_MAX)


def _queue(value: Any, queues: Collection[str] | None) -> str:
    text = _text(value, QUEUE_MAX)
    if queues is not None and text not in queues:
        raise ValueError(f"{text!r} is not a queue of the ACD ({', '.join(sorted(queues))})")
    return text


def _choice(value: Any, enum: type[StrEnum]) -> Any:
    names = [member.value for member in enum]
    if value not in names:
        raise ValueError(f"{value!r} is not one of {', '.join(names)}")
    return enum(value)


def _hours(value: Any) -> CallingHours | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a window such as 09:00-20:00, or null for the center's")
    return CallingHours.parse(value)


def _fraction(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"{value!r} is not a fraction between 0 and 1 (0.03 is 3 %)")
    return float(value)


def _whole(value: Any, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ValueError(f"{value!r} is not a whole number from {least} to {most}")
    return value


def _retries(value: Any, problems: dict[str, str]) -> dict[str, RetryRule]:
    """Rules by result; a result left out keeps its default, ``null`` turns its retries off."""
    if not isinstance(value, Mapping):
        raise ValueError(f"an object of rules by result ({', '.join(RETRY_RESULTS)})")
    rules = dict(DEFAULT_RETRIES)
    for result, rule in value.items():
        key = f"settings.retries.{result}"
        if result not in RETRY_RESULTS:
            problems[key] = f"not a result that is retried ({', '.join(RETRY_RESULTS)})"
        elif rule is None:
            del rules[result]
        elif not isinstance(rule, Mapping) or set(rule) != {"after_s", "max_attempts"}:
            problems[key] = 'a rule such as {"after_s": 600, "max_attempts": 3}, or null for none'
        else:
            after = _checked(problems, f"{key}.after_s", rule["after_s"], _after)
            most = _checked(problems, f"{key}.max_attempts", rule["max_attempts"], _attempts)
            if after is not None and most is not None:
                rules[result] = RetryRule(after, most)
    return rules


def _after(value: Any) -> int:
    return _whole(value, RETRY_AFTER_MIN_S, RETRY_AFTER_MAX_S)


def _attempts(value: Any) -> int:
    return _whole(value, 1, MAX_ATTEMPTS_LIMIT)


def _day(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date such as 2026-12-31") from None


def _schedule(value: Any, problems: dict[str, str]) -> Schedule:
    if not isinstance(value, Mapping):
        raise ValueError("an object with start_on, end_on, weekdays")
    for key in sorted(set(value) - {"start_on", "end_on", "weekdays"}):
        problems[f"settings.schedule.{key}"] = "not a field of a schedule (start_on, end_on, weekdays)"
    start = _checked(problems, "settings.schedule.start_on", value.get("start_on"), _day)
    end = _checked(problems, "settings.schedule.end_on", value.get("end_on"), _day)
    if start is not None and end is not None and end < start:
        problems["settings.schedule.end_on"] = f"{end} is before start_on {start}"
    days = _checked(
        problems, "settings.schedule.weekdays", value.get("weekdays", sorted(ALL_WEEKDAYS)), _weekdays
    )
    return Schedule(start, end, days or ALL_WEEKDAYS)


def _weekdays(value: Any) -> frozenset[int]:
    if (
        not isinstance(value, list | tuple)
        or not value
        or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in value)
    ):
        raise ValueError(f"{value!r}: a non-empty list of ISO weekdays, 1 Monday ... 7 Sunday")
    return frozenset(value)
