"""Masking phone numbers and VINs: every length, every viewer."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.desk.masking import MASK, mask_number, sees_numbers, shown_number, vin_last6
from cti.web.auth import Role

DIGITS = "0123456789"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("", ""),
        ("1", "*"),
        ("12", "**"),
        ("110", "*10"),
        ("123456", "****56"),
        ("1234567", "***4567"),
        ("0101234567", "******4567"),
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86*******5678"),
    ],
)
def test_examples(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize("size", range(21))
def test_every_length_keeps_its_length_and_hides_most_of_it(size: int) -> None:
    number = "".join(DIGITS[(i * 7 + 3) % 10] for i in range(size))
    masked = mask_number(number)
    shown = [c for c in masked if c != MASK]
    assert len(masked) == size
    assert all(m in (MASK, n) for m, n in zip(masked, number, strict=True))  # shown digits in place
    assert len(shown) <= (7 if size >= 11 else 4 if size >= 7 else 2 if size >= 3 else 0)
    assert masked.count(MASK) >= (4 if size >= 11 else 3 if size >= 7 else 1 if size >= 1 else 0)
    assert masked.endswith(number[-4:] if size >= 7 else number[-2:] if size >= 3 else MASK * size)


@given(st.text(max_size=40))
def test_any_caller_id_keeps_at_most_its_first_three_and_last_four_and_hides_the_rest(number: str) -> None:
    size = len(number)
    kept = [
        (head, tail)
        for head in range(4)
        for tail in range(5)
        if head + tail < size
        and mask_number(number) == number[:head] + MASK * (size - head - tail) + number[size - tail :]
    ]
    assert kept or number == mask_number(number) == ""


@pytest.mark.parametrize("viewer", list(Role))
def test_only_the_agent_sees_numbers_in_full(viewer: Role) -> None:
    assert sees_numbers(viewer) is (viewer is Role.AGENT)
    expected = "13812345678" if viewer is Role.AGENT else "138****5678"
    assert shown_number("13812345678", viewer) == expected


def test_a_vin_shows_its_last_six() -> None:
    assert vin_last6("LSVAU2180N2183456") == "183456"
