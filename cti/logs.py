"""Structured logging with phone numbers masked.

Callers' numbers are personal data: no log line carries one whole. Masking is done on the
final text by a formatter, so it also covers numbers inside exception text and
third-party messages. A number is 7 to 15 digits (E.164 allows 15), optionally after '+',
not glued to letters, dots or dashes: that keeps Asterisk's unique ids ("1732345678.12") and
UUIDs readable while masking "13800138000" and "+8613800138000". The last four digits stay,
which is what an agent reads back to a caller.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_PHONE = re.compile(r"(?<![\w.\-])\+?\d{7,15}(?![\w\-]|\.\d)")
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def mask_phone_numbers(text: str) -> str:
    """Replace every digit of each phone number but the last four with '*'."""

    def _mask(match: re.Match[str]) -> str:
        number = match.group(0)
        return re.sub(r"\d", "*", number[:-4]) + number[-4:]

    return _PHONE.sub(_mask, text)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for logs, errors and `cti config show`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _RECORD_FIELDS}


class MaskingFormatter(logging.Formatter):
    """Human-readable lines: time, level, logger, message, then key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        return mask_phone_numbers(f"{line} {extras}" if extras else line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, extras as top-level keys, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask_phone_numbers(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Send the whole process's logs to stderr through the masking formatter."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log and Alembic's per-migration chatter would drown the call flow.
    for chatty in ("aiohttp", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
