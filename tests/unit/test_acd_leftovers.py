"""What the sweeper ends: deadlines past, and what dead instances left behind."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from cti.acd.agents import AgentStatus, Command, apply
from cti.acd.leftovers import RING_GRACE_S, WRAPUP_GRACE_S, AgentSeen, Limits, LineSeen, Sweep, sweep
from cti.acd.model import AgentState, Entry

NOW = 10_000.0
LIMITS = Limits(ring_s=15.0, wrapup_s=10.0)


def agent(
    state: AgentState, *, since: float = NOW - 1, until: float = 0.0, owner: str = "dead", call: str = "c1"
) -> AgentSeen:
    busy = state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
    status = AgentStatus("1001", state, since, "", call if busy else None, owner=owner, until=until)
    return AgentSeen(status, version=7)


def fixes(
    *seen: AgentSeen,
    alive: tuple[str, ...] = ("live",),
    channels: tuple[str, ...] = (),
    legs: dict[str, set[str]] | None = None,
) -> list[tuple[Command, ...]]:
    plan = sweep(list(seen), [], set(alive), set(channels), legs or {}, LIMITS, NOW)
    assert all(fix.version == 7 for fix in plan.agents)
    return [fix.commands for fix in plan.agents]


@pytest.mark.parametrize("owner", ["live", "dead", ""])
def test_a_wrap_up_ends_after_its_deadline_and_grace_whoever_owns_it(owner: str) -> None:
    assert fixes(agent(AgentState.WRAP_UP, until=NOW - WRAPUP_GRACE_S + 0.1, owner=owner)) == []
    assert fixes(agent(AgentState.WRAP_UP, until=NOW - WRAPUP_GRACE_S, owner=owner)) == [
        (Command.WRAPUP_DONE,)
    ]


def test_a_wrap_up_written_without_a_deadline_is_judged_by_the_longest_configured_one() -> None:
    lapsed = NOW - LIMITS.wrapup_s - WRAPUP_GRACE_S
    assert fixes(agent(AgentState.WRAP_UP, since=lapsed + 0.5)) == []
    assert fixes(agent(AgentState.WRAP_UP, since=lapsed)) == [(Command.WRAPUP_DONE,)]


@pytest.mark.parametrize("owner", ["live", "dead"])
def test_a_ring_is_cancelled_only_well_after_its_deadline(owner: str) -> None:
    assert fixes(agent(AgentState.RINGING, until=NOW - RING_GRACE_S + 0.1, owner=owner)) == []
    assert fixes(agent(AgentState.RINGING, until=NOW - RING_GRACE_S, owner=owner)) == [(Command.CANCEL,)]
    assert fixes(agent(AgentState.RINGING, since=NOW - LIMITS.ring_s - RING_GRACE_S)) == [(Command.CANCEL,)]


def test_an_agent_on_a_call_of_a_dead_instance_is_freed_only_when_asterisk_has_none_of_its_legs() -> None:
    freed = [(Command.HANG_UP, Command.WRAPUP_DONE)]
    long_ago = NOW - 100_000  # a conversation has no deadline
    assert fixes(agent(AgentState.ON_CALL, since=long_ago)) == freed
    assert fixes(agent(AgentState.ON_CALL, since=long_ago), channels=("c1",)) == []
    # a callback: the original caller is long gone, the customer leg is talking
    assert fixes(agent(AgentState.ON_CALL), channels=("cust",), legs={"c1": {"agent-leg", "cust"}}) == []
    assert fixes(agent(AgentState.ON_CALL), channels=("other",), legs={"c1": {"agent-leg", "cust"}}) == freed


def test_a_live_instance_keeps_its_agents_on_call_even_with_no_channel() -> None:
    assert fixes(agent(AgentState.ON_CALL, owner="live", since=NOW - 100_000)) == []


@pytest.mark.parametrize("state", [AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT])
def test_idle_agents_are_never_touched(state: AgentState) -> None:
    assert fixes(agent(state, since=0.0, until=1.0, owner="dead")) == []


def line(
    call: str, owner: str, *, callback: bool = False, taken_by: str = "", dialled: bool = False
) -> LineSeen:
    return LineSeen(Entry(call, "sales", NOW - 30), owner, callback, taken_by, dialled)


def test_the_line_loses_a_dead_instances_callers_who_hung_up_and_nobody_else() -> None:
    entries = [
        line("gone-dead", "dead"),
        line("here-dead", "dead"),
        line("gone-live", "live"),
        line("ghost", ""),
        line("callback", "", callback=True),
    ]
    plan = sweep([], entries, {"live"}, {"here-dead"}, {}, LIMITS, NOW)
    assert [entry.call_id for entry in plan.leave_line] == ["gone-dead", "ghost"]


def test_a_callback_taken_by_a_dead_instance_and_not_dialled_goes_back_in_line() -> None:
    entries = [
        line("cb1", "", callback=True, taken_by="dead"),
        line("cb2", "", callback=True, taken_by="dead", dialled=True),
        line("cb3", "", callback=True, taken_by="live"),
        line("cb4", "", callback=True),
    ]
    assert sweep([], entries, {"live"}, set(), {}, LIMITS, NOW).release == ("cb1",)


def test_every_fix_is_a_valid_sequence_of_commands_from_the_state_seen() -> None:
    assert not Sweep()
    for state, owner, until in itertools.product(
        AgentState, ["live", "dead", ""], [0.0, NOW - 1000, NOW + 1000]
    ):
        seen = agent(state, owner=owner, until=until, since=NOW - 1000)
        for fix in sweep([seen], [], {"live"}, set(), {}, LIMITS, NOW).agents:
            status = seen.status
            for command in fix.commands:  # raises AgentStateError for a command out of place
                status, _ = apply(status, command, NOW)
            assert status.state is AgentState.READY, (state, owner, until)


def test_a_wrap_up_waiting_for_its_required_disposition_is_left_alone_past_its_deadline() -> None:
    seen = agent(AgentState.WRAP_UP, until=NOW - WRAPUP_GRACE_S - 60)
    waiting = AgentSeen(replace(seen.status, undisposed="c1"), seen.version)
    assert fixes(waiting) == []
