"""Why a number is not dialled: every refusal names its rule, says why in words, and (where
waiting helps) when it may be tried again. Refusals are recorded (``dial_refused`` events)
and logged, never silent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Rule(StrEnum):
    """The rules a dial can break. Names are stable: they are stored in events and reported."""

    BAD_NUMBER = "bad_number"  # not a number at all, or not a valid one where it claims to be
    EMERGENCY = "emergency"  # an emergency number (110, 119, 120, 122, 112...)
    SHORT_CODE = "short_code"  # another short service code (95588, 12345...): no subscriber
    PREMIUM = "premium"  # premium rate, shared cost, UAN...: a type the center did not allow
    INTERNATIONAL = "international"  # a country the center does not call
    DNC = "dnc"  # on the do-not-call list
    CALLING_HOURS = "calling_hours"  # outside the calling window in the callee's local time
    RATE_24H = "rate_24h"  # too many calls to this number in 24 h
    RATE_5MIN = "rate_5min"  # too many calls to this number in 5 minutes
    ABANDON_LOCKOUT = "abandon_lockout"  # an abandoned call to this number is too recent
    # The rules could not be checked (the store or Redis did not answer in time): no dial on
    # a guess; tried again later.
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    reason: str  # for people: what was wrong, with the value where it is no personal data
    retry_at: datetime | None = None  # when the same dial may be allowed (None: not by waiting)
