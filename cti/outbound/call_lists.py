"""A campaign's call list read from the file a center has (CSV as Excel writes it, or XLSX),
and judged line by line. Pure: bytes in, lines and verdicts out; ``list_import`` reads what the
store knows (the campaign's numbers, the do-not-call list, recent calls) and writes the result.

Files: XLSX (its first sheet), or CSV in UTF-8 with or without a byte-order mark, or GB18030
(the superset of GBK, which Chinese Excel writes "CSV" in). The header is the first non-empty
row; its columns are found by common Chinese and English names (``手机号``, ``phone``...) or
mapped by hand (``phone=联系方式``). A file that cannot be read, has no phone column, or maps a
column it lacks is refused whole (``ListRefused``); a bad line is reported with its verdict and
the rest may go in.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook

from cti.errors import CtiError
from cti.outbound.campaigns import CampaignKind
from cti.outbound.numbers import Dialable, NumberPolicy, read_number

MAX_LINES = 100_000  # a call list, not a phone book: larger files are split by the center
MAX_CELL = 500  # characters kept of any cell
#: The fields a list may have, and the column names each is found by (compared without case,
#: spaces, underscores, hyphens and brackets). Other columns are kept as they are named.
FIELDS: Mapping[str, tuple[str, ...]] = {
    "phone": (
        "phone",
        "mobile",
        "tel",
        "telephone",
        "number",
        "phonenumber",
        "mobilephone",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "联系方式",
        "号码",
    ),
    "name": (
        "name",
        "customer",
        "customername",
        "姓名",
        "客户",
        "客户姓名",
        "客户名称",
        "名字",
        "车主",
        "车主姓名",
    ),
    "plate": ("plate", "plateno", "licenseplate", "车牌", "车牌号", "车牌号码"),
    "vin": ("vin", "vinno", "vincode", "车架号", "vin码", "车辆识别代号", "车辆识别号"),
    "model": ("model", "vehiclemodel", "车型", "车型名称"),
    "due": ("due", "dueon", "duedate", "到期日", "到期日期", "保险到期日", "保养到期日", "到期时间"),
    "date": (
        "date",
        "servicedate",
        "deliverydate",
        "servedon",
        "deliveredon",
        "服务日期",
        "维修日期",
        "保养日期",
        "交车日期",
        "提车日期",
        "日期",
    ),
}
_NORMAL = re.compile(r"[\s_\-():\uff08\uff09\uff1a]+")  # and the full-width ( ) :
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")


class ListRefused(CtiError):
    """The whole file is refused: nothing of it is imported. The message says why and what to do."""


class Verdict:
    """What became of a line: ``ok``, a rule of ``cti.outbound.refusal.Rule`` its number broke
    (bad_number, international, premium...) or one of these."""

    OK = "ok"
    DUPLICATE = "duplicate"  # the same number as an earlier line of this file
    IN_CAMPAIGN = "in_campaign"  # the campaign has this number already (an earlier import)
    CALLED_RECENTLY = "called_recently"  # called within the campaign's skip_called_within_days
    DNC = "dnc"  # on the do-not-call list
    BAD_DATE = "bad_date"  # the date the line is due by is no date


@dataclass(frozen=True)
class CallList:
    """A file's rows: ``columns`` maps each field found to its column; each row maps columns to text."""

    name: str
    headers: tuple[str, ...]
    columns: Mapping[str, str]
    rows: tuple[tuple[int, Mapping[str, str]], ...]  # (line number in the file, cells by column)


@dataclass(frozen=True)
class Line:
    """A line of the list, judged. ``e164``/``national``: its number, when it is one."""

    line_no: int
    phone: str  # as the file has it
    name: str | None
    data: Mapping[str, str]  # the other columns (known fields by their field name)
    verdict: str = Verdict.OK
    reason: str = ""
    e164: str | None = None
    national: str | None = None
    due_on: date | None = None  # not to be called before this day (the kind's offset applied)

    @property
    def ok(self) -> bool:
        return self.verdict == Verdict.OK


