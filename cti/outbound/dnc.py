"""The do-not-call list in the store (``dnc_numbers``, E.164): a number on it is never dialled."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.store.models import DncNumberRow

_CHUNK = 500  # numbers per query: far below any database's limit on bound parameters


async def listed(connection: AsyncConnection, numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` (E.164) are on the do-not-call list."""
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await connection.execute(select(DncNumberRow.number).where(DncNumberRow.number.in_(chunk)))
        found.update(rows.scalars())
    return found
