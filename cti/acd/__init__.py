"""The ACD: queues, agents and routing. Pure decisions here; Redis claims in ``cti.live``."""

from cti.acd.agents import AgentStateError, AgentStatus, Command, StateChange, agent_state_event, apply
from cti.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentSnapshot,
    AgentState,
    Entry,
    QueueConfig,
    SkillStep,
    Strategy,
    load_acd_config,
)
from cti.acd.strategies import (
    Offer,
    RoundRobinMemory,
    choose,
    eligible,
    leaving_empty,
    match,
    refusal,
    required_level,
    service_order,
    staffed,
)

__all__ = [
    "AcdConfig",
    "AgentConfig",
    "AgentSnapshot",
    "AgentState",
    "AgentStateError",
    "AgentStatus",
    "Command",
    "Entry",
    "Offer",
    "QueueConfig",
    "RoundRobinMemory",
    "SkillStep",
    "StateChange",
    "Strategy",
    "agent_state_event",
    "apply",
    "choose",
    "eligible",
    "leaving_empty",
    "load_acd_config",
    "match",
    "refusal",
    "required_level",
    "service_order",
    "staffed",
]
