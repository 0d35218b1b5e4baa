"""The CRM import's rules, without a store: reading CSV files, every field, and the checks."""

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.crm import fields
from cti.crm.checks import Known
from cti.crm.checks import check as check_batch
from cti.crm.records import Batch, read_csv

TZ = ZoneInfo("Asia/Shanghai")
DEMO = Path(__file__).resolve().parents[2] / "config" / "crm-demo"
NOTHING = Known(frozenset(), {}, frozenset(), {})
CUSTOMERS = "customer_ref,name,phones,segment,language\n"
VEHICLES = "vin,customer_ref,model,plate,purchased_on\n"
VIN = "LSVAU2180N2100021"


def read(*files: tuple[str, str | bytes], known: Known = NOTHING) -> tuple[Batch, list[str]]:
    batch = Batch()
    problems = [
        str(p)
        for name, text in files
        for p in read_csv(name, text.encode() if isinstance(text, str) else text, TZ, batch)
    ]
    return batch, problems + [str(p) for p in check_batch(batch, known)]


def test_the_demo_files_are_clean_and_every_kind_is_read_from_its_header() -> None:
    batch, problems = read(*[(path.name, path.read_bytes()) for path in sorted(DEMO.glob("*.csv"))])
    assert problems == []
    counts = [
        len(batch.customers),
        len(batch.vehicles),
        len(batch.service),
        len(batch.insurance),
        len(batch.cases),
    ]
    assert all(counts)
    first = batch.customers[0][1]
    assert (first.ref, first.name, first.segment, first.phones) == ("C001", "王建国", "vip", ("13900000001",))


def test_a_byte_order_mark_is_tolerated_and_defaults_fill_optional_fields() -> None:
    batch, problems = read(
        ("c.csv", "\ufeffcustomer_ref,name,phones\nC1,李娜,138 0000 0001; 021-5000-1234\n")
    )
    assert problems == []
    (where, customer), *_ = batch.customers
    assert (str(where), customer.segment, customer.language) == ("c.csv:2", "regular", "zh")
    assert customer.phones == ("13800000001", "02150001234")


def test_a_file_not_in_utf8_says_which_line() -> None:
    _, problems = read(("gbk.csv", (CUSTOMERS + "C1,").encode() + "李娜".encode("gbk") + b",13800000001,,\n"))
    assert problems == ["gbk.csv:2: file: not UTF-8 (byte 46): save it as UTF-8 CSV"]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("", "header: the file is empty: its first line names the columns"),
        ("vin,name", "header: the columns fit no kind of CRM file"),
        ("vin,customer_ref,model,date,kind", "header: the columns fit vehicles or service"),
        ("customer_ref,name,phones,plat", "plat: not a column of customers files"),
        ("customer_ref,name,phones,name", "name: named twice"),
    ],
)
def test_headers(header: str, problem: str) -> None:
    _, problems = read(("f.csv", header + "\n"))
    assert len(problems) == 1
    assert problems[0].startswith(f"f.csv:1: {problem}")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (f"{VIN[:-1]},C1,帕萨特,,", f"vin: '{VIN[:-1]}' has 16 characters, a VIN has 17"),
        (
            "LSVAU2180N21000O1,C1,帕萨特,,",
            "vin: 'LSVAU2180N21000O1' holds 'O': a VIN has digits and letters but I, O, Q",
        ),
        (f"{VIN},C1,帕萨特,,2026-02-30", "purchased_on: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (f"{VIN},C1,帕萨特,,30/01/2026", "purchased_on: '30/01/2026' is not a date (YYYY-MM-DD)"),
        (f"{VIN},,帕萨特,,", "customer_ref: missing"),
        (f"{VIN},C1,,,", "model: missing"),
        (f"{VIN},C1,帕萨特,沪A·12345,2026-01-01,extra", "row: 6 cells, the header names 5"),
        (f"{VIN},C1,{'长' * 65},,", "model: 65 characters, at most 64"),
    ],
)
def test_vehicle_fields(row: str, problem: str) -> None:
    _, problems = read(("v.csv", VEHICLES + row + "\n"), known=Known(frozenset({"C1"}), {}, frozenset(), {}))
    assert problems == [f"v.csv:2: {problem}"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("C1,李娜,13800000001,gold,zh", "segment: 'gold' is not one of regular, vip"),
        ("C1,李娜,13800000001,vip,fr", "language: 'fr' is not one of en, zh"),
        (
            "C1,李娜,1380000000x,,",
            "phones: '1380000000x' is not a phone number (3 to 20 digits, optionally after +)",
        ),
        ("C1,,13800000001,,", "name: missing"),
    ],
)
def test_customer_fields(row: str, problem: str) -> None:
    _, problems = read(("c.csv", CUSTOMERS + row + "\n"))
    assert problems[-1] == f"c.csv:2: {problem}"


