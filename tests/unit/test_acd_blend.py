"""Blending inbound and outbound work at the claim: inbound first, then reservations by urgency,
one agent each, over one snapshot (``strategies.blend``)."""

import random

import pytest

from cti.acd import (
    AgentSnapshot,
    AgentState,
    Entry,
    QueueConfig,
    Reservation,
    RoundRobinMemory,
    Strategy,
    blend,
)

NOW = 1000.0


def agent(
    i: int, *, state: AgentState = AgentState.READY, idle: float = 0, skills: dict[str, int] | None = None
) -> AgentSnapshot:
    return AgentSnapshot(f"a{i}", state, skills or {"sales": 3}, order=i, idle_since=idle)


def caller(i: int, queue: str = "sales") -> Entry:
    return Entry(f"c{i}", queue, NOW - 10 + i)


def lead(i: int, urgency: float, queue: str = "sales") -> Reservation:
    return Reservation(Entry(f"l{i}", queue, NOW), urgency)


def run(
    agents: list[AgentSnapshot],
    callers: list[Entry],
    leads: list[Reservation],
    strategy: Strategy = Strategy.LINEAR,
) -> tuple[list[tuple[str, tuple[str, ...]]], list[tuple[str, tuple[str, ...]]]]:
    queues = {"sales": QueueConfig(name="sales", strategy=strategy), "service": QueueConfig(name="service")}
    inbound, outbound = blend(queues, agents, callers, leads, NOW, RoundRobinMemory(), random.Random(1))
    return [(o.entry.call_id, o.agents) for o in inbound], [(o.entry.call_id, o.agents) for o in outbound]


@pytest.mark.parametrize(
    ("agents", "callers", "leads", "expected"),
    [
        # one agent free for both: the caller gets it, the lead waits
        ([agent(0)], [caller(0)], [lead(0, 5)], ([("c0", ("a0",))], [])),
        # two agents: the caller first, the lead the other
        ([agent(0), agent(1)], [caller(0)], [lead(0, 5)], ([("c0", ("a0",))], [("l0", ("a1",))])),
        # no caller: the most urgent lead first
        ([agent(0)], [], [lead(0, 50), lead(1, 5)], ([], [("l1", ("a0",))])),
        ([agent(0), agent(1)], [], [lead(0, 50), lead(1, 5)], ([], [("l1", ("a0",)), ("l0", ("a1",))])),
        # list work (no deadline) after every lead
        ([agent(0)], [], [lead(0, float("inf")), lead(1, 9e9)], ([], [("l1", ("a0",))])),
        # nobody ready: nothing
        ([agent(0, state=AgentState.PAUSED)], [caller(0)], [lead(0, 5)], ([], [])),
        # the lead's queue is not the agent's skill: it waits
        ([agent(0, skills={"service": 2})], [], [lead(0, 5)], ([], [])),
        ([agent(0, skills={"service": 2})], [], [lead(0, 5, "service")], ([], [("l0", ("a0",))])),
    ],
)
def test_given_callers_and_leads_when_blended_then_inbound_first_then_leads_by_urgency(
    agents: list[AgentSnapshot],
    callers: list[Entry],
    leads: list[Reservation],
    expected: tuple[list[tuple[str, tuple[str, ...]]], list[tuple[str, tuple[str, ...]]]],
) -> None:
    assert run(agents, callers, leads) == expected


def test_a_reservation_takes_one_agent_even_in_a_ringall_queue() -> None:
    inbound, outbound = run([agent(0), agent(1), agent(2)], [], [lead(0, 5)], Strategy.RINGALL)
    assert inbound == []
    assert outbound == [("l0", ("a0",))]


def test_a_reservation_follows_the_queues_strategy() -> None:
    agents = [agent(0, idle=50), agent(1, idle=10)]
    assert run(agents, [], [lead(0, 5)], Strategy.LONGEST_IDLE) == ([], [("l0", ("a1",))])


def test_an_unknown_queue_is_an_error() -> None:
    with pytest.raises(KeyError):
        run([agent(0)], [], [lead(0, 5, "nowhere")])
