"""Call lists read from the files centers have (cti.outbound.call_lists): CSV in UTF-8 with or
without a byte-order mark and in GBK, XLSX, columns found by their zh/en names or mapped, whole
files refused with a reason, and every line judged."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import Workbook

from cti.outbound.call_lists import (
    MAX_LINES,
    CallList,
    Line,
    ListRefused,
    Report,
    Verdict,
    judge,
    number_lines,
    parse_mapping,
    read_list,
)
from cti.outbound.campaigns import CampaignKind
from cti.outbound.numbers import NumberPolicy

POLICY = NumberPolicy()
ZH = "姓名,手机号,车牌,到期日,备注\n李娜,13800000001,沪A·12345,2027-01-31,老客户\n张伟,138 0000 0002,,,\n"


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("list.csv", ZH.encode("utf-8")),
        ("list.csv", b"\xef\xbb\xbf" + ZH.encode("utf-8")),
        ("list.csv", ZH.encode("gbk")),
        ("list.csv", ZH.encode("gb18030")),
        ("list.csv", ZH.replace(",", "\t").encode("utf-8")),
        ("list.csv", ZH.replace("\n", "\r\n").encode("gbk")),
        ("list.xlsx", xlsx([row.split(",") for row in ZH.strip().split("\n")])),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030", "tabs", "crlf-gbk", "xlsx"],
)
def test_a_list_is_read_whatever_excel_saved_it_as(name: str, data: bytes) -> None:
    calls = read_list(name, data)
    assert calls.headers == ("姓名", "手机号", "车牌", "到期日", "备注")
    assert calls.columns == {"phone": "手机号", "name": "姓名", "plate": "车牌", "due": "到期日"}
    assert [line_no for line_no, _ in calls.rows] == [2, 3]
    assert calls.rows[0][1]["姓名"] == "李娜"
    assert calls.rows[0][1]["车牌"] == "沪A·12345"
    assert calls.rows[1][1]["手机号"] == "138 0000 0002"


def test_xlsx_cells_typed_as_numbers_and_dates_keep_their_digits_and_days() -> None:
    data = xlsx(
        [
            [None],
            ["Phone", "Customer Name", "VIN", "Due Date"],
            [13800000001, "Li Na", "LSVAU2180N2100121", datetime(2027, 1, 31)],
            [13800000002.0, "Zhang Wei", None, date(2027, 2, 1)],
            [None, None, None, None],
        ]
    )
    calls = read_list("list.xlsx", data)
    assert calls.columns == {"phone": "Phone", "name": "Customer Name", "vin": "VIN", "due": "Due Date"}
    assert calls.rows == (
        (
            3,
            {
                "Phone": "13800000001",
                "Customer Name": "Li Na",
                "VIN": "LSVAU2180N2100121",
                "Due Date": "2027-01-31",
            },
        ),
        (4, {"Phone": "13800000002", "Customer Name": "Zhang Wei", "VIN": "", "Due Date": "2027-02-01"}),
    )


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("手机", "phone"),
        ("联系电话", "phone"),
        ("Mobile Phone", "phone"),
        ("phone_number", "phone"),
        ("客户姓名", "name"),
        ("车牌号", "plate"),
        ("车架号", "vin"),
        ("VIN码", "vin"),
        ("车型", "model"),
        ("保险到期日", "due"),
        ("due_on", "due"),
        ("交车日期", "date"),
        ("服务日期", "date"),
        ("Service Date", "date"),
        ("电话\uff08手机\uff09", None),  # 电话(手机): no name of one field
    ],
)
def test_columns_are_found_by_their_common_names(header: str, field: str | None) -> None:
    calls = read_list("l.csv", f"{header},mobile\n1,13800000001\n".encode())
    if field is None:
        assert calls.columns == {"phone": "mobile"}
    elif field == "phone":
        assert calls.columns["phone"] == header  # the first phone column wins
    else:
        assert calls.columns[field] == header


def test_a_mapping_names_the_columns_the_names_do_not_find() -> None:
    data = "客户,联系方式,备用电话,车辆\n李娜,13800000001,13800000009,A6L\n".encode()
    calls = read_list("l.csv", data, parse_mapping(["phone=备用电话", "model=车辆"]))
    assert calls.columns == {"phone": "备用电话", "model": "车辆", "name": "客户"}
    (line,) = number_lines(calls, POLICY, CampaignKind.SURVEY)
    assert (line.e164, line.name) == ("+8613800000009", "李娜")
    assert line.data == {"联系方式": "13800000001", "model": "A6L"}


@pytest.mark.parametrize(
    ("name", "data", "mapping", "message"),
    [
        ("l.csv", b"", {}, "the file is empty"),
        ("l.csv", b",,\n,,\n", {}, "the file is empty"),
        ("l.csv", "姓名,备注\n李娜,x\n".encode(), {}, "no phone column among 姓名, 备注: name it 手机号"),
        ("l.csv", "手机号,手机号\n1,2\n".encode(), {}, "the column '手机号' is in the header twice"),
        (
            "l.csv",
            "手机号\n1\n".encode(),
            {"phone": "电话"},
            "l.csv has no column '电话' (its columns: 手机号)",
        ),
        ("l.csv", "手机号\n1\n".encode(), {"colour": "手机号"}, "'colour' is not a field (phone, name"),
        ("l.csv", b"\xff\xfe\x00\xd8\x00\xd8", {}, "neither UTF-8 nor GB18030"),
        ("l.xlsx", b"not a workbook", {}, "not an XLSX workbook"),
        ("l.csv", b'phone\n"13800000001\n', {}, None),  # an unclosed quote is one cell to the end
    ],
)
def test_a_file_that_cannot_be_used_is_refused_whole(
    name: str, data: bytes, mapping: dict[str, str], message: str | None
) -> None:
    if message is None:
        assert read_list(name, data, mapping).rows[0][1]["phone"] == "13800000001"
        return
    with pytest.raises(ListRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_list(name, data, mapping)


def test_a_list_longer_than_the_limit_is_refused() -> None:
    data = ("phone\n" + "13800000001\n" * (MAX_LINES + 1)).encode()
    with pytest.raises(ListRefused, match=f"more than {MAX_LINES} lines"):
        read_list("big.csv", data)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [(["phone"], "write it field=column"), (["=手机"], "field=column"), (["phone= "], "field=column")],
)
def test_a_bad_mapping_is_refused(pairs: list[str], message: str) -> None:
    with pytest.raises(ListRefused, match=message):
        parse_mapping(pairs)


def lines_of(text: str, kind: CampaignKind = CampaignKind.SURVEY) -> list[Line]:
    return number_lines(read_list("l.csv", text.encode()), POLICY, kind)


def test_each_line_gets_its_numbers_verdict_with_the_refusals_reason() -> None:
    lines = lines_of(
        "phone,name\n13800000001,a\n110,b\n+12125551234,c\n4008123123,d\nabc,e\n"
        "+86 138-0000-0001,f\n95588,g\n,h\n"
    )
    assert [(x.line_no, x.verdict) for x in lines] == [
        (2, Verdict.OK),
        (3, "emergency"),
        (4, "international"),
        (5, "premium"),
        (6, "bad_number"),
        (7, Verdict.DUPLICATE),
        (8, "short_code"),
        (9, "bad_number"),
    ]
    assert lines[0].e164 == "+8613800000001"
    assert lines[2].reason == "a number in US: not a country the center calls"
    assert lines[5].reason == "the same number as line 2"
    assert all(x.reason for x in lines[1:])


@pytest.mark.parametrize(
    ("kind", "text", "due", "verdict"),
    [
        (CampaignKind.FOLLOW_UP_SERVICE, "phone,服务日期\n13800000001,2026-12-01\n", date(2026, 12, 4), "ok"),
        (
            CampaignKind.FOLLOW_UP_DELIVERY,
            "phone,交车日期\n13800000001,2026/12/01\n",
            date(2026, 12, 8),
            "ok",
        ),
        (CampaignKind.INSURANCE_RENEWAL, "phone,到期日\n13800000001,2027年1月31日\n", date(2027, 1, 1), "ok"),
        (CampaignKind.FIRST_MAINTENANCE, "phone,due\n13800000001,2027.01.08\n", date(2027, 1, 1), "ok"),
        (CampaignKind.PERIODIC_MAINTENANCE, "phone,due\n13800000001,\n", None, "ok"),
        (CampaignKind.SURVEY, "phone,due\n13800000001,2027-01-08\n", None, "ok"),
        (CampaignKind.INSURANCE_RENEWAL, "phone,due\n13800000001,next month\n", None, "bad_date"),
        (CampaignKind.INSURANCE_RENEWAL, "phone,due\n13800000001,2027-02-30\n", None, "bad_date"),
    ],
)
def test_a_line_is_due_by_its_kinds_date(
    kind: CampaignKind, text: str, due: date | None, verdict: str
) -> None:
    (line,) = lines_of(text, kind)
    assert (line.due_on, line.verdict) == (due, verdict)


def test_the_store_knowledge_judges_the_good_lines_only() -> None:
    lines = lines_of("phone\n13800000001\n13800000002\n13800000003\n13800000004\n110\n")
    judged = judge(
        lines,
        in_campaign={"+8613800000002"},
        dnc={"+8613800000003", "+8613800000002"},
        called={"+8613800000004"},
        days=7,
    )
    assert [(x.verdict, x.reason) for x in judged] == [
        ("ok", ""),
        ("dnc", "on the do-not-call list"),
        ("dnc", "on the do-not-call list"),
        ("called_recently", "called within the last 7 days"),
        ("emergency", "an emergency number"),
    ]
    in_campaign = judge(lines, in_campaign={"+8613800000002"}, dnc=set(), called=set(), days=7)
    assert in_campaign[1].verdict == Verdict.IN_CAMPAIGN


def test_the_report_counts_and_writes_csv_excel_opens() -> None:
    lines = lines_of("手机号,姓名\n13800000001,李娜\n110,王\n")
    report = Report("l.csv", "renewals", tuple(lines), stored=1)
    assert (report.accepted, report.rejected, dict(report.counts)) == (1, 1, {"ok": 1, "emergency": 1})
    body = report.to_json()
    assert body["report"][1] == {
        "line": 3,
        "phone": "110",
        "name": "王",
        "verdict": "emergency",
        "reason": "an emergency number",
    }
    assert report.to_csv().splitlines() == [
        "\ufeffline,phone,name,verdict,reason",
        "2,13800000001,李娜,ok,",
        "3,110,王,emergency,an emergency number",
    ]


def test_an_empty_call_list_has_no_lines() -> None:
    calls = CallList("l.csv", ("phone",), {"phone": "phone"}, ())
    assert number_lines(calls, POLICY, CampaignKind.LEADS) == []
