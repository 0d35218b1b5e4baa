"""Which numbers may be dialled (cti.outbound.numbers): every refusal with its rule."""

import pytest

from cti.outbound.numbers import Dialable, NumberPolicy, read_number
from cti.outbound.refusal import Refusal, Rule

POLICY = NumberPolicy()


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("13800000001", "+8613800000001", "mobile"),
        ("+86 138-0000-0001", "+8613800000001", "mobile"),
        ("008613800000001", "+8613800000001", "mobile"),
        ("02112345678", "+862112345678", "fixed_line"),
    ],
)
def test_a_subscriber_number_is_written_e164(raw: str, e164: str, kind: str) -> None:
    assert read_number(raw, POLICY) == Dialable(e164, "CN", e164.removeprefix("+86"), kind)


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("110", Rule.EMERGENCY),
        ("120", Rule.EMERGENCY),
        ("119", Rule.EMERGENCY),
        ("95588", Rule.SHORT_CODE),
        ("12345", Rule.SHORT_CODE),
        ("+12125551234", Rule.INTERNATIONAL),
        ("+882345678901", Rule.BAD_NUMBER),
        ("4008123123", Rule.PREMIUM),
        ("1380000000", Rule.BAD_NUMBER),
        ("abc", Rule.BAD_NUMBER),
        ("", Rule.BAD_NUMBER),
        ("1" * 20, Rule.BAD_NUMBER),
        ("1" * 41, Rule.BAD_NUMBER),
    ],
)
def test_what_the_center_did_not_mean_to_call_is_refused_by_its_rule(raw: str, rule: Rule) -> None:
    refusal = read_number(raw, POLICY)
    assert isinstance(refusal, Refusal)
    assert refusal.rule is rule
    if len(raw) > 4:
        assert raw not in refusal.reason  # reasons are logged: never the number itself


def test_a_country_the_center_allows_is_dialled() -> None:
    policy = NumberPolicy.of("CN", ["CN", "US"], ["mobile", "fixed_line", "fixed_line_or_mobile"])
    assert read_number("+12125551234", policy) == Dialable(
        "+12125551234", "US", "2125551234", "fixed_line_or_mobile"
    )


@pytest.mark.parametrize(
    ("regions", "types", "message"),
    [
        (["CN", "XX"], ["mobile"], "unknown country code 'XX'"),
        (["CN"], ["mobile", "cheap"], "unknown number type 'cheap'"),
    ],
)
def test_a_policy_with_an_unknown_value_says_which(
    regions: list[str], types: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        NumberPolicy.of("CN", regions, types)
