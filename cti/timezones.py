"""A timezone setting: an IANA name, checked when the configuration or a flow is read."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
