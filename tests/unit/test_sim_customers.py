"""Simulated customers' numbers: the digits [customer-sim] reads, valid mobile numbers."""

import pytest

from cti.outbound.numbers import Dialable, NumberPolicy, read_number
from cti.sim import Customer, customer_number


@pytest.mark.parametrize(
    ("behaviour", "ring_s", "stay_s", "line", "number"),
    [
        (Customer.ANSWERS, 5, 30, 0, "13800001530"),
        (Customer.ANSWERS, 0, 0, 12, "13800121000"),
        (Customer.BUSY, 1, 0, 9999, "13899992100"),
        (Customer.NEVER_ANSWERS, 0, 0, 1, "13800013000"),
        (Customer.FAILS, 2, 0, 0, "13800004200"),
    ],
)
def test_the_last_four_digits_say_what_the_customer_does(
    behaviour: Customer, ring_s: int, stay_s: int, line: int, number: str
) -> None:
    made = customer_number(behaviour, ring_s=ring_s, stay_s=stay_s, line=line)
    assert made == number
    assert isinstance(read_number(made, NumberPolicy.of("CN", ["CN"], ["mobile"])), Dialable)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"ring_s": 10}, "ring_s"), ({"stay_s": 100}, "stay_s"), ({"line": 10000}, "line")],
)
def test_values_the_digits_cannot_hold_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        customer_number(Customer.ANSWERS, **options)