def test_every_bad_field_of_a_row_is_reported_and_lines_count_quoted_line_breaks() -> None:
    text = (
        "case_ref,customer_ref,kind,opened_at,summary\n"
        'K1,C1,complaint,2026-12-01,"two\nlines"\n'
        "K2,C1,praise,yesterday,\n"
    )
    _, problems = read(("k.csv", text), known=Known(frozenset({"C1"}), {}, frozenset(), {}))
    assert problems == [
        "k.csv:4: kind: 'praise' is not one of complaint, repair, roadside, inquiry",
        "k.csv:4: opened_at: 'yesterday' is not a date or date and time (YYYY-MM-DD[THH:MM])",
    ]


def test_a_case_opened_without_an_offset_is_the_centers_time() -> None:
    batch, _ = read(
        ("k.csv", "case_ref,customer_ref,kind,opened_at\nK1,C1,repair,2026-12-01T09:30\n"),
        known=Known(frozenset({"C1"}), {}, frozenset(), {}),
    )
    assert batch.cases[0][1].opened_at.isoformat() == "2026-12-01T09:30:00+08:00"


def test_duplicates_within_the_import_across_files() -> None:
    _, problems = read(
        ("a.csv", CUSTOMERS + "C1,李娜,13800000001,,\nC2,张伟,+8613800000001,,\n"),
        ("b.csv", CUSTOMERS + "C1,李娜,13900000009,,\n"),
        ("v.csv", VEHICLES + f"{VIN},C1,帕萨特,沪A·12345,\n{VIN.lower()},C2,途观,沪a·12345,\n"),
        ("s.csv", f"vin,date,kind\n{VIN},2026-01-01,maintenance\n{VIN},2026-01-01,maintenance\n"),
        ("i.csv", f"vin,insurer,expires_on\n{VIN},平安,2027-01-01\n{VIN},人保,2027-01-01\n"),
        ("k.csv", "case_ref,customer_ref,kind,opened_at\nK1,C1,repair,2026-12-01\nK1,C2,repair,2026-12-02\n"),
    )
    assert sorted(problems) == [
        "a.csv:3: phones: the same as a.csv:2",
        "b.csv:2: customer_ref: the same as a.csv:2",
        "i.csv:3: expires_on: the same as i.csv:2",
        "k.csv:3: case_ref: the same as k.csv:2",
        "s.csv:3: date: the same as s.csv:2",
        "v.csv:3: plate: the same as v.csv:2",
        "v.csv:3: vin: the same as v.csv:2",
    ]


def test_references_and_conflicts_with_the_store() -> None:
    known = Known(
        customer_refs=frozenset({"C9"}),
        phone_owners={"+8613800000001": "C9", "13900000002": None},
        vins=frozenset({"LFV2A21K8P3100031"}),
        plate_vins={"沪B·23456": "LFV2A21K8P3100031"},
    )
    _, problems = read(
        ("c.csv", CUSTOMERS + "C9,王建国,13800000001,,\nC1,李娜,13900000002,,\n"),
        ("v.csv", VEHICLES + f"{VIN},C7,帕萨特,沪B·23456,\nLFV2A21K8P3100031,C9,奥迪,,\n"),
        (
            "s.csv",
            "vin,date,kind\nLGBH52E09PY100081,2026-01-01,repair\nLFV2A21K8P3100031,2026-01-01,repair\n",
        ),
        ("k.csv", "case_ref,customer_ref,kind,opened_at\nK1,C8,repair,2026-12-01\n"),
        known=known,
    )
    assert sorted(problems) == [
        "c.csv:3: phones: 13900000002 belongs to another customer already",
        "k.csv:2: customer_ref: C8 is not in the store, nor on a good line of this import",
        "s.csv:2: vin: LGBH52E09PY100081 is not in the store, nor on a good line of this import",
        "v.csv:2: customer_ref: C7 is not in the store, nor on a good line of this import",
        "v.csv:2: plate: 沪B·23456 is on the vehicle LFV2A21K8P3100031 already",
    ]


VIN_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@given(st.text(alphabet=VIN_CHARACTERS + VIN_CHARACTERS.lower(), min_size=17, max_size=17))
def test_any_vin_of_the_iso_characters_is_taken_in_capitals(vin: str) -> None:
    assert fields.vin(vin) == vin.upper()


@given(
    st.text(alphabet=VIN_CHARACTERS, min_size=16, max_size=16),
    st.sampled_from("IOQioq-* 沪"),
    st.integers(0, 16),
)
def test_a_vin_with_i_o_q_or_any_other_character_is_refused(rest: str, bad: str, at: int) -> None:
    with pytest.raises(ValueError, match="a VIN has digits and letters but I, O, Q"):
        fields.vin(rest[:at] + bad + rest[at:])


@given(st.text(max_size=25).filter(lambda v: len(v) != 17))
def test_a_vin_of_another_length_is_refused(vin: str) -> None:
    with pytest.raises(ValueError, match="a VIN has 17"):
        fields.vin(vin)
