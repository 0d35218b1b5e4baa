"""Writing the CRM: a whole import in one transaction (all or nothing, idempotent), and the
desktop's new customer. The rules are in ``cti.crm.records`` and ``cti.crm.checks``; this module
reads the keys they need and writes what they allowed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.crm.checks import Known, check
from cti.crm.records import Batch, Problem, read_csv
from cti.events import to_us
from cti.store.customers import national_number, number_forms
from cti.store.models import (
    Base,
    CaseRow,
    CustomerRow,
    InsurancePolicyRow,
    PhoneNumberRow,
    ServiceRecordRow,
    VehicleRow,
)

_CHUNK = 500  # keys per IN (...): under every driver's bind-parameter limit


@dataclass(frozen=True)
class Imported:
    problems: tuple[Problem, ...]  # nothing was written when there are any
    written: Mapping[str, int]  # table -> rows added or updated


async def import_files(engine: AsyncEngine, files: Sequence[tuple[str, bytes]], tz: ZoneInfo) -> Imported:
    """Read every file, check the lot against itself and the store, and write it all or nothing
    (every problem is reported, not only the first file's)."""
    batch = Batch()
    problems = [problem for name, data in files for problem in read_csv(name, data, tz, batch)]
    async with engine.begin() as connection:
        problems.extend(check(batch, await _known(connection, batch)))
        if problems:
            return Imported(tuple(sorted(problems, key=lambda p: (p.where.file, p.where.line))), {})
        return Imported((), await _write(connection, batch))


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


async def _rows(
    connection: AsyncConnection, query: Select[*tuple[Any, ...]], column: Any, values: Iterable[str]
) -> list[Any]:
    """``query``'s rows where ``column`` is one of ``values``, asked in chunks."""
    rows: list[Any] = []
    for chunk in _chunks(values):
        rows.extend((await connection.execute(query.where(column.in_(chunk)))).all())
    return rows


async def _known(connection: AsyncConnection, batch: Batch) -> Known:
    plates = {r.plate for _, r in batch.vehicles if r.plate}
    owners = select(PhoneNumberRow.number, CustomerRow.external_ref).join(CustomerRow)
    return Known(
        customer_refs=frozenset(
            row.external_ref
            for row in await _rows(
                connection, select(CustomerRow.external_ref), CustomerRow.external_ref, batch.customer_refs()
            )
        ),
        phone_owners={
            row.number: row.external_ref
            for row in await _rows(connection, owners, PhoneNumberRow.number, batch.phone_forms())
        },
        vins=frozenset(
            row.vin for row in await _rows(connection, select(VehicleRow.vin), VehicleRow.vin, batch.vins())
        ),
        plate_vins={
            row.plate: row.vin
            for row in await _rows(
                connection, select(VehicleRow.plate, VehicleRow.vin), VehicleRow.plate, plates
            )
        },
    )


async def _upsert(
    connection: AsyncConnection, model: type[Base], keys: list[str], rows: list[dict[str, Any]]
) -> int:
    """Insert ``rows``; a row whose ``keys`` are stored already updates that row instead."""
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model)
    updates = {column: statement.excluded[column] for column in rows[0] if column not in keys}
    await connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)
    return len(rows)


async def _ids(connection: AsyncConnection, key: Any, ident: Any, values: Iterable[str]) -> dict[str, int]:
    return {row[0]: row[1] for row in await _rows(connection, select(key, ident), key, values)}


async def _write(connection: AsyncConnection, batch: Batch) -> dict[str, int]:
    written = {
        "customers": 0,
        "phone_numbers": 0,
        "vehicles": 0,
        "service_history": 0,
        "insurance_policies": 0,
        "cases": 0,
    }
    written["customers"] = await _upsert(
        connection,
        CustomerRow,
        ["external_ref"],
        [
            {
                "external_ref": r.ref,
                "name": r.name,
                "segment": r.segment,
                "language": r.language,
                "notes": r.notes,
            }
            for _, r in batch.customers
        ],
    )
    customer = await _ids(connection, CustomerRow.external_ref, CustomerRow.id, batch.customer_refs())
    written["phone_numbers"] = await _new_phones(connection, batch, customer)
    written["vehicles"] = await _upsert(
        connection,
        VehicleRow,
        ["vin"],
        [
            {
                "vin": r.vin,
                "customer_id": customer[r.customer_ref],
                "plate": r.plate,
                "model": r.model,
                "purchased_on": r.purchased_on,
            }
            for _, r in batch.vehicles
        ],
    )
    vehicle = await _ids(connection, VehicleRow.vin, VehicleRow.id, batch.vins())
    written["service_history"] = await _upsert(
        connection,
        ServiceRecordRow,
        ["vehicle_id", "on", "kind"],
        [
            {"vehicle_id": vehicle[r.vin], "on": r.on, "kind": r.kind, "dealer": r.dealer, "notes": r.notes}
            for _, r in batch.service
        ],
    )
    written["insurance_policies"] = await _upsert(
        connection,
        InsurancePolicyRow,
        ["vehicle_id", "expires_on"],
        [
            {
                "vehicle_id": vehicle[r.vin],
                "expires_on": r.expires_on,
                "insurer": r.insurer,
                "renewal_status": r.renewal_status,
            }
            for _, r in batch.insurance
        ],
    )
    written["cases"] = await _upsert(
        connection,
        CaseRow,
        ["external_ref"],
        [
            {
                "external_ref": r.ref,
                "customer_id": customer[r.customer_ref],
                "kind": r.kind,
                "status": r.status,
                "opened_at_us": to_us(r.opened_at),
                "summary": r.summary,
            }
            for _, r in batch.cases
        ],
    )
    return written


