"""The do-not-call list in the store (``dnc_numbers``, E.164): a number on it is never dialled.

Numbers come in by hand (``cti dnc add``, ``POST /api/dnc``) and from CSV files (``cti dnc
import``): one number per line, or a column named phone, number, 电话 or 手机. Every number is
read with ``read_number`` in the center's region, so ``138 0013 8000`` and ``+8613800138000``
are one entry; the list takes any valid number of any country and type (a number the center
may call only later is listed all the same), never an emergency or a short code. A file is read
whole before anything is written: one that cannot be read (not UTF-8, not CSV) writes nothing;
a line that holds no number is reported with why, and the others are written. Importing the
same file again adds nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import Row, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.errors import CtiError
from cti.events import from_us, to_us
from cti.outbound.numbers import NUMBER_TYPES, NumberPolicy, read_number
from cti.outbound.refusal import Refusal
from cti.store.models import DncNumberRow

_CHUNK = 500  # numbers per query: far below any database's limit on bound parameters
NUMBER_COLUMNS = ("phone", "number", "电话", "手机")  # a header naming the number's column
NOTE_MAX = 200  # dnc_numbers.note


class DncFileError(CtiError):
    """A do-not-call file that cannot be read at all: nothing of it is written."""


@dataclass(frozen=True)
class DncEntry:
    number: str  # E.164
    source: str  # import | api | cli
    note: str | None
    added_at_us: int
    added_by: str | None

    @property
    def added_at(self) -> str:
        return from_us(self.added_at_us).isoformat(timespec="seconds")

    def shown(self) -> dict[str, str | None]:
        """The entry as the API and ``cti dnc list --json`` show it."""
        fields = ("number", "source", "note", "added_at", "added_by")
        return {name: getattr(self, name) for name in fields}


@dataclass(frozen=True)
class RefusedLine:
    line: int
    reason: str  # never the whole number


@dataclass(frozen=True)
class DncFile:
    """What a file holds: its numbers (E.164, in order, each once) and the lines refused."""

    numbers: tuple[str, ...]
    refused: tuple[RefusedLine, ...]


def dnc_policy(region: str) -> NumberPolicy:
    """How the list reads numbers: ``region`` for numbers without a country code; any country
    and type (but no emergency or short code, and nothing that is no valid number)."""
    regions = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"001"}  # 001: +800 and other non-geographic
    return NumberPolicy(region.upper(), regions, frozenset(NUMBER_TYPES) | {"unknown"})


def read_dnc_file(data: bytes, policy: NumberPolicy) -> DncFile:
    """The numbers of a CSV file (UTF-8): one per line, or the column a header names."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DncFileError(f"line {line}: not UTF-8 (byte {exc.start + 1}): save it as UTF-8 CSV") from exc
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DncFileError(f"not a CSV file: {exc}") from exc
    column = _number_column(rows[0]) if rows else None
    numbers: dict[str, int] = {}  # E.164 -> first line
    refused: list[RefusedLine] = []
    for line, cells in enumerate(rows, start=1):
        if (column is not None and line == 1) or not any(cell.strip() for cell in cells):
            continue
        if column is None and len(cells) > 1:
            said = ", ".join(NUMBER_COLUMNS)
            refused.append(RefusedLine(line, f"{len(cells)} cells and no header naming one of {said}"))
            continue
        index = column if column is not None else 0
        raw = cells[index] if len(cells) > index else ""
        number = read_number(raw, policy)
        if isinstance(number, Refusal):
            refused.append(RefusedLine(line, f"{number.rule.value}: {number.reason}"))
        else:
            numbers.setdefault(number.e164, line)
    return DncFile(tuple(numbers), tuple(refused))


def _number_column(header: Sequence[str]) -> int | None:
    names = [cell.strip().lower() for cell in header]
    return next((names.index(name) for name in NUMBER_COLUMNS if name in names), None)


async def listed(connection: AsyncConnection, numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` (E.164) are on the do-not-call list."""
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await connection.execute(select(DncNumberRow.number).where(DncNumberRow.number.in_(chunk)))
        found.update(rows.scalars())
    return found


async def add_numbers(
    engine: AsyncEngine,
    numbers: Sequence[str],
    *,
    source: str,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
) -> int:
    """Put ``numbers`` (E.164) on the list in one transaction; returns how many were new (one
    already listed keeps its note and date)."""
    if note is not None and len(note) > NOTE_MAX:
        raise ValueError(f"a note is at most {NOTE_MAX} characters, this one {len(note)}")
    added = 0
    async with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        for start in range(0, len(numbers), _CHUNK):
            rows = [
                {"number": n, "source": source, "note": note, "added_at_us": to_us(now), "added_by": by}
                for n in numbers[start : start + _CHUNK]
            ]
            statement = dialect.insert(DncNumberRow).on_conflict_do_nothing(index_elements=["number"])
            added += len((await connection.execute(statement.returning(DncNumberRow.number), rows)).all())
    return added


async def remove_number(engine: AsyncEngine, number: str) -> bool:
    """Take ``number`` (E.164) off the list; False if it was not on it."""
    async with engine.begin() as connection:
        result = await connection.execute(
            delete(DncNumberRow).where(DncNumberRow.number == number).returning(DncNumberRow.number)
        )
        return result.first() is not None


async def find_number(engine: AsyncEngine, number: str) -> DncEntry | None:
    async with engine.connect() as connection:
        row = (await connection.execute(select(DncNumberRow).where(DncNumberRow.number == number))).first()
    return None if row is None else _entry(row)


async def all_numbers(engine: AsyncEngine) -> list[DncEntry]:
    """The whole list, newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(DncNumberRow).order_by(DncNumberRow.added_at_us.desc(), DncNumberRow.number)
        )
        return [_entry(row) for row in rows]


def _entry(row: Row[Any]) -> DncEntry:
    return DncEntry(row.number, row.source, row.note, row.added_at_us, row.added_by)
