"""Which numbers may be dialled at all, and how they are written: every number the service
dials (callbacks, leads, campaign lists) is parsed with ``phonenumbers``, stored E.164 and
refused when it is no valid number, a short or emergency code, a type the center did not allow
(premium rate, shared cost...) or a country it does not call. Pure: no I/O.

Caller ids can be forged and lists are typed by hand: whatever reaches a dial string goes
through ``read_number`` first (toll fraud otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, shortnumberinfo

from cti.outbound.refusal import Refusal, Rule

#: The number types a center may allow, by the names the settings use.
NUMBER_TYPES: dict[str, int] = {
    "fixed_line": PhoneNumberType.FIXED_LINE,
    "mobile": PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "toll_free": PhoneNumberType.TOLL_FREE,
    "premium_rate": PhoneNumberType.PREMIUM_RATE,
    "shared_cost": PhoneNumberType.SHARED_COST,
    "voip": PhoneNumberType.VOIP,
    "personal_number": PhoneNumberType.PERSONAL_NUMBER,
    "pager": PhoneNumberType.PAGER,
    "uan": PhoneNumberType.UAN,
    "voicemail": PhoneNumberType.VOICEMAIL,
}
_TYPE_NAMES = {value: name for name, value in NUMBER_TYPES.items()}
MAX_RAW_LENGTH = 40  # longer text is no phone number, whatever it holds


@dataclass(frozen=True)
class NumberPolicy:
    """How numbers are read (``region``: the country of numbers written without a country
    code) and which may be dialled."""

    region: str = "CN"
    allowed_regions: frozenset[str] = frozenset({"CN"})
    allowed_types: frozenset[str] = frozenset({"mobile", "fixed_line", "fixed_line_or_mobile"})

    @classmethod
    def of(cls, region: str, allowed_regions: Iterable[str], allowed_types: Iterable[str]) -> NumberPolicy:
        """A policy from the settings' values; raises ``ValueError`` naming an unknown one."""
        regions = frozenset(code.upper() for code in allowed_regions)
        types = frozenset(allowed_types)
        unknown_types = sorted(types - NUMBER_TYPES.keys())
        if unknown_types:
            raise ValueError(f"unknown number type {unknown_types[0]!r}: one of {', '.join(NUMBER_TYPES)}")
        supported = phonenumbers.SUPPORTED_REGIONS
        for code in sorted(regions | {region.upper()}):
            if code not in supported:
                raise ValueError(f"unknown country code {code!r}: an ISO 3166 code such as CN")
        return cls(region.upper(), regions, types)


@dataclass(frozen=True)
class Dialable:
    """A number that may be dialled: E.164 (``+8613800000001``), its country, its national
    significant number and its type."""

    e164: str
    region: str
    national: str
    kind: str


def read_number(raw: str, policy: NumberPolicy) -> Dialable | Refusal:
    """``raw`` as a number the center may dial, or why not (the reason never repeats the whole
    number: refusals are logged)."""
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        return Refusal(Rule.BAD_NUMBER, f"not a phone number ({len(text)} characters)")
    if shortnumberinfo.connects_to_emergency_number(text, policy.region):
        return Refusal(Rule.EMERGENCY, "an emergency number")
    try:
        number = phonenumbers.parse(text, policy.region)
    except NumberParseException as exc:
        return Refusal(Rule.BAD_NUMBER, f"not a phone number: {exc}")
    region = phonenumbers.region_code_for_number(number) or ""
    if shortnumberinfo.is_possible_short_number(number) and not phonenumbers.is_valid_number(number):
        return Refusal(Rule.SHORT_CODE, "a short service code, not a subscriber's number")
    if not phonenumbers.is_valid_number(number):
        return Refusal(Rule.BAD_NUMBER, f"not a valid number in {region or 'any country'}")
    if region not in policy.allowed_regions:
        return Refusal(Rule.INTERNATIONAL, f"a number in {region}: not a country the center calls")
    kind = _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    if kind not in policy.allowed_types:
        return Refusal(Rule.PREMIUM, f"a {kind.replace('_', ' ')} number: not a type the center calls")
    return Dialable(
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        region,
        phonenumbers.national_significant_number(number),
        kind,
    )
