"""What a dial attempt's result means for its lead: contacted, tried again later, or given up.

Pure: ``after(result, attempts, now, rules)`` reads one attempt's result and the number of
attempts made so far (this one included) against the retry rules (a campaign's
``CampaignSettings`` carries its own; leads without a campaign use ``DEFAULT_RULES``) and says
what becomes of the lead. The compliance rules (calling hours, the per-number limits, the
lock-out after an abandoned call) are the guard's, checked again before every dial: a retry
time here is the earliest the dialer *wants* to try, never a permission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cti.outbound.leads import LeadStatus


class DialResult(StrEnum):
    """How one dial attempt ended (``dial_result`` events and ``dial_attempts.result``)."""

    ANSWERED = "answered"  # the customer answered and was bridged to an agent
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang out (the trunk's ring time) or rejected without a cause
    FAILED = "failed"  # congestion, no route, channel unavailable: the network's fault
    MACHINE = "machine"  # an answering machine (Asterisk's AMD)
    ABANDONED = "abandoned"  # answered, but no agent within ``[outbound] no_agent_s``
    DROPPED = "dropped"  # answered, and hung up before the agent came (within the allowance)


class RetryRule(Protocol):
    """A result's retry rule: tried again ``after_s`` later while fewer than ``max_attempts``
    attempts were made in all. ``cti.outbound.campaigns.RetryRule`` has this shape."""

    @property
    def after_s(self) -> float: ...

    @property
    def max_attempts(self) -> int: ...


@dataclass(frozen=True)
class Rule:
    after_s: float
    max_attempts: int

    def __post_init__(self) -> None:
        if self.after_s < 0 or self.max_attempts < 1:
            raise ValueError(f"retry rule {self}: after_s must be >= 0 and max_attempts >= 1")


#: Leads without a campaign: a busy line is tried again soon, a phone not answered later, a
#: network failure in between; an abandoned customer not before the 72 h lock-out (UK Ofcom)
#: has passed. Every result but an answer stops after 5 attempts in all (the 24 h limit).
DEFAULT_RULES: Mapping[DialResult, RetryRule] = {
    DialResult.BUSY: Rule(after_s=120, max_attempts=5),
    DialResult.NO_ANSWER: Rule(after_s=1800, max_attempts=5),
    DialResult.FAILED: Rule(after_s=600, max_attempts=5),
    DialResult.MACHINE: Rule(after_s=4 * 3600, max_attempts=3),
    DialResult.ABANDONED: Rule(after_s=72 * 3600, max_attempts=5),
    DialResult.DROPPED: Rule(after_s=1800, max_attempts=5),
}


@dataclass(frozen=True)
class Next:
    """What becomes of the lead: its status, and when it is due again (a retry only)."""

    status: LeadStatus
    due_at: float | None = None


def after(
    result: DialResult,
    attempts: int,
    now: float,
    rules: Mapping[DialResult, RetryRule] = DEFAULT_RULES,
) -> Next:
    """The lead's next step after an attempt that ended with ``result``, ``attempts`` attempts
    having been made (this one included). A result with no rule is not retried."""
    if attempts < 1:
        raise ValueError(f"attempts is {attempts}: an attempt was just made, so at least 1")
    if result is DialResult.ANSWERED:
        return Next(LeadStatus.CONTACTED)
    rule = rules.get(result)
    if rule is None or attempts >= rule.max_attempts:
        return Next(LeadStatus.EXHAUSTED)
    return Next(LeadStatus.RETRY, now + rule.after_s)


def result_of(dialstatus: str) -> DialResult:
    """An unanswered attempt's result from Asterisk's ``DIALSTATUS`` (ARI ``Dial`` events):
    BUSY; NOANSWER (and CANCEL: the dialler gave up ringing) no answer; everything else
    (CONGESTION, CHANUNAVAIL, an empty status when the channel died first) a failure."""
    if dialstatus == "BUSY":
        return DialResult.BUSY
    if dialstatus in ("NOANSWER", "CANCEL"):
        return DialResult.NO_ANSWER
    return DialResult.FAILED
