"""CRM CSV files read into records, with a problem per bad line and field (pure, no store).

A file's kind is read from its header: the one kind whose required columns it has (customers:
customer_ref, name, phones; vehicles: vin, customer_ref, model; service: vin, date, kind;
insurance: vin, insurer, expires_on; cases: case_ref, customer_ref, kind, opened_at), so files
can be named anything and given in any order. A column no kind knows is a problem (a typo would
otherwise drop a field silently). Files are UTF-8, with or without a byte-order mark (Excel's).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti.crm import fields
from cti.store.customers import number_forms


@dataclass(frozen=True)
class Where:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Problem:
    where: Where
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class CustomerRecord:
    ref: str
    name: str
    segment: str
    language: str
    phones: tuple[str, ...]
    notes: str | None


@dataclass(frozen=True)
class VehicleRecord:
    vin: str
    customer_ref: str
    plate: str | None
    model: str
    purchased_on: date | None


@dataclass(frozen=True)
class VisitRecord:
    vin: str
    on: date
    kind: str
    dealer: str | None
    notes: str | None


@dataclass(frozen=True)
class PolicyRecord:
    vin: str
    insurer: str
    expires_on: date
    renewal_status: str


@dataclass(frozen=True)
class CaseRecord:
    ref: str
    customer_ref: str
    kind: str
    status: str
    opened_at: datetime
    summary: str


Record = CustomerRecord | VehicleRecord | VisitRecord | PolicyRecord | CaseRecord


@dataclass
class Batch:
    """Every record of an import, with where it came from, by kind (in the order they are written)."""

    customers: list[tuple[Where, CustomerRecord]] = field(default_factory=list)
    vehicles: list[tuple[Where, VehicleRecord]] = field(default_factory=list)
    service: list[tuple[Where, VisitRecord]] = field(default_factory=list)
    insurance: list[tuple[Where, PolicyRecord]] = field(default_factory=list)
    cases: list[tuple[Where, CaseRecord]] = field(default_factory=list)

    def customer_refs(self) -> set[str]:
        """Every customer the import names: its own, and the owners of its vehicles and cases."""
        owners = [r.customer_ref for _, r in self.vehicles] + [r.customer_ref for _, r in self.cases]
        return {r.ref for _, r in self.customers} | set(owners)

    def vins(self) -> set[str]:
        """Every vehicle the import names: its own, and those of its service visits and policies."""
        visited = [r.vin for _, r in self.service] + [r.vin for _, r in self.insurance]
        return {r.vin for _, r in self.vehicles} | set(visited)

    def phone_forms(self) -> set[str]:
        """Every form (``number_forms``) of every number of the import's customers."""
        return {form for _, r in self.customers for number in r.phones for form in number_forms(number)}


def _phones(value: str) -> tuple[str, ...]:
    """Several numbers in one cell, separated by ';'."""
    return tuple(fields.phone(number) for number in value.split(";") if number.strip())


def _ref(value: str) -> str:
    return fields.text(value, 64)


def _customer(row: fields.Cells, tz: ZoneInfo) -> CustomerRecord:
    return CustomerRecord(
        ref=row.get("customer_ref", _ref, required=True),
        name=row.get("name", fields.name, required=True),
        segment=row.get("segment", fields.segment, fields.SEGMENTS[0]),
        language=row.get("language", fields.language, fields.DEFAULT_LANGUAGE),
        phones=row.get("phones", _phones, (), required=True),
        notes=row.get("notes", str),
    )


def _vehicle(row: fields.Cells, tz: ZoneInfo) -> VehicleRecord:
    return VehicleRecord(
        vin=row.get("vin", fields.vin, required=True),
        customer_ref=row.get("customer_ref", _ref, required=True),
        plate=row.get("plate", fields.plate),
        model=row.get("model", fields.model, required=True),
        purchased_on=row.get("purchased_on", fields.day),
    )


