"""Predictive and progressive dialling over simulated days: talk time per agent-hour, abandon rates.

Run: ``.venv/bin/python bench/dialer_sim.py [--seeds 2] [--days 30] [--agents 10 25 50] [--jobs N]``
(the defaults take about 5 CPU-minutes: under 3 minutes on 2 cores).
A seeded discrete-event simulation: no Asterisk, no I/O. The dialer it plays calls the real
``cti.outbound.pacing.pace`` when an agent becomes free, and otherwise at the first event (a line
ends, a customer answers or gives up, an agent ends a call) a second or more after it last did
(a dialer's loop; pacing after every event gave the same figures for 40 % more CPU), with what a
dialer can measure: ready agents, how long each busy
agent has been talking or wrapping up, how long each line in flight has rung, and the live
answers and abandons of the rolling 24 h and 30 days. A ``PacingTracker`` learns from the calls
(how attempts end, talk and wrap-up times) as the days go by, from its priors on day 1.

Each run is ``--days`` consecutive days (30 by default, so the 30-day rate is the real rolling
window at the end) of one campaign with all its agents on outbound work for an 8-hour shift
(09:00-17:00; answers still in flight at 17:00 are served and counted). Per seed, agents count and
mode, the figures are:

- talk minutes per agent-hour: customer talk time over the agents' logged-in time;
- abandon 24 h max: the highest abandon rate (abandoned / live answers) of any 24-hour window,
  read after every event once a whole window has passed (so windows that straddle two days
  count too), and at the end;
- abandon 30 d: abandoned / live answers over the whole run (the rolling 30 days at its end).

The tables give, per mode and agents count, the mean talk minutes and calls, and the worst seed's
abandon rates. The last line is the issue's: the worst abandon rates and the mean talk minutes over
all agents counts and seeds.

Assumptions (each a parameter below):

- live-answer rate 30-40 % of attempts (drawn per day; by hour of the shift x0.90-1.10): the
  range vendors publish for consumer lists; these campaigns call the center's own customers;
- a person answers 5-25 s after the dial (uniform); no answer is given up at 30 s (the issue);
- of the attempts not answered by a person: 60 % ring out (30 s), 15 % busy (3-8 s), 10 % fail
  (1-4 s: congestion, unallocated), 15 % reach an answering machine (answers like a person,
  Asterisk's AMD tells it apart within 3 s and the line is dropped);
- talk time lognormal, median 3 minutes, sigma 0.5 (mean 3.4 min): service follow-ups and
  reminders; call-center service times are close to lognormal (Brown et al., JASA 2005);
- wrap-up 20-30 s (uniform);
- an answered customer who has no agent within 2 s is abandoned (US TSR; DESIGN.md section 8);
- no agent breaks, no inbound work (blending is the unit tests' matter).

Published figures for comparison (the issue): progressive about 40 talk minutes per agent-hour,
predictive about 57. Benches print; they assert nothing.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import statistics
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from cti.outbound.pacing import Agents, DialMode, PacingInput, PacingTracker, pace

DAY_S = 86_400.0
SHIFT_START_S = 9 * 3600.0
SHIFT_S = 8 * 3600.0
ANSWER_RATE = (0.30, 0.40)  # live answers per attempt, drawn per day
HOUR_FACTOR = (0.90, 0.95, 1.00, 1.05, 0.95, 1.00, 1.05, 1.10)  # by hour of the shift
ANSWER_AFTER_S = (5.0, 25.0)
RING_OUT_S = 30.0
NOT_LIVE = (  # share of the attempts not answered by a person, and how long each takes
    (0.60, (RING_OUT_S, RING_OUT_S)),  # no answer
    (0.15, (3.0, 8.0)),  # busy
    (0.10, (1.0, 4.0)),  # failed
    (0.15, (ANSWER_AFTER_S[0] + 3.0, ANSWER_AFTER_S[1] + 3.0)),  # answering machine, then AMD
)
TALK_MEDIAN_S, TALK_SIGMA = 180.0, 0.5
WRAP_S = (20.0, 30.0)
NO_AGENT_S = 2.0
ABANDON_CAP = 0.03
PACE_EVERY_S = 1.0  # the dialer's loop; an agent who becomes free is dialled for at once

# Event kinds, in the heap as (time, sequence, kind, argument).
LINE_ENDS, TALK_ENDS, WRAP_ENDS, GIVES_UP = range(4)


@dataclass
class Result:
    agents: int
    mode: DialMode
    seed: int
    talk_s: float = 0.0
    agent_s: float = 0.0
    placed: int = 0
    answered: int = 0
    abandoned: int = 0
    worst_24h: float = 0.0

    @property
    def talk_min_per_agent_hour(self) -> float:
        return self.talk_s / 60 / (self.agent_s / 3600)

    @property
    def rate_30d(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


class Window:
    """The times of one kind of outcome within the last ``span_s`` seconds."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.times: deque[float] = deque()

    def add(self, now: float) -> None:
        self.times.append(now)

    def count(self, now: float) -> int:
        while self.times and self.times[0] <= now - self.span_s:
            self.times.popleft()
        return len(self.times)


