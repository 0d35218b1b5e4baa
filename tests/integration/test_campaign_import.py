"""Call lists imported into a campaign on the real store (SQLite, and PostgreSQL when
CTI_TEST_DATABASE_URL names one): CSV in UTF-8 and GBK and XLSX files made here, a report by
line, all or nothing, dry runs, strict imports, and a second import that adds nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind, to_us
from cti.outbound.call_lists import read_list
from cti.outbound.campaign_checks import new_campaign
from cti.outbound.campaign_store import CampaignNotFound, CampaignStore
from cti.outbound.campaigns import CenterLimits, StatusRefused
from cti.outbound.list_import import ImportRaced, ListImport, import_list
from cti.outbound.numbers import NumberPolicy
from cti.settings import OutboundSettings
from cti.store.events import insert_events
from cti.store.models import DialAttemptRow, DncNumberRow, LeadRow

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
HOW = ListImport(NumberPolicy(), TZ)
ROWS = [
    ["姓名", "手机号", "车牌", "到期日", "备注"],
    ["李娜", "13800000001", "沪A·12345", "2027-01-31", "老客户"],
    ["张伟", "13800000002", "", "", ""],
    ["王芳", "1380000000", "", "", "少一位"],  # bad number
    ["李娜", "138-0000-0001", "", "", ""],  # the first line's number again
    ["Smith", "+12125551234", "", "", ""],  # outside the calling region
    ["赵敏", "13800000003", "", "", ""],  # on the do-not-call list
    ["孙涛", "13800000004", "", "", ""],  # dialled two days ago
    ["周杰", "13800000005", "", "", ""],  # its dial_started event two days ago
]
VERDICTS = [
    "ok",
    "ok",
    "bad_number",
    "duplicate",
    "international",
    "dnc",
    "called_recently",
    "called_recently",
]


def csv_bytes(encoding: str) -> bytes:
    return "".join(",".join(row) + "\r\n" for row in ROWS).encode(encoding)


def xlsx_bytes() -> bytes:
    book = Workbook()
    for row in ROWS:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
async def renewals(store: AsyncEngine) -> AsyncEngine:
    """A renewals campaign; a number on the do-not-call list, one dialled and one with a dial
    event two days ago (within the campaign's 3 days)."""
    fields = {"name": "renewals", "title": "续保", "kind": "insurance_renewal", "queue": "sales"}
    await CampaignStore(store).create(new_campaign(fields, CenterLimits.of(OutboundSettings())), by="test")
    two_days_ago = to_us(NOW - timedelta(days=2))
    async with store.begin() as connection:
        await connection.execute(
            insert(DncNumberRow).values(number="+8613800000003", source="cli", added_at_us=two_days_ago)
        )
        await connection.execute(
            insert(LeadRow).values(
                lead_id="old",
                source="web",
                phone_number="+8613800000004",
                created_at_us=two_days_ago,
                data={},
            )
        )
        await connection.execute(
            insert(DialAttemptRow).values(
                lead_id="old", call_id="c-old", started_at_us=two_days_ago, number="+8613800000004"
            )
        )
    event = CallEvent(EventKind.DIAL_STARTED, NOW - timedelta(days=2), "c-5", caller_number="13800000005")
    await insert_events(store, [event])
    return store


async def lines_of(store: AsyncEngine, campaign: str = "renewals") -> list[dict[str, Any]]:
    async with store.connect() as connection:
        rows = await connection.execute(
            select(LeadRow).where(LeadRow.campaign == campaign).order_by(LeadRow.line_no)
        )
        return [dict(row._mapping) for row in rows]


@pytest.mark.parametrize(
    ("name", "data"),
    [("list.csv", csv_bytes("utf-8")), ("list.csv", csv_bytes("gbk")), ("list.xlsx", xlsx_bytes())],
    ids=["utf-8", "gbk", "xlsx"],
)
async def test_a_list_is_imported_with_a_report_by_line_and_again_adds_nothing(
    renewals: AsyncEngine, name: str, data: bytes
) -> None:
    report = await import_list(renewals, "renewals", read_list(name, data), HOW, NOW)
    assert [(line.line_no, line.verdict) for line in report.lines] == list(enumerate(VERDICTS, start=2))
    assert report.lines[2].reason == "not a valid number in CN"
    assert (report.stored, report.accepted, report.rejected) == (2, 2, 6)
    stored = await lines_of(renewals)
    assert [(r["phone_number"], r["name"], r["line_no"], r["status"]) for r in stored] == [
        ("+8613800000001", "李娜", 2, "new"),
        ("+8613800000002", "张伟", 3, "new"),
    ]
    first = stored[0]
    assert (first["source"], first["list_name"], first["campaign"]) == ("list", name, "renewals")
    assert first["data"] == {"plate": "沪A·12345", "due": "2027-01-31", "备注": "老客户"}
    renewal_call = datetime(2027, 1, 1, tzinfo=TZ)  # 30 days before the policy expires
    assert (first["next_attempt_at_us"], stored[1]["next_attempt_at_us"]) == (to_us(renewal_call), None)

    again = await import_list(renewals, "renewals", read_list(name, data), HOW, NOW)
    assert [line.verdict for line in again.lines][:2] == ["in_campaign", "in_campaign"]
    assert again.stored == 0
    assert len(await lines_of(renewals)) == 2


async def test_a_dry_run_reports_and_stores_nothing(renewals: AsyncEngine) -> None:
    how = ListImport(NumberPolicy(), TZ, dry_run=True)
    report = await import_list(renewals, "renewals", read_list("l.csv", csv_bytes("utf-8")), how, NOW)
    assert (report.accepted, report.stored, report.dry_run) == (2, 0, True)
    assert await lines_of(renewals) == []


async def test_a_strict_import_with_a_rejected_line_stores_nothing(renewals: AsyncEngine) -> None:
    how = ListImport(NumberPolicy(), TZ, strict=True)
    report = await import_list(renewals, "renewals", read_list("l.csv", csv_bytes("utf-8")), how, NOW)
    assert (report.accepted, report.stored, report.strict_refused) == (2, 0, True)
    assert await lines_of(renewals) == []
    clean = read_list("l.csv", "手机号\n13800000001\n13800000002\n".encode())
    assert (await import_list(renewals, "renewals", clean, how, NOW)).stored == 2


async def test_an_error_while_writing_stores_nothing_of_the_file(renewals: AsyncEngine) -> None:
    """Another writer holds the key of the second line's number (as a concurrent import of the
    same campaign would): the insert fails and the first line is not stored either."""
    async with renewals.begin() as connection:
        await connection.execute(
            insert(LeadRow).values(
                lead_id="racer",
                source="list",
                phone_number="+8613800000002",
                created_at_us=to_us(NOW),
                idempotency_key="list:renewals:+8613800000002",
                data={},
            )
        )
    with pytest.raises(ImportRaced, match="nothing of this file was stored"):
        await import_list(renewals, "renewals", read_list("l.csv", csv_bytes("utf-8")), HOW, NOW)
    assert await lines_of(renewals) == []
    async with renewals.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(LeadRow))).scalar_one() == 2


async def test_numbers_called_long_ago_are_imported(renewals: AsyncEngine) -> None:
    later = NOW + timedelta(days=5)
    report = await import_list(renewals, "renewals", read_list("l.csv", csv_bytes("utf-8")), HOW, later)
    assert [line.verdict for line in report.lines][-2:] == ["ok", "ok"]


async def test_an_unknown_or_stopped_campaign_takes_no_list(renewals: AsyncEngine) -> None:
    calls = read_list("l.csv", "手机号\n13800000001\n".encode())
    with pytest.raises(CampaignNotFound):
        await import_list(renewals, "nope", calls, HOW, NOW)
    await CampaignStore(renewals).set_status("renewals", "stopped", by="test")
    with pytest.raises(StatusRefused, match="takes no more lines"):
        await import_list(renewals, "renewals", calls, HOW, NOW)
