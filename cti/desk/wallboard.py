"""The supervisor's wallboard: per queue, callers waiting, the longest wait, agents by state and
today's answered-within-three-rings rate, service level and abandon rate; every agent's state,
a paused one's reason in words, and the reasons a supervisor may pause an agent with.
Pure: live state and today's KPI report in, the wallboard body out (``GET /api/wallboard``,
the push channel's ``wallboard`` topic). A rate with no calls is null ("no data"), as in every
KPI report (``cti.kpi.definitions.rate``).

A board draws its timers from the body's ``at`` (the longest wait runs from ``at`` minus
``longest_wait_s``), so time passing is no news: ``worth_publishing`` tells a new body from the
last one published by what a board would draw differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cti.acd.agents import AgentStatus
from cti.acd.model import AcdConfig, AgentConfig, AgentState, QueueConfig
from cti.desk.agent_view import iso, pause_choices, reason_label

#: The push channel's topic of the bodies (``cti.desk.wallboard_publisher``).
TOPIC = "wallboard"
#: What the wallboard shows of today's KPI report, per queue.
TODAY_KEYS = ("offered", "answered", "three_ring_rate", "service_level", "abandon_rate")
_NO_CALLS: Mapping[str, Any] = {
    "offered": 0,
    "answered": 0,
    "three_ring_rate": None,
    "service_level": None,
    "abandon_rate": None,
}


def serves(agent: AgentConfig, status: AgentStatus, queue: QueueConfig) -> bool:
    """The agent has the queue's skill and signed in for it (or for all its queues)."""
    skilled = agent.skills.get(queue.required_skill, 0) >= 1
    return skilled and (not status.queues or queue.name in status.queues)


def wallboard_body(
    at: datetime,
    config: AcdConfig,
    statuses: Sequence[AgentStatus],
    lines: Mapping[str, tuple[int, float]],
    today: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """``statuses`` in the configuration's agent order; ``lines``: per queue, callers waiting
    and the longest wait (s); ``today``: per queue, its row of today's KPI report (a queue
    without a row had no calls today)."""
    pairs = list(zip(config.agents, statuses, strict=True))
    queues = []
    for queue in config.queues:
        by_state = dict.fromkeys((state.value for state in AgentState), 0)
        for agent, status in pairs:
            if serves(agent, status, queue):
                by_state[status.state.value] += 1
        waiting, longest = lines.get(queue.name, (0, 0.0))
        row = today.get(queue.name)
        queues.append(
            {
                "name": queue.name,
                "waiting": waiting,
                "longest_wait_s": round(longest, 1),
                "agents": by_state,
                "today": {key: row.get(key) for key in TODAY_KEYS} if row is not None else dict(_NO_CALLS),
            }
        )
    agents = [
        {
            "id": a.id,
            "name": a.name,
            "state": s.state.value,
            "reason": s.reason,
            "reason_label": reason_label(config, s),
            "since": iso(s.since),
        }
        for a, s in pairs
    ]
    return {"at": at.isoformat(), "queues": queues, "agents": agents, "pause_reasons": pause_choices(config)}


def as_event(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as the topic carries it."""
    return {"kind": TOPIC, **body}


def body_of(event: Mapping[str, Any]) -> dict[str, Any]:
    """The body a topic's event carries (a socket's snapshot is the last one's)."""
    return {k: v for k, v in event.items() if k != "kind"}


#: A waiting line's start may read this much apart between two bodies (``longest_wait_s`` is
#: rounded to a tenth, ``at`` is not) and still be the same line.
SAME_LINE_S = 1.0


def worth_publishing(last: Mapping[str, Any] | None, body: Mapping[str, Any], keepalive_s: float) -> bool:
    """Whether ``body`` goes out after ``last`` (the body last published; None: none yet): when
    a board would draw it differently, or when ``keepalive_s`` passed since ``last`` (a board
    shows it is alive by its "updated at"). The longest wait growing with the clock is no
    change; a line whose oldest caller left (its start moved) is."""
    if last is None:
        return True
    last_at, at = datetime.fromisoformat(last["at"]), datetime.fromisoformat(body["at"])
    if (at - last_at).total_seconds() >= keepalive_s:
        return True
    if _drawn(last) != _drawn(body):
        return True
    starts = zip(_line_starts(last_at, last), _line_starts(at, body), strict=True)
    return any(abs(before - now) >= SAME_LINE_S for before, now in starts)


def _drawn(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without what moves with the clock alone: ``at`` and each queue's longest wait."""
    queues = [{k: v for k, v in queue.items() if k != "longest_wait_s"} for queue in body["queues"]]
    return {**{k: v for k, v in body.items() if k != "at"}, "queues": queues}


def _line_starts(at: datetime, body: Mapping[str, Any]) -> list[float]:
    """When each queue's oldest waiting caller came (epoch s; 0 for an empty line)."""
    return [at.timestamp() - float(q["longest_wait_s"]) if q["waiting"] else 0.0 for q in body["queues"]]
