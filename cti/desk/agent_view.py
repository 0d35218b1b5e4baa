"""What the desktop shows of an agent (``GET /api/agents/me``, ``GET /api/agents``, the push
channel's agent snapshot). Pure: the configuration and the agent's status in, JSON out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cti.acd.agents import AgentStatus
from cti.acd.model import AcdConfig, AgentConfig, AgentState
from cti.desk.dispositions import Dispositions


def iso(epoch_s: float) -> str | None:
    """An epoch time as ISO 8601 (UTC); None for 0, "never"."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat() if epoch_s else None


#: An agent's own view (``agent_body``) by its id and status: the push channel's agent snapshot.
AgentView = Callable[[str, AgentStatus], dict[str, Any]]


def reason_label(config: AcdConfig, status: AgentStatus) -> dict[str, str] | None:
    """Why the agent is paused, in words (a configured reason, or the ACD's automatic pause);
    None when it is not paused for a reason the configuration knows."""
    if status.state is not AgentState.PAUSED:
        return None
    pause = config.pause_reason(status.reason)
    return pause.label.model_dump() if pause is not None else None


def pause_choices(config: AcdConfig) -> list[dict[str, Any]]:
    """The reasons a person may pause an agent with (the ACD's automatic one is not a choice)."""
    return [reason.model_dump() for reason in config.pause_reasons]


def agent_summary(agent: AgentConfig, status: AgentStatus) -> dict[str, Any]:
    """An agent's state, as a supervisor's list shows it."""
    return _summary(agent.id, agent.name, status)


def _summary(agent_id: str, name: str, status: AgentStatus) -> dict[str, Any]:
    return {
        "agent": agent_id,
        "name": name,
        "state": status.state.value,
        "reason": status.reason,
        "since": iso(status.since),
        "until": iso(status.until),
        "call_id": status.call_id,
        "chosen_queues": list(status.queues),
    }


def agent_body(
    config: AcdConfig, dispositions: Dispositions, agent: AgentConfig, status: AgentStatus
) -> dict[str, Any]:
    """The agent's own view: its state, what it may choose (queues, pause reasons,
    dispositions), why it is paused (``reason_label``: an automatic pause is explained), and
    whether its wrap-up waits for a disposition (``wrapup_requires_disposition``: ready is
    refused until it is recorded)."""
    return {
        **agent_summary(agent, status),
        "reason_label": reason_label(config, status),
        "queues": config.queues_of(agent),
        "agents_choose_queues": config.agents_choose_queues,
        "pause_reasons": pause_choices(config),
        "dispositions": dispositions.listed(),
        "wrapup_requires_disposition": bool(status.undisposed),
    }


def agent_views(config: AcdConfig, dispositions: Dispositions) -> AgentView:
    """``agent_body`` by agent id, for the push channel's snapshot: the same body the desktop
    reads from ``GET /api/agents/me``, so a snapshot never takes from the page what it needs
    (the queues to sign in to, the pause reasons, the dispositions). An id the configuration no
    longer has gets its state alone."""

    def view(agent_id: str, status: AgentStatus) -> dict[str, Any]:
        agent = config.agent(agent_id)
        if agent is None:
            return _summary(agent_id, agent_id, status)
        return agent_body(config, dispositions, agent, status)

    return view
