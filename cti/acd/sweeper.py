"""The sweeper: every few seconds, end what a dead instance or a lost event left in the ACD.

Every instance runs one; they may race, and that is safe: each agent fix is a compare-and-set
on the version the sweep read (a second sweeper, or the owner's own timer, finds the agent
changed and does nothing), leaving the line and giving a callback back are idempotent. The
decisions are ``cti.acd.leftovers``'; this module only reads and writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection

from redis.exceptions import RedisError

from cti.acd.agents import AgentStateError, Command, agent_state_event, wrapup_ended_event
from cti.acd.leftovers import AgentFix, AgentSeen, Limits, LineSeen, Sweep, sweep
from cti.acd.model import AcdConfig, Entry
from cti.ari import AriClient
from cti.cancellation import raise_if_cancelling
from cti.errors import AriError
from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.lease import lease_key
from cti.live.outbox import EventOutbox
from cti.live.owned import OwnedCalls

log = logging.getLogger(__name__)

SWEEP_S = 5.0


class Sweeper:
    def __init__(
        self,
        ari: AriClient,
        state: AcdState,
        outbox: EventOutbox,
        config: AcdConfig,
        *,
        interval_s: float = SWEEP_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ari = ari
        self.state = state
        self.outbox = outbox
        self.agent_ids = [agent.id for agent in config.agents]
        self.queues = [queue.name for queue in config.queues]
        self.limits = Limits(
            ring_s=max((q.ring_timeout_s for q in config.queues), default=0.0),
            wrapup_s=max((q.wrapup_s for q in config.queues), default=0.0),
        )
        self.interval_s = interval_s
        self.clock = clock

    async def run(self) -> None:
        """Sweep until cancelled; a pass that cannot read Redis or Asterisk waits for the next."""
        while True:
            raise_if_cancelling()  # a library may have swallowed the cancel
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep_once()
            except (RedisError, OSError, AriError) as exc:
                log.warning("acd sweep skipped: %s", exc)

    async def sweep_once(self) -> Sweep:
        """One pass: read the agents, the line, the heartbeats and Asterisk's channels; end
        what is left over. Returns what it decided (tests and the drills read it)."""
        seen = [AgentSeen(status, version) for status, version in await self.state.agents(self.agent_ids)]
        line = await self._line()
        owners = {s.status.owner for s in seen} | {i.owner for i in line} | {i.taken_by for i in line}
        alive = await self._alive(owners - {""})
        channels = {channel.id for channel in await self.ari.list_channels()}
        calls_of_dead = await self._calls_of(owners - alive - {""})
        plan = sweep(seen, line, alive, channels, calls_of_dead, self.limits, self.clock())
        for fix in plan.agents:
            await self._fix(fix, {s.status.agent: s for s in seen}[fix.agent])
        for entry in plan.leave_line:
            log.warning(
                "acd sweep: caller gone, its instance dead; out of line", extra={"channel": entry.call_id}
            )
            await self.state.dequeue(entry)
        for call_id in plan.release:
            log.warning("acd sweep: callback of a dead instance back in line", extra={"channel": call_id})
            await self.state.release_callback(call_id)
        return plan

    async def _line(self) -> list[LineSeen]:
        """Every entry in the configured queues, with its owner and callback fields."""
        async with self.state.redis.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.zrange(self.state.queue_key(queue), 0, -1)
            members = await pipe.execute()
        ids = [(queue, str(m)) for queue, found in zip(self.queues, members, strict=True) for m in found]
        async with self.state.redis.pipeline(transaction=False) as pipe:
            for _, call_id in ids:
                pipe.hgetall(self.state.entry_key(call_id))
            rows = await pipe.execute()
        line = []
        for (queue, call_id), fields in zip(ids, rows, strict=True):
            entry = Entry(call_id, queue, float(fields.get("entered_at", 0)), int(fields.get("priority", 0)))
            line.append(
                LineSeen(
                    entry,
                    owner=fields.get("owner", ""),
                    callback="callback_number" in fields,
                    taken_by=fields.get("taken_by", ""),
                    dialled="dialled_at" in fields,
                )
            )
        return line

    async def _alive(self, owners: Collection[str]) -> set[str]:
        """The owners whose heartbeat key is there."""
        ordered = sorted(owners)
        async with self.state.redis.pipeline(transaction=False) as pipe:
            for owner in ordered:
                pipe.exists(lease_key(self.state.prefix, owner))
            found = await pipe.execute()
        return {owner for owner, exists in zip(ordered, found, strict=True) if exists}

    async def _calls_of(self, dead: Collection[str]) -> dict[str, set[str]]:
        """Per call id of the dead instances, the agent and customer legs their records name."""
        legs: dict[str, set[str]] = {}
        for owner in dead:
            for call_id, record in (
                await OwnedCalls(self.state.redis, self.state.prefix, owner, "acd").load()
            ).items():
                named = (record.get("agent_channel"), record.get("customer_channel"))
                legs.setdefault(call_id, set()).update(str(leg) for leg in named if leg)
        return legs

    async def _fix(self, fix: AgentFix, seen: AgentSeen) -> None:
        version, now = fix.version, self.clock()
        for command in fix.commands:
            try:
                change = await self.state.transition(fix.agent, command, now, expect_version=version)
            except (StaleAgentState, AgentStateError):
                return  # the owner (or another sweeper) acted first
            version += 1
            await self.outbox.try_record(agent_state_event(change))
            if command is Command.WRAPUP_DONE and fix.commands == (Command.WRAPUP_DONE,):
                status = seen.status
                await self.outbox.try_record(
                    wrapup_ended_event(fix.agent, status.call_id or "", now, now - status.since, swept=True)
                )
        log.warning("acd sweep: agent %s freed: %s", fix.agent, fix.why, extra={"agent": fix.agent})