def _visit(row: fields.Cells, tz: ZoneInfo) -> VisitRecord:
    return VisitRecord(
        vin=row.get("vin", fields.vin, required=True),
        on=row.get("date", fields.day, required=True),
        kind=row.get("kind", fields.kind, required=True),
        dealer=row.get("dealer", lambda v: fields.text(v, 128)),
        notes=row.get("notes", str),
    )


def _policy(row: fields.Cells, tz: ZoneInfo) -> PolicyRecord:
    return PolicyRecord(
        vin=row.get("vin", fields.vin, required=True),
        insurer=row.get("insurer", lambda v: fields.text(v, 64), required=True),
        expires_on=row.get("expires_on", fields.day, required=True),
        renewal_status=row.get("renewal_status", lambda v: fields.choice(v, fields.RENEWAL_STATUSES), "due"),
    )


def _case(row: fields.Cells, tz: ZoneInfo) -> CaseRecord:
    return CaseRecord(
        ref=row.get("case_ref", _ref, required=True),
        customer_ref=row.get("customer_ref", _ref, required=True),
        kind=row.get("kind", lambda v: fields.choice(v, fields.CASE_KINDS), required=True),
        status=row.get("status", lambda v: fields.choice(v, fields.CASE_STATUSES), "open"),
        opened_at=row.get("opened_at", lambda v: fields.moment(v, tz), required=True),
        summary=row.get("summary", str, ""),
    )


@dataclass(frozen=True)
class Kind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    parse: Callable[[fields.Cells, ZoneInfo], Record]


KINDS = (
    Kind("customers", ("customer_ref", "name", "phones"), ("segment", "language", "notes"), _customer),
    Kind("vehicles", ("vin", "customer_ref", "model"), ("plate", "purchased_on"), _vehicle),
    Kind("service", ("vin", "date", "kind"), ("dealer", "notes"), _visit),
    Kind("insurance", ("vin", "insurer", "expires_on"), ("renewal_status",), _policy),
    Kind("cases", ("case_ref", "customer_ref", "kind", "opened_at"), ("status", "summary"), _case),
)


def read_csv(name: str, data: bytes, tz: ZoneInfo, batch: Batch) -> list[Problem]:
    """Add the file's records to ``batch``; return its problems (a bad row adds no record)."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [Problem(Where(name, line), "file", f"not UTF-8 (byte {exc.start + 1}): save it as UTF-8 CSV")]
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [column.strip() for column in next(reader, [])]
    kind, problems = _kind_of(Where(name, 1), header)
    if kind is None:
        return problems
    records: list[tuple[Where, Any]] = getattr(batch, kind.name)
    start = reader.line_num + 1
    for cells in reader:
        where, start = Where(name, start), reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            problems.append(Problem(where, "row", f"{len(cells)} cells, the header names {len(header)}"))
            continue
        row = fields.Cells(dict(zip(header, cells, strict=False)))
        record = kind.parse(row, tz)
        problems.extend(Problem(where, column, problem) for column, problem in row.problems)
        if not row.problems:
            records.append((where, record))
    return problems


def _kind_of(where: Where, header: list[str]) -> tuple[Kind | None, list[Problem]]:
    if not any(header):
        return None, [Problem(where, "header", "the file is empty: its first line names the columns")]
    matching = [kind for kind in KINDS if set(kind.required) <= set(header)]
    if len(matching) != 1:
        said = "; ".join(f"{kind.name}: {', '.join(kind.required)}" for kind in KINDS)
        which = " or ".join(kind.name for kind in matching) if matching else "no kind of CRM file"
        return None, [
            Problem(where, "header", f"the columns fit {which}; each kind needs its columns ({said})")
        ]
    kind = matching[0]
    known = {*kind.required, *kind.optional}
    problems = [
        Problem(where, column or "(empty)", f"not a column of {kind.name} files ({', '.join(sorted(known))})")
        for column in header
        if column not in known
    ]
    problems.extend(
        Problem(where, column, "named twice") for column in sorted(set(header)) if header.count(column) > 1
    )
    return (None if problems else kind), problems
