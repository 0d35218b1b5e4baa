"""``cti crm import`` on SQLite and PostgreSQL: all or nothing, idempotent, and the card it fills."""

from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.cli import cli
from cti.crm.store import import_files
from cti.desk.crm import read_card
from cti.store.models import Base, CaseRow, CustomerRow, PhoneNumberRow, VehicleRow

TZ = ZoneInfo("Asia/Shanghai")
DEMO = sorted((Path(__file__).resolve().parents[2] / "config" / "crm-demo").glob("*.csv"))
TABLES = ("customers", "phone_numbers", "vehicles", "service_history", "insurance_policies", "cases")


def demo() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in DEMO]


async def counts(store: AsyncEngine) -> dict[str, int]:
    async with store.connect() as connection:
        return {
            table: (
                await connection.execute(select(func.count()).select_from(Base.metadata.tables[table]))
            ).scalar_one()
            for table in TABLES
        }


async def test_the_demo_loads_once_however_often_it_is_imported(store: AsyncEngine) -> None:
    first = await import_files(store, demo(), TZ)
    assert first.problems == ()
    assert first.written == {t: n for t, n in first.written.items() if n} == await counts(store)
    again = await import_files(store, demo(), TZ)
    assert again.problems == ()
    assert again.written["phone_numbers"] == 0
    assert await counts(store) == first.written


async def test_the_demo_callers_are_customers_with_their_cars(store: AsyncEngine) -> None:
    await import_files(store, demo(), TZ)
    for number in [f"138000000{i:02d}" for i in range(1, 10)] + ["13800138000", "13900000001", "13900000002"]:
        assert await read_card(store, number) is not None, number
    vip = await read_card(store, "13900000001")
    assert vip is not None
    assert (vip.name, vip.segment, [v.plate for v in vip.vehicles]) == (
        "王建国",
        "vip",
        ["沪A·88888", "沪A·66666"],
    )
    complaint = await read_card(store, "13800000001")
    assert complaint is not None
    assert [case.kind for case in complaint.open_cases] == ["complaint"]
    assert complaint.vehicles[0].insurance is not None


async def test_a_re_import_updates_the_same_rows(store: AsyncEngine) -> None:
    await import_files(store, demo(), TZ)
    changed = [
        ("c.csv", "customer_ref,name,phones,segment\nC002,李娜娜,+8613800000001;13700000002,vip\n".encode()),
        (
            "k.csv",
            b"case_ref,customer_ref,kind,status,opened_at\nK2026-0101,C002,complaint,closed,2026-12-03\n",
        ),
        ("v.csv", "vin,customer_ref,model,plate\nLSVAU2180N2100021,C003,大众 帕萨特,沪A·12345\n".encode()),
    ]
    result = await import_files(store, changed, TZ)
    assert result.problems == ()
    async with store.connect() as connection:
        customer = (
            await connection.execute(select(CustomerRow).where(CustomerRow.external_ref == "C002"))
        ).one()
        phones = (
            await connection.execute(
                select(PhoneNumberRow.number).where(PhoneNumberRow.customer_id == customer.id)
            )
        ).scalars()
        case = (
            await connection.execute(select(CaseRow.status).where(CaseRow.external_ref == "K2026-0101"))
        ).scalar_one()
        owner = (
            await connection.execute(
                select(VehicleRow.customer_id).where(VehicleRow.vin == "LSVAU2180N2100021")
            )
        ).scalar_one()
    assert (customer.name, customer.segment, sorted(phones), case) == (
        "李娜娜",
        "vip",
        ["13700000002", "13800000001"],
        "closed",
    )
    assert owner != customer.id
    assert (await counts(store))["customers"] == 12


async def test_one_bad_line_writes_nothing(store: AsyncEngine) -> None:
    bad = [*demo(), ("more.csv", b"vin,date,kind\nLSVAU2180N2100021,2026-13-01,repair\n")]
    result = await import_files(store, bad, TZ)
    assert [str(p) for p in result.problems] == ["more.csv:2: date: '2026-13-01' is not a date (YYYY-MM-DD)"]
    assert set((await counts(store)).values()) == {0}


async def test_a_number_of_another_stored_customer_writes_nothing(store: AsyncEngine) -> None:
    await import_files(store, demo(), TZ)
    before = await counts(store)
    taken = [
        ("c.csv", "customer_ref,name,phones\nC100,新客户,13700000009\nC101,马六,+8613800000002\n".encode())
    ]
    result = await import_files(store, taken, TZ)
    assert [str(p) for p in result.problems] == [
        "c.csv:3: phones: +8613800000002 belongs to another customer already"
    ]
    assert await counts(store) == before


def test_the_command_reports_by_line_and_exits_1_or_prints_what_it_wrote(
    migrated_database: str, tmp_path: Path
) -> None:
    env = {"CTI_DATABASE_URL": migrated_database}
    bad = tmp_path / "vehicles.csv"
    bad.write_text(
        "vin,customer_ref,model\nLSVAU2180N21000I1,C001,x\nLSVAU2180N2100099,C404,x\n", encoding="utf-8"
    )
    refused = CliRunner().invoke(cli, ["crm", "import", str(bad)], env=env)
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"{bad}:2: vin: 'LSVAU2180N21000I1' holds 'I': a VIN has digits and letters but I, O, Q",
        f"{bad}:3: customer_ref: C404 is not in the store, nor on a good line of this import",
        "2 problem(s): nothing was written",
    ]
    loaded = CliRunner().invoke(cli, ["crm", "import", *map(str, DEMO)], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert loaded.output.startswith("written (new or updated): customers 12, phone_numbers 14, vehicles 13,")
