"""What the desktop shows of an agent (``GET /api/agents/me``, ``GET /api/agents``, the push
channel's agent snapshot). Pure: the configuration and the agent's status in, JSON out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cti.acd.agents import AgentStatus
from cti.acd.model import AcdConfig, AgentConfig
from cti.desk.dispositions import Dispositions


def iso(epoch_s: float) -> str | None:
    """An epoch time as ISO 8601 (UTC); None for 0, "never"."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat() if epoch_s else None


def agent_summary(agent: AgentConfig, status: AgentStatus) -> dict[str, Any]:
    """An agent's state, as a supervisor's list shows it."""
    return {
        "agent": agent.id,
        "name": agent.name,
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
    pause = config.pause_reason(status.reason)
    return {
        **agent_summary(agent, status),
        "reason_label": pause.label.model_dump() if pause is not None else None,
        "queues": config.queues_of(agent),
        "agents_choose_queues": config.agents_choose_queues,
        "pause_reasons": [r.model_dump() for r in config.pause_reasons],
        "dispositions": dispositions.listed(),
        "wrapup_requires_disposition": bool(status.undisposed),
    }
