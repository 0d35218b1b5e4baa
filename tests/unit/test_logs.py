import json
import logging

import pytest

from cti.logs import JsonFormatter, MaskingFormatter, mask_phone_numbers, redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caller 13800138000 entered", "caller *******8000 entered"),
        ("from +8613800138000.", "from +*********8000."),
        ("ext 4000 and agent 1001", "ext 4000 and agent 1001"),
        ("uniqueid 1732345678.12 stays", "uniqueid 1732345678.12 stays"),
        ("uuid 12345678-9abc-def0 stays", "uuid 12345678-9abc-def0 stays"),
        ("sim-1234567890abcdef stays", "sim-1234567890abcdef stays"),
        ("two: 021-5555 and 02155551234", "two: 021-5555 and *******1234"),
    ],
)
def test_phone_numbers_are_masked_but_ids_stay(text: str, expected: str) -> None:
    assert mask_phone_numbers(text) == expected


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("cti.test", logging.INFO, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_extras_and_mask_numbers_everywhere() -> None:
    line = JsonFormatter().format(record("call from %s", "13912345678", caller="13912345678", channel="c-1"))
    entry = json.loads(line)
    assert entry["msg"] == "call from *******5678"
    assert entry["caller"] == "*******5678"
    assert entry["channel"] == "c-1"
    assert entry["level"] == "INFO"


def test_human_lines_append_extras_masked() -> None:
    line = MaskingFormatter("%(levelname)s %(message)s").format(record("hello", caller="13912345678"))
    assert line == "INFO hello caller=*******5678"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://cti:s3cret@127.0.0.1:5432/cti",
            "postgresql+psycopg://cti:***@127.0.0.1:5432/cti",
        ),
        ("redis://:pw@10.0.0.5/0", "redis://:***@10.0.0.5/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("sqlite+aiosqlite:///var/cti.sqlite3", "sqlite+aiosqlite:///var/cti.sqlite3"),
    ],
)
def test_passwords_in_urls_are_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown
