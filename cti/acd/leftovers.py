"""What a dead instance (or a lost event) left behind in the ACD's shared state. Pure.

An instance keeps an agent ringing, talking or in wrap-up for its calls, and its callers'
entries in line. Its process timers end those in the normal course; if the process dies
(kill -9, a crash, a host gone) they would stay for ever: an agent ``on_call`` with no call
is never offered another, and a ghost entry holds a place in line. So the deadlines live in
Redis with the agent (``AgentStatus.until``) and each instance's heartbeat is a key with a TTL
(``cti.live.lease``). Any live instance's sweeper reads the shared state and Asterisk's
channels and asks this module what to end:

- a wrap-up past its deadline ends (whoever owns it: a live owner's own timer fires first),
  unless its call still waits for the disposition its queue requires;
- a ring past its deadline is cancelled (the owner would have timed it out long before);
- an agent on a call of a dead owner whose channels Asterisk no longer has is freed (a
  conversation still up is left alone: the owner's next start adopts it);
- a dead owner's waiting caller whose channel is gone leaves the line (the owner's next start
  records the ``abandoned``, from its records);
- a callback a dead instance was serving (taken, not dialled) goes back to the line.

``grace_s`` keeps the sweeper behind the owner's own timers, so a live owner always acts first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from cti.acd.agents import AgentStatus, Command
from cti.acd.model import AgentState, Entry

#: How long after a ring's deadline the sweeper cancels it (the owner hangs up at the deadline).
RING_GRACE_S = 10.0
#: How long after a wrap-up's deadline the sweeper ends it (the owner's timer fires at it).
WRAPUP_GRACE_S = 2.0


@dataclass(frozen=True)
class AgentSeen:
    """An agent's status as Redis holds it, with the version a fix must still find."""

    status: AgentStatus
    version: int


@dataclass(frozen=True)
class LineSeen:
    """An entry in line as Redis holds it."""

    entry: Entry
    owner: str  # the instance whose caller it is ('' for a published callback)
    callback: bool  # the caller asked to be called back: no channel is expected
    taken_by: str = ""  # the instance serving the callback, if any
    dialled: bool = False


@dataclass(frozen=True)
class AgentFix:
    """Commands to apply to one agent, if its version is still the one seen."""

    agent: str
    version: int
    commands: tuple[Command, ...]
    why: str


@dataclass(frozen=True)
class Sweep:
    agents: tuple[AgentFix, ...] = ()
    leave_line: tuple[Entry, ...] = ()  # entries of callers gone whose owner is dead
    release: tuple[str, ...] = ()  # callbacks a dead instance had taken

    def __bool__(self) -> bool:
        return bool(self.agents or self.leave_line or self.release)


@dataclass(frozen=True)
class Limits:
    """The deadlines an agent without one of its own is judged by (state written before
    deadlines were kept): the longest ring timeout and wrap-up of the configured queues."""

    ring_s: float
    wrapup_s: float


def _deadline(status: AgentStatus, fallback_s: float) -> float:
    return status.until or status.since + fallback_s


def sweep(
    agents: Sequence[AgentSeen],
    line: Sequence[LineSeen],
    alive: Collection[str],
    channels: Collection[str],
    calls_of_dead: Mapping[str, Collection[str]],
    limits: Limits,
    now: float,
) -> Sweep:
    """What to end. ``alive``: instances whose heartbeat is there; ``channels``: every channel
    Asterisk has; ``calls_of_dead``: per call id of a dead owner, the channels its records name
    (agent and customer legs), so a callback's conversation is seen although its original
    caller is long gone."""
    fixes = [fix for seen in agents if (fix := _agent_fix(seen, alive, channels, calls_of_dead, limits, now))]
    gone = [
        item.entry
        for item in line
        if not item.callback and item.owner not in alive and item.entry.call_id not in channels
    ]
    release = [
        item.entry.call_id
        for item in line
        if item.callback and item.taken_by and item.taken_by not in alive and not item.dialled
    ]
    return Sweep(tuple(fixes), tuple(gone), tuple(release))


def _agent_fix(
    seen: AgentSeen,
    alive: Collection[str],
    channels: Collection[str],
    calls_of_dead: Mapping[str, Collection[str]],
    limits: Limits,
    now: float,
) -> AgentFix | None:
    status = seen.status
    if (
        status.state is AgentState.WRAP_UP
        and not status.undisposed  # the disposition ends it, whichever instance records it
        and now >= _deadline(status, limits.wrapup_s) + WRAPUP_GRACE_S
    ):
        return AgentFix(status.agent, seen.version, (Command.WRAPUP_DONE,), "wrap-up past its deadline")
    if status.state is AgentState.RINGING and now >= _deadline(status, limits.ring_s) + RING_GRACE_S:
        return AgentFix(status.agent, seen.version, (Command.CANCEL,), "ringing past its deadline")
    if status.state is AgentState.ON_CALL and status.owner not in alive:
        call_id = status.call_id or ""
        legs = {call_id, *calls_of_dead.get(call_id, ())}
        if not legs & set(channels):
            return AgentFix(
                status.agent,
                seen.version,
                (Command.HANG_UP, Command.WRAPUP_DONE),
                f"on a call of {status.owner or 'an unknown instance'} that Asterisk no longer has",
            )
    return None