async def _new_phones(connection: AsyncConnection, batch: Batch, customer: Mapping[str, int]) -> int:
    """Add the numbers not stored in any form yet (the checks made sure a stored one is the same
    customer's): a second form of one number would make the IVR's lookup see two matches."""
    stored = {
        row.number
        for row in await _rows(
            connection,
            select(PhoneNumberRow.number),
            PhoneNumberRow.number,
            batch.phone_forms(),
        )
    }
    rows: list[dict[str, Any]] = []
    for _, record in batch.customers:
        for number in record.phones:
            forms = set(number_forms(number))
            if not forms & stored:
                rows.append(
                    {"number": number, "customer_id": customer[record.ref], "kind": phone_kind(number)}
                )
                stored |= forms
    if rows:
        await connection.execute(insert(PhoneNumberRow), rows)
    return len(rows)


def phone_kind(number: str) -> str:
    """Mobile (a Chinese mobile number: 11 digits from 1) or landline."""
    national = national_number(number)
    return "mobile" if len(national) == 11 and national.startswith("1") else "landline"


@dataclass(frozen=True)
class NewVehicle:
    vin: str
    model: str
    plate: str | None


@dataclass(frozen=True)
class NewCustomer:
    """The desktop's form for a caller the CRM does not know, its fields checked (``cti.crm.fields``)."""

    name: str
    phone: str
    segment: str
    language: str
    vehicle: NewVehicle | None


class AlreadyStored(Exception):
    """The new customer's number, VIN or plate belongs to a stored customer or vehicle."""


async def create_customer(engine: AsyncEngine, new: NewCustomer) -> int:
    """Store the customer, its number and its vehicle in one transaction; return its id."""
    async with engine.begin() as connection:
        owner = await connection.scalar(
            select(PhoneNumberRow.customer_id)
            .where(PhoneNumberRow.number.in_(number_forms(new.phone)))
            .limit(1)
        )
        if owner is not None:
            raise AlreadyStored(f"the number {new.phone} belongs to customer {owner}")
        if new.vehicle:
            await _vehicle_is_new(connection, new.vehicle)
        customer_id: int = (
            await connection.execute(
                insert(CustomerRow)
                .values(name=new.name, segment=new.segment, language=new.language)
                .returning(CustomerRow.id)
            )
        ).scalar_one()
        rows: list[tuple[type[Base], dict[str, Any]]] = [
            (PhoneNumberRow, {"number": new.phone, "customer_id": customer_id, "kind": phone_kind(new.phone)})
        ]
        if new.vehicle:
            vehicle = {"vin": new.vehicle.vin, "model": new.vehicle.model, "plate": new.vehicle.plate}
            rows.append((VehicleRow, {**vehicle, "customer_id": customer_id}))
        try:
            for model, values in rows:
                await connection.execute(insert(model).values(**values))
        except IntegrityError as exc:  # stored by someone else since the checks above
            raise AlreadyStored(f"the number {new.phone} or the vehicle was stored meanwhile") from exc
    return customer_id


async def _vehicle_is_new(connection: AsyncConnection, vehicle: NewVehicle) -> None:
    same = VehicleRow.vin == vehicle.vin
    if vehicle.plate:
        same |= VehicleRow.plate == vehicle.plate
    for row in await connection.execute(select(VehicleRow.vin, VehicleRow.customer_id).where(same).limit(1)):
        what = f"the VIN {vehicle.vin}" if row.vin == vehicle.vin else f"the plate {vehicle.plate}"
        raise AlreadyStored(f"{what} belongs to customer {row.customer_id}")