@dataclass(frozen=True)
class Report:
    """What an import did: every line with its verdict; ``stored``: lines written (0 for a dry
    run, or a strict import with a rejected line)."""

    list_name: str
    campaign: str
    lines: tuple[Line, ...]
    stored: int
    dry_run: bool = False
    strict_refused: bool = False
    counts: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for line in self.lines:
            counts[line.verdict] = counts.get(line.verdict, 0) + 1
        object.__setattr__(self, "counts", counts)

    @property
    def accepted(self) -> int:
        return self.counts.get(Verdict.OK, 0)

    @property
    def rejected(self) -> int:
        return len(self.lines) - self.accepted

    def to_json(self) -> dict[str, Any]:
        return {
            "list_name": self.list_name,
            "campaign": self.campaign,
            "lines": len(self.lines),
            "accepted": self.accepted,
            "rejected": self.rejected,
            "stored": self.stored,
            "dry_run": self.dry_run,
            "strict_refused": self.strict_refused,
            "counts": dict(self.counts),
            "report": [
                {
                    "line": x.line_no,
                    "phone": x.phone,
                    "name": x.name,
                    "verdict": x.verdict,
                    "reason": x.reason,
                }
                for x in self.lines
            ],
        }

    def to_csv(self) -> str:
        """The report by line, as CSV with a byte-order mark (so Excel opens its Chinese right)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "phone", "name", "verdict", "reason"])
        for x in self.lines:
            writer.writerow([x.line_no, x.phone, x.name or "", x.verdict, x.reason])
        return "\ufeff" + out.getvalue()


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["phone=手机号", "name=姓名"]`` as {field: column}; ``ListRefused`` for a bad pair."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        key, sep, column = pair.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise ListRefused(f"mapping {pair!r}: write it field=column, such as phone=手机号")
        mapping[key.strip()] = column.strip()
    return mapping


def read_list(name: str, data: bytes, mapping: Mapping[str, str] | None = None) -> CallList:
    """The rows of file ``name`` (its content ``data``) with their columns found."""
    rows = _xlsx_rows(name, data) if _is_xlsx(name, data) else _csv_rows(name, data)
    header: tuple[str, ...] | None = None
    body: list[tuple[int, Mapping[str, str]]] = []
    for line_no, cells in rows:
        if not any(cells):
            continue
        if header is None:
            header = _header(name, cells)
            continue
        if len(body) == MAX_LINES:
            raise ListRefused(f"{name}: more than {MAX_LINES} lines: split the list into smaller files")
        body.append((line_no, {column: cell for column, cell in zip(header, cells, strict=False) if column}))
    if header is None:
        raise ListRefused(f"{name}: the file is empty: a header row and a line per number are expected")
    return CallList(name, header, _columns(name, header, mapping or {}), tuple(body))


def _is_xlsx(name: str, data: bytes) -> bool:
    return name.lower().endswith((".xlsx", ".xlsm")) or data.startswith(b"PK\x03\x04")


def _csv_rows(name: str, data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(name, data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        for line_no, row in enumerate(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1
        ):
            yield line_no, [cell.strip()[:MAX_CELL] for cell in row]
    except csv.Error as exc:
        raise ListRefused(f"{name}: not a CSV file Excel could read: {exc}") from exc


def _decode(name: str, data: bytes) -> str:
    """UTF-8 (a byte-order mark is dropped), else GB18030, which reads GBK and GB2312 too."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ListRefused(f"{name}: the text is neither UTF-8 nor GB18030/GBK: save it from Excel as CSV or XLSX")


