"""Pacing: how many customer lines the dialer starts now. Pure: no clock, no I/O; the dialer
measures (agents, lines in flight and how long they have rung, abandon counts) and asks ``pace``.

Three modes (``DialMode``). **Preview** dials nothing by itself: the agent reads the record and
clicks. **Progressive** dials one line per ready agent not already covered by a line in flight,
so every answer finds its agent and nothing is abandoned. **Predictive** dials more lines than
ready agents, because most lines are not answered by a person (30-40 % are), and keeps the
abandons (a live answer with no agent within the no-agent window, 2 s) under the cap:

- *Answers*: each line in flight that has rung ``a`` seconds is answered live within the next
  ``t`` seconds with chance ``(L(a + t) - L(a)) / (1 - L(a) - E(a))``, where ``L(k)`` and ``E(k)``
  are the shares of recent attempts answered live, or ended otherwise, within ``k`` seconds (the
  tracker's histograms; Bayes: a line that has rung long is more likely a no-answer). A new line:
  ``L(t)``. Lines are independent, so the answers ``A(t)`` of the lines in flight are
  Poisson-binomial, and those of ``n`` new lines ``Binomial(n, L(t))``.
- *Agents*: ``F(t)`` = the ready agents plus the busy ones expected to be free within
  ``t + no_agent_s``: the mean residual of the fitted lognormal wrap-up time (or talk time plus a
  whole wrap-up), from how long each has been wrapping up (talking).
- *Abandons*: at each checkpoint ``t`` in ``CHECKPOINTS_S`` (1-22 s), the answers beyond the
  agents: ``E[(A(t) - F(t))+] = E[A] - F + sum_{j<F} (F - j) P(A = j)``, exact for these
  distributions; a line's abandons are those at the checkpoint where it adds most.
- *Choice*: the most new lines ``n <= max_ratio * F(last) - lines in flight`` whose own cost
  (the abandons they add over those of the lines already in flight) is at most ``line_rate`` of
  their expected answers ``n p`` (charging all lines in flight at every event counts the old
  lines' answers anew each time: it abandoned several times the aim in ``bench/dialer_sim.py``).
- *Feedback*: the model counts answers against agents at a few instants and takes busy agents'
  free times as certain, so it under-counts abandons (by 2-4x in ``bench/dialer_sim.py``, most
  with many agents): ``line_rate`` (0.6 %) is set well under the cap, and while the abandons of
  the rolling 24 h (Ofcom) or 30 days (US TSR) are over ``aim * cap`` (80 % of 3 %) of their
  live answers there is no overdial at all (progressive, which abandons nothing) until answers
  have brought the rate back under; so too until the tracker has seen ``min_samples`` attempts.
  The decision's mode and reason say so.

**Inbound wins**: while inbound callers wait, or the three-ring rate is at risk, the agents who
also take inbound calls (``PacingInput.blended``) are left to inbound: no line is dialled for
them and predictive does not count them.

``PacingTracker`` keeps what the model needs as exponentially weighted statistics of the recent
calls, starting from priors worth a few calls: how attempts end (histograms by second of live
answers and of other endings) and the talk and wrap-up times (lognormal fits of their
logarithms' first two moments).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

#: When answers are compared with agents: the answers within each of these seconds from now
#: against the agents free by then plus the no-agent window.
CHECKPOINTS_S = (1.0, 4.0, 8.0, 14.0, 22.0)


class DialMode(StrEnum):
    """How a campaign dials (the ``campaigns.dial_mode`` column)."""

    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


@dataclass(frozen=True)
class LogNormal:
    """A duration whose logarithm is normal (``mu``, ``sigma``): service times in call centers are
    close to lognormal (Brown et al., "Statistical analysis of a telephone call center", 2005)."""

    mu: float
    sigma: float

    @classmethod
    def of(cls, median_s: float, sigma: float) -> LogNormal:
        return cls(math.log(median_s), sigma)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def mean_residual(self, elapsed_s: float) -> float:
        """Expected time left of a duration that has lasted ``elapsed_s`` already:
        ``E[T - x | T > x] = mean * Phi(sigma - z) / (1 - Phi(z)) - x``, ``z = (ln x - mu) / sigma``.
        A call that has run long is expected to run on, not to end at the mean."""
        if elapsed_s <= 0:
            return self.mean
        if self.sigma <= 0:
            return max(math.exp(self.mu) - elapsed_s, 0.0)
        z = (math.log(elapsed_s) - self.mu) / self.sigma
        survival = 0.5 * math.erfc(z / math.sqrt(2))
        if survival <= 0.0:  # far in the tail: the asymptote x sigma^2 / (ln x - mu)
            return elapsed_s * self.sigma**2 / (math.log(elapsed_s) - self.mu)
        beyond = self.mean * 0.5 * math.erfc((z - self.sigma) / math.sqrt(2))
        return max(beyond / survival - elapsed_s, 0.0)


#: Attempts are binned by their length in whole seconds up to this; longer ones share the last bin.
RING_BINS = 60


@dataclass(frozen=True)
class PacingStats:
    """What the tracker knows of recent outbound calls. How attempts end is kept as a histogram by
    second, for the live answers and for the rest (no answer, busy, failed, machine): from it, the
    chance that a line still ringing at some age is answered by a person within some seconds."""

    attempts: int  # attempts seen since the tracker started (not decayed): is there enough?
    answers: int  # live answers seen since the tracker started
    answered_by: tuple[float, ...]  # [k]: share of attempts answered live within k seconds
    ended_by: tuple[float, ...]  # [k]: share of attempts ended otherwise within k seconds
    talk: LogNormal
    wrap: LogNormal

    @property
    def answer_rate(self) -> float:
        """The share of attempts answered by a person."""
        return self.answered_by[-1]

    def answers_within(self, ringing_for_s: float, within_s: float) -> float:
        """The chance that a line ringing for ``ringing_for_s`` is answered by a person within the
        next ``within_s``: of the attempts still up at that age, the share answered live in the
        window (Bayes over the histogram: lines that have rung long are more likely no answer)."""
        age = min(int(ringing_for_s), RING_BINS)
        later = min(int(ringing_for_s + within_s), RING_BINS)
        up = (1.0 - self.answered_by[age]) - self.ended_by[age]
        return (self.answered_by[later] - self.answered_by[age]) / up if up > 1e-12 else 0.0


@dataclass(frozen=True)
class _Means:
    """Exponentially weighted means that start from a prior worth ``weight`` samples; each new
    sample weighs 1 and the older ones fade by ``1 - 1/window``, so the weight tends to ``window``.
    A histogram's shares are the means of one-hot samples."""

    values: tuple[float, ...]
    weight: float

    def add(self, sample: Sequence[float], window: int) -> _Means:
        weight = self.weight * (1 - 1 / window) + 1
        return _Means(tuple(v + (x - v) / weight for v, x in zip(self.values, sample, strict=True)), weight)

    def add_one_hot(self, index: int, window: int) -> _Means:
        """``add`` of the sample that is 1 at ``index`` and 0 elsewhere, in one pass."""
        weight = self.weight * (1 - 1 / window) + 1
        values = [v * (1 - 1 / weight) for v in self.values]
        values[index] += 1 / weight
        return _Means(tuple(values), weight)

    def fitted(self) -> LogNormal:
        """The lognormal of these means of ``(ln t, ln^2 t)``."""
        first, second = self.values
        return LogNormal(first, math.sqrt(max(second - first**2, 0.0)))


