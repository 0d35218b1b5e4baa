"""Simulated customers for the outbound dialer: numbers whose digits say what the customer does.

``[customer-sim]`` in config/asterisk/extensions.conf reads a number's last four digits
``B R S S``: B the behaviour (1 answers, 2 busy, 3 never answers, 4 fails), R the seconds it
rings first, SS the seconds an answering customer stays (00: an hour). The numbers are valid
Chinese mobile numbers (138 + a 4-digit line + those four digits), so the dialer's number rules
read them as real ones; ``line`` tells customers of one behaviour apart (the per-number limits).
With ``[outbound] trunk = "Local/{national}@customer-sim"`` every lead dials one of them.
"""

from __future__ import annotations

from enum import IntEnum

CUSTOMER_SIM_CONTEXT = "customer-sim"


class Customer(IntEnum):
    ANSWERS = 1
    BUSY = 2
    NEVER_ANSWERS = 3
    FAILS = 4


def customer_number(behaviour: Customer, *, ring_s: int = 0, stay_s: int = 0, line: int = 0) -> str:
    """The national number of a simulated customer (``+86`` in front makes it E.164)."""
    if not 0 <= ring_s <= 9:
        raise ValueError(f"ring_s is {ring_s}: a simulated customer rings 0-9 s (one digit)")
    if not 0 <= stay_s <= 99:
        raise ValueError(f"stay_s is {stay_s}: a simulated customer stays 0-99 s (0: an hour)")
    if not 0 <= line <= 9999:
        raise ValueError(f"line is {line}: 0-9999 (four digits)")
    return f"138{line:04d}{int(behaviour)}{ring_s}{stay_s:02d}"