def _xlsx_rows(name: str, data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ListRefused(f"{name}: not an XLSX workbook Excel could read: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        for line_no, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line_no, [_cell_text(value)[:MAX_CELL] for value in values]
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """A cell as text: a phone number typed as a number (13800000001, even as 1.38e10) keeps
    its digits; a date cell is an ISO date."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _normal(column: str) -> str:
    return _NORMAL.sub("", column).lower()


def _header(name: str, cells: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    for cell in cells:
        if cell and cell in seen:
            raise ListRefused(f"{name}: the column {cell!r} is in the header twice: rename one")
        seen.add(cell)
    return tuple(cells)


def _columns(name: str, header: tuple[str, ...], mapping: Mapping[str, str]) -> dict[str, str]:
    """Each field's column: as mapped, else found by its common names."""
    columns: dict[str, str] = {}
    present = [column for column in header if column]
    for key, column in mapping.items():
        if key not in FIELDS:
            raise ListRefused(f"mapping {key}={column}: {key!r} is not a field ({', '.join(FIELDS)})")
        if column not in present:
            raise ListRefused(
                f"mapping {key}={column}: {name} has no column {column!r} (its columns: {', '.join(present)})"
            )
        columns[key] = column
    taken = set(columns.values())
    for key, names in FIELDS.items():
        if key in columns:
            continue
        found = [c for c in present if c not in taken and _normal(c) in {_normal(n) for n in names}]
        if found:
            columns[key] = found[0]
            taken.add(found[0])
    if "phone" not in columns:
        raise ListRefused(
            f"{name}: no phone column among {', '.join(present)}: "
            "name it 手机号 or phone, or map it (phone=<column>)"
        )
    return columns


def number_lines(calls: CallList, policy: NumberPolicy, kind: CampaignKind) -> list[Line]:
    """Each row as a line: its number read (``read_number``: a refusal is the verdict, with its
    reason), a number repeated from an earlier line marked ``duplicate``, its due day computed."""
    fields_of = {column: key for key, column in calls.columns.items()}
    lines: list[Line] = []
    first: dict[str, int] = {}
    for line_no, cells in calls.rows:
        phone = cells.get(calls.columns["phone"], "")
        data = {
            fields_of.get(c, c): v
            for c, v in cells.items()
            if v and fields_of.get(c) not in ("phone", "name")
        }
        line = Line(line_no, phone, cells.get(calls.columns.get("name", ""), "") or None, data)
        number = read_number(phone, policy)
        if not isinstance(number, Dialable):
            lines.append(replace(line, verdict=number.rule.value, reason=number.reason))
            continue
        line = replace(line, e164=number.e164, national=number.national)
        seen = first.setdefault(number.e164, line_no)
        if seen != line_no:
            lines.append(replace(line, verdict=Verdict.DUPLICATE, reason=f"the same number as line {seen}"))
            continue
        lines.append(_due(line, kind))
    return lines


def _due(line: Line, kind: CampaignKind) -> Line:
    offset = kind.due_offset
    if offset is None or not line.data.get(offset[0]):
        return line
    key, delta = offset
    text = line.data[key]
    match = _DATE.match(text)
    try:
        day = date(*(int(part) for part in match.groups())) if match else date.fromisoformat(text)
    except ValueError:
        return replace(
            line, verdict=Verdict.BAD_DATE, reason=f"{key} {text!r} is not a date such as 2026-12-31"
        )
    return replace(line, due_on=day + delta)


def judge(
    lines: Sequence[Line], *, in_campaign: set[str], dnc: set[str], called: set[str], days: int
) -> list[Line]:
    """The lines with what the store knows of their numbers: on the do-not-call list, in the
    campaign already, called within ``days`` days. Lines refused before keep their verdict."""
    judged: list[Line] = []
    for line in lines:
        number = line.e164 or ""
        if not line.ok:
            judged.append(line)
        elif number in dnc:
            judged.append(replace(line, verdict=Verdict.DNC, reason="on the do-not-call list"))
        elif number in in_campaign:
            judged.append(
                replace(line, verdict=Verdict.IN_CAMPAIGN, reason="the campaign has this number already")
            )
        elif number in called:
            judged.append(
                replace(line, verdict=Verdict.CALLED_RECENTLY, reason=f"called within the last {days} days")
            )
        else:
            judged.append(line)
    return judged