def _log_moments(prior: LogNormal) -> _Means:
    return _Means((prior.mu, prior.mu**2 + prior.sigma**2), PRIOR_WEIGHT)


def _check_seconds(where: str, *seconds: float) -> None:
    if seconds and not (min(seconds) >= 0 and math.isfinite(math.fsum(seconds))):  # NaN: fsum is NaN
        raise ValueError(f"{where} must be finite seconds >= 0, not {list(seconds)}")


def _prior_endings() -> _Means:
    """Before any call: 35 % answered live (published rates of outbound lists: 30-40 %), evenly
    5-25 s after the dial; of the rest, half ring out at 30 s and half end sooner (busy, failed,
    machines), evenly over 1-30 s."""
    live = [0.35 / 20 if 5 <= k < 25 else 0.0 for k in range(RING_BINS)]
    other = [0.65 / 2 / 29 if 1 <= k < 30 else 0.0 for k in range(RING_BINS)]
    other[30] += 0.65 / 2
    return _Means((*live, *other), PRIOR_WEIGHT)


PRIOR_WEIGHT = 20.0  # the priors weigh as much as 20 calls
_PRIOR_ENDINGS = _prior_endings()
_PRIOR_TALK = _log_moments(LogNormal.of(180.0, 0.5))  # a follow-up or reminder call: about 3 minutes
_PRIOR_WRAP = _log_moments(LogNormal.of(25.0, 0.3))


