"""Who rings next: the queue strategies, skills with escalation, and matching across queues.

Pure functions over snapshots (no Redis, no ARI), so every rule is tested exhaustively. The
router calls ``match`` whenever a caller arrives or an agent frees up; it returns offers, and
the router claims each agent atomically in Redis before ringing it (another instance may have
taken the agent meanwhile: a failed claim just means "match again").

Order of service: across all queues an agent serves, callers go by (queue priority + caller
priority) first, then by how long they have waited; within one queue that is strict first-come
first-served at equal priority. An agent is eligible for a caller only when ready and skilled
enough for that caller's current wait (escalation lowers the bar as the wait grows).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.acd.model import AgentSnapshot, AgentState, Entry, QueueConfig, Strategy


def required_level(queue: QueueConfig, wait_s: float) -> int:
    """The minimum skill level for a caller who has waited ``wait_s`` (the last step reached)."""
    level = queue.escalation[0].min_level
    for step in queue.escalation:
        if wait_s >= step.after_s:
            level = step.min_level
    return level


def eligible(
    queue: QueueConfig, agents: Iterable[AgentSnapshot], entry: Entry, now: float
) -> list[AgentSnapshot]:
    """Ready agents skilled enough for ``entry`` now and signed in for its queue, in
    configuration order."""
    level = required_level(queue, entry.wait_s(now))
    found = [
        a
        for a in agents
        if a.state is AgentState.READY and a.level(queue.required_skill) >= level and a.takes(queue.name)
    ]
    return sorted(found, key=lambda a: a.order)


@dataclass
class RoundRobinMemory:
    """Per queue, the agent offered last: round robin resumes after it (app_queue's rrmemory)."""

    last: dict[str, str] = field(default_factory=dict)


def _after_last(
    candidates: Sequence[AgentSnapshot], all_agents: Sequence[AgentSnapshot], last: str | None
) -> AgentSnapshot:
    """The first candidate after ``last`` in configuration order, wrapping around."""
    orders = {a.id: a.order for a in all_agents}
    after = orders.get(last or "", -1)
    later = [a for a in candidates if a.order > after]
    return later[0] if later else candidates[0]


def choose(
    queue: QueueConfig,
    candidates: Sequence[AgentSnapshot],
    all_agents: Sequence[AgentSnapshot],
    now: float,
    memory: RoundRobinMemory,
    rng: random.Random,
) -> list[str]:
    """The agent(s) to ring among ``candidates`` (eligible, in configuration order)."""
    if not candidates:
        return []
    strategy = queue.strategy
    if strategy is Strategy.RINGALL:
        return [a.id for a in candidates]
    if strategy is Strategy.LINEAR:
        pick = candidates[0]
    elif strategy is Strategy.LONGEST_IDLE:
        pick = min(candidates, key=lambda a: (a.idle_since, a.order))
    elif strategy is Strategy.FEWEST_CALLS:
        pick = min(candidates, key=lambda a: (a.calls_taken, a.order))
    elif strategy is Strategy.LEAST_TALK_TIME:
        pick = min(candidates, key=lambda a: (a.talk_time_s, a.order))
    elif strategy is Strategy.RANDOM:
        pick = rng.choice(list(candidates))
    else:
        pick = _after_last(candidates, all_agents, memory.last.get(queue.name))
        memory.last[queue.name] = pick.id
    return [pick.id]


@dataclass(frozen=True)
class Offer:
    """Ring ``agents`` for ``entry`` (one agent, or all eligible under ringall)."""

    entry: Entry
    agents: tuple[str, ...]


def service_order(entries: Iterable[Entry], queues: Mapping[str, QueueConfig]) -> list[Entry]:
    """Callers in the order they are served: higher total priority, then longer wait."""
    return sorted(entries, key=lambda e: (-(queues[e.queue].priority + e.priority), e.entered_at, e.call_id))


def match(
    queues: Mapping[str, QueueConfig],
    agents: Sequence[AgentSnapshot],
    waiting: Iterable[Entry],
    now: float,
    memory: RoundRobinMemory,
    rng: random.Random,
) -> list[Offer]:
    """Pair waiting callers with free agents; no agent appears in two offers."""
    free = [a for a in agents if a.state is AgentState.READY]
    offers: list[Offer] = []
    for entry in service_order(waiting, queues):
        # A caller behind an unmatched one in the same queue has waited less, so escalation
        # asks at least as much of agents: trying every caller in order never skips the line.
        queue = queues[entry.queue]
        picked = choose(queue, eligible(queue, free, entry, now), agents, now, memory, rng)
        if picked:
            offers.append(Offer(entry, tuple(picked)))
            free = [a for a in free if a.id not in picked]
    return offers


@dataclass(frozen=True)
class Reservation:
    """Outbound work asking for an agent of ``entry.queue`` (an offer of kind ``outbound``):
    a lead or list line about to be dialled, or an answered customer. Lower ``urgency`` is served
    first (a lead's contact deadline, a list line's due time)."""

    entry: Entry
    urgency: float


def blend(
    queues: Mapping[str, QueueConfig],
    agents: Sequence[AgentSnapshot],
    waiting: Iterable[Entry],
    reservations: Iterable[Reservation],
    now: float,
    memory: RoundRobinMemory,
    rng: random.Random,
) -> tuple[list[Offer], list[Offer]]:
    """Inbound first, then outbound, over one snapshot: the callers waiting are matched as
    ``match`` does; the agents left free go to the reservations, most urgent first, one agent
    each (ringall too: a reservation takes a person, not a ring group). An agent free for both
    therefore takes the inbound caller. Returns (inbound offers, outbound offers)."""
    inbound = match(queues, agents, waiting, now, memory, rng)
    taken = {agent for offer in inbound for agent in offer.agents}
    free = [a for a in agents if a.state is AgentState.READY and a.id not in taken]
    outbound: list[Offer] = []
    for reservation in sorted(reservations, key=lambda r: (r.urgency, r.entry.call_id)):
        queue = queues[reservation.entry.queue]
        picked = choose(queue, eligible(queue, free, reservation.entry, now), agents, now, memory, rng)[:1]
        if picked:
            outbound.append(Offer(reservation.entry, tuple(picked)))
            free = [a for a in free if a.id != picked[0]]
    return inbound, outbound


def staffed(queue: QueueConfig, agents: Iterable[AgentSnapshot]) -> bool:
    """Someone could take this queue's calls: logged in for it, not paused, with its skill."""
    present = (AgentState.LOGGED_OUT, AgentState.PAUSED)
    return any(
        a.state not in present and a.level(queue.required_skill) >= 1 and a.takes(queue.name) for a in agents
    )


def refusal(queue: QueueConfig, agents: Sequence[AgentSnapshot], waiting_in_queue: int) -> str | None:
    """Why a caller may not join ``queue`` now, as app_queue would say it: "full", "empty", or None."""
    if queue.max_len and waiting_in_queue >= queue.max_len:
        return "full"
    if not queue.join_empty and not staffed(queue, agents):
        return "empty"
    return None


def leaving_empty(
    queues: Mapping[str, QueueConfig], agents: Sequence[AgentSnapshot], waiting: Iterable[Entry]
) -> list[Entry]:
    """Callers who must leave because their ``leave_empty`` queue has nobody left to answer."""
    empty = {name for name, queue in queues.items() if queue.leave_empty and not staffed(queue, agents)}
    return [entry for entry in waiting if entry.queue in empty]
