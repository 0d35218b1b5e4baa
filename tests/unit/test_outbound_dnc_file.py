"""Reading a do-not-call file (cti.outbound.dnc.read_dnc_file): one number per line or the
column a header names, every number E.164 and once, each line refused with why."""

import pytest

from cti.outbound.dnc import DncFile, DncFileError, RefusedLine, dnc_policy, read_dnc_file

POLICY = dnc_policy("CN")


def read(text: str) -> DncFile:
    return read_dnc_file(text.encode(), POLICY)


def test_one_number_per_line_any_spelling_once() -> None:
    found = read("13800138000\n+86 138-0013-8000\n\n021 5000 1234\n+12125551234\n")
    assert found == DncFile(("+8613800138000", "+862150001234", "+12125551234"), ())


@pytest.mark.parametrize("name", ["phone", "Number", "电话", "手机"])
def test_a_header_names_the_numbers_column(name: str) -> None:
    found = read(f"name,{name},note\n王芳,13800138000,complaint\n李伟,13900000002,\n")
    assert found.numbers == ("+8613800138000", "+8613900000002")


def test_a_utf8_file_with_a_byte_order_mark_as_excel_writes_it() -> None:
    found = read_dnc_file("\ufeff手机\r\n13800138000\r\n".encode(), POLICY)
    assert found.numbers == ("+8613800138000",)


def test_each_refused_line_says_why_without_the_number() -> None:
    found = read("phone\n13800138000\n110\n95588\nnot a number\n1380013800\n")
    assert found.numbers == ("+8613800138000",)
    assert [r.line for r in found.refused] == [3, 4, 5, 6]
    assert [r.reason.split(":")[0] for r in found.refused] == [
        "emergency",
        "short_code",
        "bad_number",
        "bad_number",
    ]
    assert all("1380013800" not in r.reason for r in found.refused)


def test_several_cells_without_a_header_naming_the_number_are_refused() -> None:
    found = read("13800138000,13900000002\n")
    assert found.refused == (RefusedLine(1, "2 cells and no header naming one of phone, number, 电话, 手机"),)


def test_a_file_that_is_not_utf8_cannot_be_read() -> None:
    with pytest.raises(DncFileError, match=r"line 2: not UTF-8"):
        read_dnc_file("13800138000\n电话\n".encode("gbk"), POLICY)