@dataclass(frozen=True)
class PacingTracker:
    """The recent outcomes of a campaign's calls, immutable: each ``attempted``, ``talked`` and
    ``wrapped`` returns the next tracker. ``window``: the number of attempts (for how they end)
    or calls (for the talk and wrap-up times) the estimates mostly rest on."""

    window: int = 300
    attempts: int = 0
    answers: int = 0
    endings: _Means = _PRIOR_ENDINGS  # live answers by second, then the other endings by second
    talk: _Means = _PRIOR_TALK
    wrap: _Means = _PRIOR_WRAP

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"PacingTracker: window must be at least 1 call, not {self.window}")

    def attempted(self, after_s: float, *, live: bool) -> PacingTracker:
        """One dial attempt ended ``after_s`` seconds after the dial: answered by a person
        (``live``), or not (no answer, busy, failed, an answering machine)."""
        _check_seconds("PacingTracker.attempted: after_s", after_s)
        index = min(int(after_s), RING_BINS - 1) + (0 if live else RING_BINS)
        endings = self.endings.add_one_hot(index, self.window)
        return replace(self, attempts=self.attempts + 1, answers=self.answers + live, endings=endings)

    def talked(self, seconds: float) -> PacingTracker:
        return replace(self, talk=self._with(self.talk, "talk time", seconds))

    def wrapped(self, seconds: float) -> PacingTracker:
        return replace(self, wrap=self._with(self.wrap, "wrap-up time", seconds))

    def _with(self, moments: _Means, what: str, seconds: float) -> _Means:
        # A sub-second call or wrap-up counts as one second (ln 0 is -inf).
        _check_seconds(f"PacingTracker: {what}", seconds)
        log = math.log(max(seconds, 1.0))
        return moments.add((log, log * log), self.window)

    @property
    def stats(self) -> PacingStats:
        shares = self.endings.values
        return PacingStats(
            attempts=self.attempts,
            answers=self.answers,
            answered_by=(0.0, *itertools.accumulate(shares[:RING_BINS])),
            ended_by=(0.0, *itertools.accumulate(shares[RING_BINS:])),
            talk=self.talk.fitted(),
            wrap=self.wrap.fitted(),
        )


@dataclass(frozen=True)
class Agents:
    """A group of agents as the dialer sees them now. ``ready``: waiting for work, including an
    agent a ringing progressive line is meant for; busy agents by how long each has been talking
    (``talking_for_s``) or wrapping up (``wrapping_for_s``). Paused and logged-out agents are
    not counted at all."""

    ready: int = 0
    talking_for_s: Sequence[float] = ()
    wrapping_for_s: Sequence[float] = ()

    def __post_init__(self) -> None:
        if self.ready < 0:
            raise ValueError(f"Agents.ready must be >= 0, not {self.ready}")
        _check_seconds("Agents.talking_for_s", *self.talking_for_s)
        _check_seconds("Agents.wrapping_for_s", *self.wrapping_for_s)

    def free_in_s(self, stats: PacingStats, within_s: float) -> list[float]:
        """The busy ones' expected seconds until free, of those who may be free ``within_s``."""
        wrap = stats.wrap
        soon = [wrap.mean_residual(s) for s in self.wrapping_for_s]
        whole_wrap = wrap.mean
        if whole_wrap <= within_s:  # else a whole wrap-up is still to come after any call
            soon += [stats.talk.mean_residual(s) + whole_wrap for s in self.talking_for_s]
        return soon


