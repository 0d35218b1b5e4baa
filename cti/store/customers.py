"""Who is calling: the CRM side of the store, read by the IVR's ``lookup`` nodes.

A customer is found by the number they call from (``phone_numbers``), by a vehicle's plate or
by the last six characters of its VIN (the digits a caller keys). The result is a flat mapping
of strings, because it lands in the IVR's call variables (``customer.segment`` and so on) and
later in the screen-pop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.store.models import CustomerRow, PhoneNumberRow, VehicleRow

#: What a ``lookup`` node may search by, besides ``caller_number``: the collected variable's
#: name says what the caller keyed.
BY_CALLER_NUMBER = "caller_number"
BY_PLATE = "plate"
BY_VIN_LAST6 = "vin_last6"


def _query(by: str, value: str) -> Select[Any]:
    if by == BY_PLATE:
        return select(CustomerRow).join(VehicleRow).where(func.upper(VehicleRow.plate) == value.upper())
    if by == BY_VIN_LAST6:
        return select(CustomerRow).join(VehicleRow).where(func.upper(VehicleRow.vin).endswith(value.upper()))
    # The caller's number, or any other collected number (a callback number keyed by hand).
    return select(CustomerRow).join(PhoneNumberRow).where(PhoneNumberRow.number.in_(number_forms(value)))


def national_number(number: str) -> str:
    """The number without +86 or 0086 (as dialled within China)."""
    digits = number.removeprefix("+").removeprefix("00")
    return digits.removeprefix("86") if len(digits) > 11 else digits


def number_forms(number: str) -> list[str]:
    """The forms one Chinese number is stored in: as dialled, without +86/0086, with +86."""
    national = national_number(number)
    return sorted({number, national, f"+86{national.lstrip('0')}"})


async def find_customer(engine: AsyncEngine, by: str, value: str) -> Mapping[str, str] | None:
    """The one customer ``value`` identifies, or None (also when it matches several: ambiguous)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(_query(by, value).limit(2))).all()
    if len(rows) != 1:
        return None
    customer = rows[0]
    return {
        "id": str(customer.id),
        "name": customer.name,
        "segment": customer.segment,
        "language": customer.language,
    }
