"""What keyed digits must look like, per ``collect`` node ``validate`` kind. Pure.

The patterns follow Chinese numbering: mobile numbers are 11 digits starting 13-19 and
landlines are a trunk-prefixed area code plus a 7-8 digit subscriber number; area codes are
010, 02X or a 4-digit 0XXX code (the MIIT national numbering plan). Plates cannot be keyed
whole (the province character and letters have no DTMF), so callers key the digits only.
The last 6 VIN characters are the serial number, numeric for volume makers (ISO 3779).
"""

from __future__ import annotations

import re

from cti.ivr.model import Validation

_PATTERNS = {
    Validation.PHONE: re.compile(r"1[3-9]\d{9}|0\d{9,11}"),
    Validation.PLATE_DIGITS: re.compile(r"\d{3,6}"),
    Validation.VIN_LAST6: re.compile(r"\d{6}"),
    Validation.AREA_CODE: re.compile(r"0(10|2\d|[3-9]\d{2})"),
}


#: Shortest and longest entry each pattern accepts: a ``collect`` whose digit range misses them
#: all refuses every caller, which ``cti flows check`` reports.
LENGTHS = {
    Validation.PHONE: (10, 12),
    Validation.PLATE_DIGITS: (3, 6),
    Validation.VIN_LAST6: (6, 6),
    Validation.AREA_CODE: (3, 4),
}


def digits_valid(kind: Validation | None, digits: str) -> bool:
    """Whether ``digits`` (already within the node's min/max) pass the node's validation."""
    return kind is None or _PATTERNS[kind].fullmatch(digits) is not None
