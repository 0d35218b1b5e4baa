"""The CRM's field rules, one place for the CSV import and the desktop's new-customer form.

Each parser takes the text as typed and returns the value as stored, or raises ValueError with
a message that says what is wrong in words a center's staff can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti.ivr.model import SUPPORTED_LANGUAGES

SEGMENTS = ("regular", "vip")
#: A customer's language is one the IVR can speak to them in.
LANGUAGES = tuple(sorted(SUPPORTED_LANGUAGES))
DEFAULT_LANGUAGE = "zh"
RENEWAL_STATUSES = ("due", "quoted", "renewed", "lost")
CASE_KINDS = ("complaint", "repair", "roadside", "inquiry")
CASE_STATUSES = ("open", "closed")

_PHONE = re.compile(r"\+?\d{3,20}")
#: ISO 3779: a VIN's characters are digits and capitals except I, O and Q (they read as 1 and 0).
_VIN_CHARACTERS = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
_KIND = re.compile(r"[a-z][a-z0-9_]*")


def text(value: str, longest: int) -> str:
    if len(value) > longest:
        raise ValueError(f"{len(value)} characters, at most {longest}")
    return value


def name(value: str) -> str:
    """A customer's name (the store keeps 128 characters)."""
    return text(value, 128)


def model(value: str) -> str:
    """A vehicle's model (the store keeps 64 characters)."""
    return text(value, 64)


def segment(value: str) -> str:
    return choice(value, SEGMENTS)


def language(value: str) -> str:
    return choice(value, LANGUAGES)


def choice(value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    return value


def phone(value: str) -> str:
    """A phone number as stored: spaces and dashes dropped, digits with an optional leading +."""
    number = re.sub(r"[\s-]", "", value)
    if not _PHONE.fullmatch(number):
        raise ValueError(f"{value!r} is not a phone number (3 to 20 digits, optionally after +)")
    return number


def vin(value: str) -> str:
    code = value.upper()
    if len(code) != 17:
        raise ValueError(f"{value!r} has {len(code)} characters, a VIN has 17")
    wrong = sorted(set(code) - _VIN_CHARACTERS)
    if wrong:
        raise ValueError(
            f"{value!r} holds {', '.join(map(repr, wrong))}: a VIN has digits and letters but I, O, Q"
        )
    return code


def plate(value: str) -> str:
    """A plate as stored: capitals, spaces dropped (沪A·12345); the IVR's plate lookup compares so."""
    return text(re.sub(r"\s", "", value).upper(), 16)


def kind(value: str) -> str:
    if not _KIND.fullmatch(value):
        raise ValueError(f"{value!r} is not a kind (lower-case letters, digits, _)")
    return text(value, 32)


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def moment(value: str, tz: ZoneInfo) -> datetime:
    """A date or a date and time; without an offset it is the center's local time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date or date and time (YYYY-MM-DD[THH:MM])") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


class Cells:
    """A CSV row's cells or a form's fields, parsed one by one: each bad field is noted (field,
    problem) and none stops the others, so one answer names every problem."""

    def __init__(self, cells: Mapping[str, str]) -> None:
        self.cells = cells
        self.problems: list[tuple[str, str]] = []

    def get(
        self, column: str, parse: Callable[[str], Any], default: Any = None, required: bool = False
    ) -> Any:
        value = self.cells.get(column, "").strip()
        if not value:
            if required:
                self.problems.append((column, "missing"))
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problems.append((column, str(exc)))
            return default