@dataclass(frozen=True)
class PacingInput:
    """One pacing question, as the dialer measures it now (for one campaign). ``agents``: those
    who take only outbound work; ``blended``: those who take inbound calls too."""

    mode: DialMode
    stats: PacingStats
    agents: Agents = Agents()
    dialling_for_s: Sequence[float] = ()  # the lines in flight (not answered, not ended): their age
    # Live answers and the abandoned among them, per campaign, over the rolling 24 h and 30 days.
    abandoned_24h: int = 0
    answered_24h: int = 0
    abandoned_30d: int = 0
    answered_30d: int = 0
    abandon_cap: float = 0.03
    blended: Agents = Agents()
    inbound_waiting: int = 0  # callers waiting in the inbound queues the blended agents serve
    three_ring_at_risk: bool = False  # the inbound queues' three-ring rate is near its target
    max_ratio: float = 3.0  # at most this many lines per agent counted
    no_agent_s: float = 2.0  # an answered customer with no agent this long is abandoned
    min_samples: int = 50  # attempts the tracker must have seen before predictive dialling
    aim: float = 0.8  # over this share of the cap in either window, predictive pauses
    line_rate: float = 0.006  # the abandons each added line may cost, per expected answer

    def __post_init__(self) -> None:
        if min(self.inbound_waiting, self.min_samples) < 0:
            raise ValueError(f"PacingInput: inbound_waiting and min_samples must be >= 0, not {self}")
        _check_seconds("PacingInput.dialling_for_s", *self.dialling_for_s)
        for window, abandoned, answered in (
            ("24h", self.abandoned_24h, self.answered_24h),
            ("30d", self.abandoned_30d, self.answered_30d),
        ):
            if not 0 <= abandoned <= answered:
                raise ValueError(
                    f"PacingInput: abandoned_{window} ({abandoned}) must be between 0 and "
                    f"answered_{window} ({answered}): an abandoned call is a live answer"
                )
        if not 0 < self.abandon_cap < 1 or not 0 < self.aim <= 1:
            raise ValueError(f"PacingInput: abandon_cap ({self.abandon_cap}) and aim ({self.aim}) are shares")
        if not (0 <= self.line_rate < 1 and self.max_ratio >= 1 and self.no_agent_s >= 0):
            raise ValueError(
                f"PacingInput: line_rate ({self.line_rate}) must be in [0, 1), max_ratio "
                f"({self.max_ratio}) >= 1 and no_agent_s ({self.no_agent_s}) >= 0"
            )


@dataclass(frozen=True)
class PacingDecision:
    dial: int  # lines to start now
    mode: DialMode  # the mode the decision was made in (predictive may fall back to progressive)
    reason: str  # for the log and the campaign page


def pace(question: PacingInput) -> PacingDecision:
    """How many lines to dial now: see the module's docstring for the model."""
    if question.mode is DialMode.PREVIEW:
        return PacingDecision(0, DialMode.PREVIEW, "preview: the agent dials from the record")
    held = _held_for_inbound(question)
    groups = (question.agents,) if held else (question.agents, question.blended)
    ready = sum(group.ready for group in groups)
    if question.mode is DialMode.PROGRESSIVE:
        return _progressive(question, ready, held or "one line per ready agent")
    if question.stats.attempts < question.min_samples:
        seen = f"{question.stats.attempts} < {question.min_samples}"
        return _progressive(question, ready, f"too few samples for predictive ({seen})")
    if rates := _over_aim(question):
        return _progressive(question, ready, f"abandon rate near the cap ({rates})")
    return _predictive(question, ready, groups, held)


def _predictive(question: PacingInput, ready: int, groups: tuple[Agents, ...], held: str) -> PacingDecision:
    stats, wait = question.stats, question.no_agent_s
    busy = [s for group in groups for s in group.free_in_s(stats, CHECKPOINTS_S[-1] + wait)]
    agents = [ready + sum(1 for s in busy if s <= within + wait) for within in CHECKPOINTS_S]
    most = math.floor(question.max_ratio * agents[-1]) - len(question.dialling_for_s)
    lines, abandons = 0, 0.0
    if most > 0:
        lines, abandons = _most_lines(_batches(question, agents), stats.answer_rate, question.line_rate, most)
    why = (
        f"agents free {'/'.join(map(str, agents))} within {'/'.join(f'{t:.0f}' for t in CHECKPOINTS_S)} s "
        f"(+{wait:.0f}), {len(question.dialling_for_s)} lines ringing, live answers {stats.answer_rate:.0%}: "
        f"{lines} more, {abandons:.2f} abandons expected{'; ' + held if held else ''}"
    )
    return PacingDecision(lines, DialMode.PREDICTIVE, why)


def _batches(question: PacingInput, agents: list[int]) -> list[_Batch]:
    stats = question.stats
    ages = Counter(min(int(age), RING_BINS) for age in question.dialling_for_s)  # by the histogram's bins
    return [
        _Batch(
            free,
            [(stats.answers_within(age, within), lines) for age, lines in ages.items()],
            stats.answered_by[min(int(within), RING_BINS)],
        )
        for free, within in zip(agents, CHECKPOINTS_S, strict=True)
    ]


def _progressive(question: PacingInput, ready: int, why: str) -> PacingDecision:
    return PacingDecision(max(ready - len(question.dialling_for_s), 0), DialMode.PROGRESSIVE, why)


def _held_for_inbound(question: PacingInput) -> str:
    """Why the blended agents are left to inbound ("" when they are not)."""
    if question.inbound_waiting:
        return f"{question.inbound_waiting} inbound callers waiting: blended agents left to inbound"
    if question.three_ring_at_risk:
        return "inbound three-ring rate at risk: blended agents left to inbound"
    return ""