@dataclass
class Center:
    """One campaign's dialer, agents and customers, and what the run measured."""

    agents: int
    mode: DialMode
    rng: random.Random
    result: Result
    tracker: PacingTracker = field(default_factory=PacingTracker)
    now: float = 0.0
    events: list[tuple[float, int, int, int]] = field(default_factory=list)
    sequence: int = 0
    ready: list[int] = field(default_factory=list)
    talking: dict[int, float] = field(default_factory=dict)  # agent -> since
    wrapping: dict[int, float] = field(default_factory=dict)
    released: dict[int, float] = field(default_factory=dict)  # agent -> when free after the shift
    dialling: dict[int, float] = field(default_factory=dict)  # line -> when dialled
    live: set[int] = field(default_factory=set)  # the lines a person will answer
    waiting: dict[int, float] = field(default_factory=dict)  # answered customers, no agent yet: since
    customers: int = 0
    answer_rate: float = 0.0
    shift_end: float = 0.0
    windows: dict[str, Window] = field(
        default_factory=lambda: {
            "answered_24h": Window(DAY_S),
            "abandoned_24h": Window(DAY_S),
            "answered_30d": Window(30 * DAY_S),
            "abandoned_30d": Window(30 * DAY_S),
        }
    )

    def at(self, when: float, kind: int, argument: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, self.sequence, kind, argument))

    def day(self, index: int) -> None:
        start = index * DAY_S + SHIFT_START_S
        self.now, self.shift_end = start, start + SHIFT_S
        self.answer_rate = self.rng.uniform(*ANSWER_RATE)
        self.ready = list(range(self.agents))
        self.released = {}
        self.dialler()
        paced = self.now
        while self.events:
            self.now, _, kind, argument = heapq.heappop(self.events)
            self.handle(kind, argument)
            if self.now < self.shift_end and (kind == WRAP_ENDS or self.now >= paced + PACE_EVERY_S):
                self.dialler()
                paced = self.now
            self.measure()
        self.result.agent_s += sum(
            max(self.released.get(a, 0.0), self.shift_end) - start for a in range(self.agents)
        )

    def handle(self, kind: int, argument: int) -> None:
        if kind == LINE_ENDS:
            self.line_ends(argument)
        elif kind == TALK_ENDS:
            since = self.talking.pop(argument)
            self.tracker = self.tracker.talked(self.now - since)
            self.wrapping[argument] = self.now
            self.at(self.now + self.rng.uniform(*WRAP_S), WRAP_ENDS, argument)
        elif kind == WRAP_ENDS:
            self.tracker = self.tracker.wrapped(self.now - self.wrapping.pop(argument))
            self.agent_free(argument)
        elif self.waiting.pop(argument, None) is not None:  # no agent within NO_AGENT_S
            self.result.abandoned += 1
            self.windows["abandoned_24h"].add(self.now)
            self.windows["abandoned_30d"].add(self.now)

    def line_ends(self, line: int) -> None:
        live = line in self.live
        self.tracker = self.tracker.attempted(self.now - self.dialling.pop(line), live=live)
        if not live:
            return
        self.live.discard(line)
        self.result.answered += 1
        self.windows["answered_24h"].add(self.now)
        self.windows["answered_30d"].add(self.now)
        if self.ready:
            self.connect(self.ready.pop(0))
            return
        self.customers += 1
        self.waiting[self.customers] = self.now
        self.at(self.now + NO_AGENT_S, GIVES_UP, self.customers)

    def agent_free(self, agent: int) -> None:
        if self.waiting:
            del self.waiting[next(iter(self.waiting))]
            self.connect(agent)
        elif self.now < self.shift_end or self.dialling:
            self.ready.append(agent)
        self.released[agent] = self.now

    def connect(self, agent: int) -> None:
        talk = self.rng.lognormvariate(math.log(TALK_MEDIAN_S), TALK_SIGMA)
        self.result.talk_s += talk
        self.talking[agent] = self.now
        self.at(self.now + talk, TALK_ENDS, agent)

    def dialler(self) -> None:
        now = self.now
        decision = pace(
            PacingInput(
                mode=self.mode,
                stats=self.tracker.stats,
                agents=Agents(
                    len(self.ready),
                    [now - since for since in self.talking.values()],
                    [now - since for since in self.wrapping.values()],
                ),
                dialling_for_s=[now - since for since in self.dialling.values()],
                abandon_cap=ABANDON_CAP,
                no_agent_s=NO_AGENT_S,
                **{name: window.count(now) for name, window in self.windows.items()},
            )
        )
        for _ in range(decision.dial):
            self.dial()

    def dial(self) -> None:
        self.result.placed += 1
        line = self.result.placed
        self.dialling[line] = self.now
        hour = min(int((self.now - (self.shift_end - SHIFT_S)) // 3600), len(HOUR_FACTOR) - 1)
        if self.rng.random() < self.answer_rate * HOUR_FACTOR[hour]:
            self.live.add(line)
            self.at(self.now + self.rng.uniform(*ANSWER_AFTER_S), LINE_ENDS, line)
            return
        self.at(self.now + self.rng.uniform(*self.not_live_lasts()), LINE_ENDS, line)

    def not_live_lasts(self) -> tuple[float, float]:
        """How long an attempt not answered by a person may last, drawn by its kind."""
        draw = self.rng.random()
        for share, lasts in NOT_LIVE:
            if draw < share:
                return lasts
            draw -= share
        return NOT_LIVE[-1][1]

    def measure(self) -> None:
        """The 24 h abandon rate, once a whole window has passed."""
        if self.now < DAY_S:
            return
        answered = self.windows["answered_24h"].count(self.now)
        if answered:
            rate = self.windows["abandoned_24h"].count(self.now) / answered
            self.result.worst_24h = max(self.result.worst_24h, rate)


def simulate(agents: int, mode: DialMode, seed: int, days: int) -> Result:
    center = Center(agents, mode, random.Random(f"{seed}:{agents}:{mode}"), Result(agents, mode, seed))
    for index in range(days):
        center.day(index)
    center.now = days * DAY_S  # the last day's window (the only one when days is 1)
    center.measure()
    return center.result


def talk(results: list[Result]) -> float:
    return statistics.mean(r.talk_min_per_agent_hour for r in results)


def table(results: list[Result], days: int) -> list[str]:
    lines = [
        "| agents | seeds | talk min/agent-h | abandon 24h max % | abandon 30d max % | calls/day | live/day",
        "|--------|-------|------------------|-------------------|-------------------|-----------|---------",
    ]
    for agents in sorted({r.agents for r in results}):
        runs = [r for r in results if r.agents == agents]
        lines.append(
            f"| {agents:>6} | {len(runs):>5} | {talk(runs):>16.1f} "
            f"| {max(r.worst_24h for r in runs) * 100:>17.2f} "
            f"| {max(r.rate_30d for r in runs) * 100:>17.2f} "
            f"| {statistics.mean(r.placed for r in runs) / days:>9.0f} "
            f"| {statistics.mean(r.answered for r in runs) / days:>8.0f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=2, help="independent runs per mode and agents count")
    parser.add_argument("--days", type=int, default=30, help="consecutive calling days per run")
    parser.add_argument("--agents", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    args = parser.parse_args()
    runs = [
        (agents, mode, seed, args.days)
        for agents in sorted(args.agents, reverse=True)  # the longest first: the processes end together
        for mode in (DialMode.PREDICTIVE, DialMode.PROGRESSIVE)
        for seed in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(simulate, *zip(*runs, strict=True)))
    print(f"{args.days} days of an 8-hour shift per run, {args.seeds} seeds, abandon cap {ABANDON_CAP:.0%}")
    predictive = [r for r in results if r.mode is DialMode.PREDICTIVE]
    progressive = [r for r in results if r.mode is DialMode.PROGRESSIVE]
    for mode, runs in ((DialMode.PREDICTIVE, predictive), (DialMode.PROGRESSIVE, progressive)):
        print("\n".join(["", f"{mode}:", *table(runs, args.days)]))
    print(
        f"predictive talk_min_per_agent_hour {talk(predictive):.1f}"
        f" abandon_24h_max_pct {max(r.worst_24h for r in predictive) * 100:.2f}"
        f" abandon_30d_max_pct {max(r.rate_30d for r in predictive) * 100:.2f}"
        f" progressive talk_min_per_agent_hour {talk(progressive):.1f}"
    )


if __name__ == "__main__":
    main()
