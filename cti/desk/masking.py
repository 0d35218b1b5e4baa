"""What a viewer sees of a phone number or a VIN: no more than the work needs.

An agent taking a call sees the caller's number in full (to call back, to confirm it); anyone
else looking at someone's pop or card (a supervisor, a manager) sees it masked. A VIN is only
ever shown by its last six characters, the part a customer reads out to identify the car.
"""

from __future__ import annotations

from cti.roles import Role

MASK = "*"


def sees_numbers(viewer: Role) -> bool:
    """Whether ``viewer`` needs customers' phone numbers in full: only the agent serving them."""
    return viewer is Role.AGENT


def mask_number(number: str) -> str:
    """The number with most of it hidden, its length kept: a mobile number as ``138****5678``
    (the carrier prefix and the last four, as Chinese receipts print it), 7 to 10 characters
    keep the last four, shorter ones the last two, and one or two characters nothing."""
    size = len(number)
    head, tail = (3, 4) if size >= 11 else (0, 4) if size >= 7 else (0, 2) if size >= 3 else (0, 0)
    return number[:head] + MASK * (size - head - tail) + number[size - tail :]


def shown_number(number: str, viewer: Role) -> str:
    return number if sees_numbers(viewer) else mask_number(number)


def vin_last6(vin: str) -> str:
    return vin[-6:]
