"""What an import may not do, decided before anything is written (pure).

Within the import: a key given twice (customer_ref, phone number, VIN, plate, case_ref, a
vehicle's service visit or policy term). Against the store (``Known``, what the adapter read of
the keys the import names): a phone number or plate that already belongs to someone else, and a
reference to a customer or vehicle that is neither in the import nor in the store. The same
key as a stored row is not a problem: it is that row, updated (imports are idempotent).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from cti.crm.records import Batch, Problem, Where
from cti.store.customers import number_forms


@dataclass(frozen=True)
class Known:
    customer_refs: frozenset[str]
    phone_owners: Mapping[str, str | None]  # every stored form of a named number -> its owner's ref
    vins: frozenset[str]
    plate_vins: Mapping[str, str]  # a named plate -> the VIN of the stored vehicle carrying it


def check(batch: Batch, known: Known) -> list[Problem]:
    problems = [
        *_twice("customer_ref", ((w, r.ref) for w, r in batch.customers)),
        *_twice(
            "phones", ((w, form) for w, r in batch.customers for n in r.phones for form in number_forms(n))
        ),
        *_twice("vin", ((w, r.vin) for w, r in batch.vehicles)),
        *_twice("plate", ((w, r.plate) for w, r in batch.vehicles if r.plate)),
        *_twice("date", ((w, (r.vin, r.on, r.kind)) for w, r in batch.service)),
        *_twice("expires_on", ((w, (r.vin, r.expires_on)) for w, r in batch.insurance)),
        *_twice("case_ref", ((w, r.ref) for w, r in batch.cases)),
    ]
    for where, customer in batch.customers:
        for number in customer.phones:
            owners = {known.phone_owners[form] for form in number_forms(number) if form in known.phone_owners}
            if owners - {customer.ref}:
                problems.append(Problem(where, "phones", f"{number} belongs to another customer already"))
    for where, vehicle in batch.vehicles:
        stored = known.plate_vins.get(vehicle.plate or "")
        if stored and stored != vehicle.vin:
            problems.append(Problem(where, "plate", f"{vehicle.plate} is on the vehicle {stored} already"))
    customers = {record.ref for _, record in batch.customers} | known.customer_refs
    vins = {record.vin for _, record in batch.vehicles} | known.vins
    problems.extend(_unknown("customer_ref", ((w, r.customer_ref) for w, r in batch.vehicles), customers))
    problems.extend(_unknown("customer_ref", ((w, r.customer_ref) for w, r in batch.cases), customers))
    problems.extend(_unknown("vin", ((w, r.vin) for w, r in batch.service), vins))
    problems.extend(_unknown("vin", ((w, r.vin) for w, r in batch.insurance), vins))
    return problems


def _twice(column: str, keys: Iterable[tuple[Where, Hashable]]) -> list[Problem]:
    """A problem for each line that repeats a key of an earlier line (once per pair of lines)."""
    first: dict[Hashable, Where] = {}
    problems: dict[tuple[Where, Where], Problem] = {}
    for where, key in keys:
        seen = first.setdefault(key, where)
        if seen != where:
            problems.setdefault((where, seen), Problem(where, column, f"the same as {seen}"))
    return list(problems.values())


def _unknown(
    column: str, references: Iterable[tuple[Where, str]], known: set[str] | frozenset[str]
) -> list[Problem]:
    return [
        Problem(where, column, f"{reference} is not in the store, nor on a good line of this import")
        for where, reference in references
        if reference not in known
    ]