def _over_aim(question: PacingInput) -> str:
    """The rates, when either window's abandons are over ``aim * cap`` of its live answers."""
    target = question.aim * question.abandon_cap
    windows = (
        (question.abandoned_24h, question.answered_24h),
        (question.abandoned_30d, question.answered_30d),
    )
    if all(abandoned <= target * answered for abandoned, answered in windows):
        return ""
    rates = [f"{abandoned / answered:.1%}" if answered else "-" for abandoned, answered in windows]
    return f"24 h {rates[0]}, 30 d {rates[1]}, aiming under {target:.1%} of a {question.abandon_cap:.0%} cap"


def _binomial(n: int, p: float, terms: int) -> list[float]:
    """``P(X = i)`` for ``X ~ Binomial(n, p)``, ``i < terms``."""
    chance, pmf = (1.0 - p) ** n, []
    for i in range(terms):
        pmf.append(chance)
        chance = chance * (n - i) / (i + 1) * p / (1.0 - p) if p < 1.0 else float(i + 1 == n)
    return pmf


class _Batch:
    """The lines in flight against the ``agents`` free at one checkpoint: their answers by then
    (Poisson-binomial), ``P(A = j)`` for ``j < F`` only, which is all ``abandons`` needs."""

    def __init__(self, agents: int, ringing: Sequence[tuple[float, int]], fresh: float) -> None:
        """``ringing``: (chance, lines) for each group of lines that rang as long."""
        self.agents, self.fresh = agents, fresh
        self.ringing_answers = math.fsum(chance * lines for chance, lines in ringing)
        ringing_pmf = [1.0] + [0.0] * (agents - 1) if agents else []  # P(ringing answers = j), j < F
        for chance, lines in ringing:
            if chance <= 0.0:  # rung too long to be answered by then
                continue
            keep = 1.0 - chance
            for _ in range(lines):  # one line more: P(j) = P(j) (1 - c) + P(j - 1) c
                before = 0.0
                for j, value in enumerate(ringing_pmf):
                    ringing_pmf[j] = value * keep + before * chance
                    before = value
        self.ringing = ringing_pmf

    def abandons(self, n: int) -> float:
        """``E[(A - F)+] = E[A] - F + sum_{j<F} (F - j) P(A = j)`` with ``n`` more lines, each
        answered with chance ``fresh``. With ``P(A = j) = sum_k R(k) B(j - k)`` (``R`` the ringing
        lines', ``B`` the new lines' distribution) the sum is ``sum_k R(k) W(F - k)``,
        ``W(m) = sum_{i<m} (m - i) B(i)``: linear in ``F``."""
        agents, p = self.agents, self.fresh
        short = 0.0  # sum_{j<F} (F - j) P(A = j): the agents the answers leave idle
        if agents:
            below = [0.0] * (agents + 1)  # W(m) for m = 0..F
            total = weighted = 0.0  # sum_{i<m} B(i), sum_{i<m} i B(i)
            for i, chance in enumerate(_binomial(n, p, agents)):
                total += chance
                weighted += i * chance
                below[i + 1] = (i + 1) * total - weighted
            short = sum(r * below[agents - k] for k, r in enumerate(self.ringing))
        return max(self.ringing_answers + n * p - agents + short, 0.0)


def _most_lines(batches: list[_Batch], p: float, rate: float, most: int) -> tuple[int, float]:
    """The most lines ``n <= most`` to add whose own cost, the abandons they add (at the worst
    checkpoint), is at most ``rate`` of their expected answers ``n p``; and that cost.

    Each added line adds ``fresh P(A >= F)`` abandons at a checkpoint, more with each line, so
    the cost less ``rate n p`` is convex in ``n`` and 0 at ``n = 0``: the qualifying ``n`` are an
    interval from 0, whose end a galloping search finds in a few evaluations."""
    committed = [batch.abandons(0) for batch in batches]

    def cost(n: int) -> float:
        return max(batch.abandons(n) - before for batch, before in zip(batches, committed, strict=True))

    low, high, step, spent = 0, max(most, 0), 1, 0.0
    while low < high:
        middle = min(low + step, high) if step else (low + high + 1) // 2
        if (added := cost(middle)) <= rate * middle * p:
            low, spent, step = middle, added, step * 2
        else:
            high, step = middle - 1, 0  # from here on, bisect
    return low, spent
