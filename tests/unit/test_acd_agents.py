"""The agent state machine: every change has a reason; auto-pause after unanswered rings."""

from dataclasses import replace

import pytest

from cti.acd import AgentState, AgentStateError, AgentStatus, Command, agent_state_event, apply


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


def test_every_change_says_who_made_it_and_the_event_carries_it() -> None:
    status, change = apply(AgentStatus("1001"), Command.LOGIN, 1.0, by="agent:wang.fang")
    assert change.by == "agent:wang.fang"
    assert agent_state_event(change).data == {"state": "ready", "reason": "login", "by": "agent:wang.fang"}
    status, change = apply(status, Command.OFFER, 2.0, call_id="c1")
    assert change.by == "auto"  # the ACD's own change, unless told otherwise


def test_a_login_chooses_queues_until_the_logout() -> None:
    status, _ = apply(AgentStatus("1001"), Command.LOGIN, 1.0, queues=("sales",))
    for command in (Command.OFFER, Command.ANSWER, Command.HANG_UP, Command.WRAPUP_DONE):
        status, _ = apply(status, command, 2.0, call_id="c1")
        assert status.queues == ("sales",)
    status, _ = apply(status, Command.LOGOUT, 3.0)
    assert status.queues == ()


def wrap_up(required: bool, until: float = 10.0) -> AgentStatus:
    status = AgentStatus("1001")
    for command in (Command.LOGIN, Command.OFFER, Command.ANSWER):
        status, _ = apply(status, command, 1.0, call_id="c1")
    status, _ = apply(status, Command.HANG_UP, 2.0, until=until, disposition_required=required)
    return status


def test_a_required_disposition_holds_the_wrap_up_and_a_pause() -> None:
    status = wrap_up(required=True)
    assert status.undisposed == "c1"
    for command in (Command.WRAPUP_DONE, Command.PAUSE):
        with pytest.raises(AgentStateError, match="call c1 needs a disposition"):
            apply(status, command, 20.0, reason="break")
    assert wrap_up(required=False).undisposed == ""
    with pytest.raises(AgentStateError, match="no call waits for a disposition"):
        apply(wrap_up(required=False), Command.DISPOSED, 5.0)


def test_the_recorded_change_carries_the_wrap_ups_deadline_and_the_call_it_waits_for() -> None:
    """What a desktop needs of a change (the countdown, why Ready waits) is in its event."""
    status = AgentStatus("1001")
    for command in (Command.LOGIN, Command.OFFER, Command.ANSWER):
        status, _ = apply(status, command, 1.0, call_id="c1")
    _, change = apply(status, Command.HANG_UP, 2.0, until=12.0, disposition_required=True)
    assert (change.until, change.undisposed) == (12.0, "c1")
    assert agent_state_event(change).data == {
        "state": "wrap_up",
        "reason": "call-ended",
        "by": "auto",
        "until": 12.0,
        "disposition_required": True,
    }
    _, ready = apply(replace(status, state=AgentState.WRAP_UP), Command.WRAPUP_DONE, 3.0)
    assert agent_state_event(ready).data == {"state": "ready", "reason": "wrap-up-done", "by": "auto"}


def test_a_disposition_before_the_deadline_keeps_the_wrap_up_and_its_times() -> None:
    status, change = apply(wrap_up(required=True, until=10.0), Command.DISPOSED, 5.0)
    assert (status.state, status.since, status.until, status.undisposed) == (
        AgentState.WRAP_UP,
        2.0,
        10.0,
        "",
    )
    assert (change.state, change.reason) == (AgentState.WRAP_UP, "disposed")
    status, change = apply(status, Command.WRAPUP_DONE, 10.0)
    assert status.state is AgentState.READY


def test_a_disposition_after_the_deadline_makes_the_agent_ready_at_once() -> None:
    status, change = apply(wrap_up(required=True, until=10.0), Command.DISPOSED, 10.0)
    assert (status.state, change.reason, status.undisposed, status.call_id) == (
        AgentState.READY,
        "wrap-up-done",
        "",
        None,
    )


def test_a_logout_during_a_required_disposition_clears_it() -> None:
    status, _ = apply(wrap_up(required=True), Command.LOGOUT, 5.0)
    assert (status.state, status.undisposed) == (AgentState.LOGGED_OUT, "")
