"""The agent state machine: every change has a reason; auto-pause after unanswered rings."""

import pytest

from cti.acd import AgentState, AgentStateError, AgentStatus, Command, apply


def run(commands: list[tuple[Command, str]], auto_pause_after: int = 3) -> AgentStatus:
    status = AgentStatus("1001")
    for now, (command, reason) in enumerate(commands):
        status, change = apply(
            status, command, float(now), reason=reason, call_id="c1", auto_pause_after=auto_pause_after
        )
        assert change.state is status.state
        assert change.reason
    return status


def test_a_call_goes_ringing_on_call_wrap_up_ready() -> None:
    status = AgentStatus("1001")
    states = []
    for now, command in enumerate(
        [Command.LOGIN, Command.OFFER, Command.ANSWER, Command.HANG_UP, Command.WRAPUP_DONE]
    ):
        status, change = apply(status, command, float(now), call_id="c1")
        states.append((change.state, change.reason, change.call_id))
    assert states == [
        (AgentState.READY, "login", None),
        (AgentState.RINGING, "offered", "c1"),
        (AgentState.ON_CALL, "answered", "c1"),
        (AgentState.WRAP_UP, "call-ended", "c1"),
        (AgentState.READY, "wrap-up-done", None),
    ]


def test_three_unanswered_rings_in_a_row_pause_the_agent() -> None:
    ring_out = [(Command.OFFER, ""), (Command.RING_NO_ANSWER, "")]
    status = run([(Command.LOGIN, ""), *ring_out, *ring_out])
    assert (status.state, status.missed_in_row) == (AgentState.READY, 2)
    status = run([(Command.LOGIN, ""), *ring_out, *ring_out, *ring_out])
    assert (status.state, status.reason) == (AgentState.PAUSED, "auto:no-answer")


def test_an_answer_resets_the_count_of_missed_rings() -> None:
    answered = [(Command.OFFER, ""), (Command.ANSWER, ""), (Command.HANG_UP, ""), (Command.WRAPUP_DONE, "")]
    ring_out = [(Command.OFFER, ""), (Command.RING_NO_ANSWER, "")]
    status = run([(Command.LOGIN, ""), *ring_out, *ring_out, *answered, *ring_out, *ring_out])
    assert (status.state, status.missed_in_row) == (AgentState.READY, 2)


def test_auto_pause_can_be_off() -> None:
    ring_out = [(Command.OFFER, ""), (Command.RING_NO_ANSWER, "")] * 10
    assert run([(Command.LOGIN, ""), *ring_out], auto_pause_after=0).state is AgentState.READY


def test_a_pause_needs_a_reason_code_and_keeps_it() -> None:
    status, _ = apply(AgentStatus("1001"), Command.LOGIN, 0)
    with pytest.raises(AgentStateError, match="reason code"):
        apply(status, Command.PAUSE, 1)
    status, change = apply(status, Command.PAUSE, 1, reason="lunch")
    assert (change.state, change.reason) == (AgentState.PAUSED, "lunch")


@pytest.mark.parametrize(
    ("commands", "refused"),
    [
        ([], Command.OFFER),  # logged out
        ([Command.LOGIN, Command.OFFER], Command.OFFER),  # already ringing: never two calls
        ([Command.LOGIN, Command.OFFER, Command.ANSWER], Command.PAUSE),
        ([Command.LOGIN], Command.ANSWER),
        ([Command.LOGIN, Command.OFFER, Command.ANSWER], Command.LOGOUT),
    ],
)
def test_commands_the_state_does_not_allow_are_refused(commands: list[Command], refused: Command) -> None:
    status = AgentStatus("1001")
    for now, command in enumerate(commands):
        status, _ = apply(status, command, float(now), call_id="c1")
    with pytest.raises(AgentStateError, match=f"cannot {refused}"):
        apply(status, refused, 99, reason="x")
