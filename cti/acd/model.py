"""Queues, agents and callers waiting: the ACD's configuration and its snapshots of live state.

Configuration is validated here (pydantic) so that a bad agent or queue is refused with the key
and the reason before the service starts. Snapshots are plain frozen values that the pure
strategies read; the live state in Redis (``cti.live``) produces them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cti.config_files import load_toml_model


class Strategy(StrEnum):
    RINGALL = "ringall"  # every eligible agent rings; the first to answer takes the call
    LONGEST_IDLE = "longest-idle"
    RRMEMORY = "round-robin"  # round robin that remembers where it stopped
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    RANDOM = "random"
    LINEAR = "linear"  # always in configured order


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SkillStep(_Config):
    """From ``after_s`` seconds of waiting on, agents with ``min_level`` or more may take the call."""

    after_s: float = Field(ge=0)
    min_level: int = Field(ge=1, le=5)


class AgentConfig(_Config):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    endpoint: str  # any Asterisk dial string: PJSIP/1001, Local/1001@agent-sim, PJSIP/trunk/138...
    skills: dict[str, int] = Field(default_factory=dict)

    @field_validator("endpoint")
    @classmethod
    def _dial_string(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]+/\S+", value):
            raise ValueError("must be an Asterisk dial string such as PJSIP/1001 or Local/1001@agent-sim")
        return value

    @field_validator("skills")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {skill: level for skill, level in value.items() if not 1 <= level <= 5}
        if bad:
            raise ValueError(f"skill levels are 1-5: {bad}")
        return value


class Labels(_Config):
    """What a person reads for a code, in the desktop's two languages."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class PauseReason(_Config):
    """A reason an agent may pause with. Codes are the center's own; ``auto:...`` are the ACD's."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    label: Labels


#: The pause the ACD makes itself after unanswered rings: not chosen, but shown and explained.
AUTO_NO_ANSWER = PauseReason.model_construct(
    code="auto:no-answer",
    label=Labels(zh="未接听自动暂停, 可取消暂停", en="Paused after unanswered calls; unpause when back"),
)
DEFAULT_PAUSE_REASONS = (
    PauseReason(code="break", label=Labels(zh="休息", en="Break")),
    PauseReason(code="lunch", label=Labels(zh="午餐", en="Lunch")),
    PauseReason(code="training", label=Labels(zh="培训", en="Training")),
    PauseReason(code="meeting", label=Labels(zh="会议", en="Meeting")),
    PauseReason(code="after-call-work", label=Labels(zh="话后处理", en="After-call work")),
)


class QueueConfig(_Config):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: Strategy = Strategy.LONGEST_IDLE
    skill: str = ""  # the skill agents need; default: the queue's name
    escalation: tuple[SkillStep, ...] = (SkillStep(after_s=0, min_level=1),)
    ring_timeout_s: float = Field(default=15, gt=0)
    max_wait_s: float = Field(default=300, gt=0)
    wrapup_s: float = Field(default=10, ge=0)
    max_len: int = Field(default=0, ge=0)  # 0: no limit
    priority: int = 0  # between queues: an agent serving several takes the higher first
    moh_class: str = "default"
    announce_every_s: float = Field(default=30, ge=0)  # position / expected wait; 0: never
    overflow: str | None = None  # queue to move to when max_wait_s passes
    join_empty: bool = True  # may a caller join when no agent is logged in?
    leave_empty: bool = False  # do waiting callers leave when the last agent logs out?
    auto_pause_after: int = Field(default=3, ge=0)  # consecutive unanswered rings; 0: never
    # The key a waiting caller presses to be called back instead, keeping the place in line
    # (the periodic announcement offers it); None: no callback offer.
    callback_key: str | None = Field(default=None, pattern=r"^[0-9*#]$")
    # The agent stays in wrap-up, past wrapup_s if need be, until the call's disposition is in.
    wrapup_requires_disposition: bool = False

    @property
    def required_skill(self) -> str:
        return self.skill or self.name

    @model_validator(mode="after")
    def _escalation_in_order(self) -> Self:
        if not self.escalation or self.escalation[0].after_s != 0:
            raise ValueError("escalation must start with a step at after_s = 0")
        if list(self.escalation) != sorted(self.escalation, key=lambda s: s.after_s):
            raise ValueError("escalation steps must be in order of after_s")
        return self


class AcdConfig(_Config):
    agents: tuple[AgentConfig, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    # How a callback reaches the customer: a dial string with {number} (E.164, with its +) or
    # {national} (without the country code), the number as the dial guard read it (a trunk in
    # production; the demo's and the tests' simulated customers answer in [agent-sim]).
    callback_dial: str = Field(default="Local/{national}@agent-sim", pattern=r"\{(number|national)\}")
    # How long the customer's phone rings before the callback is given up as not answered
    # (ARI's dial timeout, whole seconds); the agent who answered waits that long at most.
    callback_ring_s: int = Field(default=40, ge=5, le=300)
    # The reasons an agent may pause with (the desktop's menu).
    pause_reasons: tuple[PauseReason, ...] = Field(default=DEFAULT_PAUSE_REASONS, min_length=1)
    # May an agent sign in for some of the queues its skills serve only?
    agents_choose_queues: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, names in (
            ("agent", [a.id for a in self.agents]),
            ("queue", [q.name for q in self.queues]),
            ("pause reason", [r.code for r in self.pause_reasons]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} ids: {duplicates}")
        overflow = {q.name: q.overflow for q in self.queues}
        for queue in self.queues:
            if queue.overflow is not None and queue.overflow not in overflow:
                raise ValueError(f"queue {queue.name}: overflow target {queue.overflow!r} is not a queue")
        for queue in self.queues:  # a caller overflowing must reach a queue that keeps it
            seen, current = [queue.name], queue.overflow
            while current is not None:
                if current in seen:
                    raise ValueError(f"overflow loops: {' -> '.join([*seen, current])}")
                seen.append(current)
                current = overflow[current]
        return self

    def queue(self, name: str) -> QueueConfig:
        return next(q for q in self.queues if q.name == name)

    def agent(self, agent_id: str) -> AgentConfig | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def queues_of(self, agent: AgentConfig) -> list[str]:
        """The queues an agent's skills serve (level 1 or more in the queue's skill)."""
        return [q.name for q in self.queues if agent.skills.get(q.required_skill, 0) >= 1]

    def pause_reason(self, code: str) -> PauseReason | None:
        """A configured reason, or the ACD's own automatic one; None for an unknown code."""
        known = [*self.pause_reasons, AUTO_NO_ANSWER]
        return next((r for r in known if r.code == code), None)


def load_acd_config(path: Path) -> AcdConfig:
    """Read agents and queues from a TOML file; ``ConfigError`` names the key and the reason."""
    return load_toml_model(path, AcdConfig)


@dataclass(frozen=True)
class AgentSnapshot:
    """What the strategies know of an agent at one moment."""

    id: str
    state: AgentState
    skills: dict[str, int]
    order: int  # position in the configuration: linear order and tie-breaker
    idle_since: float = 0.0  # monotonic seconds: when the agent last became ready
    calls_taken: int = 0
    talk_time_s: float = 0.0
    #: The queues the agent signed in for; empty: every queue its skills serve.
    queues: frozenset[str] = frozenset()

    def level(self, skill: str) -> int:
        return self.skills.get(skill, 0)

    def takes(self, queue: str) -> bool:
        """Did the agent sign in for ``queue`` (or for every queue it serves)?"""
        return not self.queues or queue in self.queues


@dataclass(frozen=True)
class Entry:
    """A caller waiting in a queue."""

    call_id: str
    queue: str
    entered_at: float  # monotonic seconds
    priority: int = 0  # higher first (a VIP), then the longest waiting

    def wait_s(self, now: float) -> float:
        return now - self.entered_at
