"""Every result against the default rules and a campaign's own, at and around each limit."""

from dataclasses import dataclass

import pytest

from cti.outbound.leads import LeadStatus
from cti.outbound.retries import DEFAULT_RULES, DialResult, Next, Rule, after, result_of

NOW = 1_000_000.0
R = DialResult


@pytest.mark.parametrize(
    ("result", "attempts", "expected"),
    [
        (R.ANSWERED, 1, Next(LeadStatus.CONTACTED)),
        (R.ANSWERED, 9, Next(LeadStatus.CONTACTED)),  # an answer is a contact, whatever came before
        (R.BUSY, 1, Next(LeadStatus.RETRY, NOW + 120)),
        (R.BUSY, 4, Next(LeadStatus.RETRY, NOW + 120)),
        (R.BUSY, 5, Next(LeadStatus.EXHAUSTED)),
        (R.BUSY, 6, Next(LeadStatus.EXHAUSTED)),
        (R.NO_ANSWER, 1, Next(LeadStatus.RETRY, NOW + 1800)),
        (R.NO_ANSWER, 5, Next(LeadStatus.EXHAUSTED)),
        (R.FAILED, 1, Next(LeadStatus.RETRY, NOW + 600)),
        (R.FAILED, 5, Next(LeadStatus.EXHAUSTED)),
        (R.MACHINE, 2, Next(LeadStatus.RETRY, NOW + 4 * 3600)),
        (R.MACHINE, 3, Next(LeadStatus.EXHAUSTED)),
        (R.ABANDONED, 1, Next(LeadStatus.RETRY, NOW + 72 * 3600)),
        (R.ABANDONED, 5, Next(LeadStatus.EXHAUSTED)),
        (R.DROPPED, 1, Next(LeadStatus.RETRY, NOW + 1800)),
        (R.DROPPED, 5, Next(LeadStatus.EXHAUSTED)),
    ],
)
def test_given_default_rules_when_an_attempt_ends_then_the_lead_goes_on_by_its_result(
    result: DialResult, attempts: int, expected: Next
) -> None:
    assert after(result, attempts, NOW) == expected


def test_every_result_but_an_answer_has_a_default_rule() -> None:
    assert set(DEFAULT_RULES) == set(DialResult) - {DialResult.ANSWERED}


@dataclass(frozen=True)
class CampaignRule:  # another module's rule type, of the same shape (``RetryRule``)
    after_s: float
    max_attempts: int


@pytest.mark.parametrize(
    ("result", "attempts", "expected"),
    [
        (R.BUSY, 1, Next(LeadStatus.RETRY, NOW + 60)),
        (R.BUSY, 2, Next(LeadStatus.EXHAUSTED)),
        (R.NO_ANSWER, 1, Next(LeadStatus.EXHAUSTED)),  # no rule for it: not retried
        (R.ANSWERED, 1, Next(LeadStatus.CONTACTED)),
    ],
)
def test_given_a_campaigns_rules_when_an_attempt_ends_then_they_decide(
    result: DialResult, attempts: int, expected: Next
) -> None:
    rules = {R.BUSY: CampaignRule(after_s=60, max_attempts=2)}
    assert after(result, attempts, NOW, rules) == expected


def test_no_attempt_made_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        after(R.BUSY, 0, NOW)


@pytest.mark.parametrize(("after_s", "max_attempts"), [(-1, 3), (10, 0)])
def test_a_rule_that_makes_no_sense_is_refused(after_s: float, max_attempts: int) -> None:
    with pytest.raises(ValueError, match="retry rule"):
        Rule(after_s, max_attempts)


@pytest.mark.parametrize(
    ("dialstatus", "result"),
    [
        ("BUSY", R.BUSY),
        ("NOANSWER", R.NO_ANSWER),
        ("CANCEL", R.NO_ANSWER),
        ("CONGESTION", R.FAILED),
        ("CHANUNAVAIL", R.FAILED),
        ("", R.FAILED),
    ],
)
def test_an_unanswered_attempts_result_comes_from_asterisks_dialstatus(
    dialstatus: str, result: DialResult
) -> None:
    assert result_of(dialstatus) == result
