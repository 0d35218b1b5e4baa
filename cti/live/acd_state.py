"""The ACD's live state in Redis: agent statuses, queue entries, and the atomic claim.

Several service instances (each with its own ARI app name) may share one Redis and one pool of
agents. Two rules keep them honest:

- **Claim before ringing.** An agent is offered a call only through ``claim_and_join`` (or
  ``claim``): a Lua script that moves the agent from ready to ringing in one step, so two
  instances racing for the same agent get one yes and one no. Every other change goes through
  ``transition``, a compare-and-set on the status's version, so a stale writer never
  overwrites a newer state.
- **A call belongs to the instance whose Stasis app holds the caller**: its queue entry names
  that owner; only the owner routes it. A callback has no caller on the line: once published,
  any instance may *take* it (a lease), and the one that dials it marks it dialled in the same
  atomic step that takes it out of line, so it is never dialled twice (``cti.live.acd_callbacks``).

Times are wall-clock epoch seconds, comparable across instances. If Redis loses the state, the
routers rebuild it (``QueueRouter.recover``) from their own calls and the store's event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from cti.acd.agents import AgentStatus, Command, StateChange, apply
from cti.acd.model import AgentConfig, AgentSnapshot, AgentState, Entry
from cti.acd.strategies import RoundRobinMemory
from cti.live import acd_scripts as lua
from cti.live.acd_callbacks import AcdCallbacks


def _line_score(entry: Entry) -> float:
    """Sorted-set score giving the line's order: higher priority first, then earlier arrival."""
    return entry.entered_at - entry.priority * 1e10


class StaleAgentState(Exception):
    """The agent changed between our read and our write: read again and decide again."""


def _notice(state: AgentState, agent_id: str) -> str:
    """What ``changes_channel`` says of an agent's new state."""
    return f"{'ready' if state is AgentState.READY else 'agent'} {agent_id}"


def _snapshots(agents: Sequence[AgentConfig], flat: Sequence[str]) -> list[AgentSnapshot]:
    """The ``SNAPSHOT`` script's flat reply as snapshots, in configuration order."""
    return [
        AgentSnapshot(
            agent.id,
            AgentState(state or AgentState.LOGGED_OUT.value),
            agent.skills,
            order,
            idle_since=float(since or 0),
            calls_taken=int(calls or 0),
            talk_time_s=float(talk or 0),
            queues=_split_queues(queues),
        )
        for order, (agent, (state, since, calls, talk, queues)) in enumerate(
            zip(agents, zip(*[iter(flat)] * lua.SNAPSHOT_FIELDS, strict=True), strict=True)
        )
    ]


def _split_queues(text: str) -> frozenset[str]:
    """The queues an agent signed in for, as the hash keeps them (comma-separated; '' : all)."""
    return frozenset(text.split(",")) if text else frozenset()


def _entered_at(score: float) -> float:
    """When an entry joined its line, from its score (``_line_score``): arrival times are far
    below 1e10 s, so the priority's multiple of 1e10 is what the remainder drops."""
    return score % 1e10


def _positions(replies: list[Any], entries: int) -> tuple[list[int], list[Any]]:
    """Split a pipeline's replies: the 1-based positions of the ``entries`` put in line first
    (``AcdState._put_in_line``: three commands each, the last the rank), and the replies after."""
    put = 3 * entries
    return [int(rank) + 1 for rank in replies[2:put:3]], replies[put:]


def _status(agent_id: str, fields: dict[str, str]) -> tuple[AgentStatus, int]:
    status = AgentStatus(
        agent=agent_id,
        state=AgentState(fields.get("state", AgentState.LOGGED_OUT.value)),
        since=float(fields.get("since", 0)),
        reason=fields.get("reason", ""),
        call_id=fields.get("call_id") or None,
        missed_in_row=int(fields.get("missed", 0)),
        owner=fields.get("owner", ""),
        until=float(fields.get("until") or 0),
        queues=tuple(q for q in fields.get("queues", "").split(",") if q),
        undisposed=fields.get("undisposed", ""),
    )
    return status, int(fields.get("version", 0))


def _fields(status: AgentStatus) -> dict[str, str]:
    """The hash fields of an agent's status (its counters and version are kept apart)."""
    return {
        "state": status.state.value,
        "since": repr(status.since),
        "reason": status.reason,
        "call_id": status.call_id or "",
        "missed": str(status.missed_in_row),
        "owner": status.owner,
        "until": repr(status.until) if status.until else "",
        "queues": ",".join(status.queues),
        "undisposed": status.undisposed,
    }


class AcdState(AcdCallbacks):
    """Agents and queue entries of one contact center, shared by every instance (the
    callbacks' part is ``AcdCallbacks``'s, the keys' layout ``AcdKeys``'s)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "cti:acd") -> None:
        super().__init__(redis, prefix)
        self._cas = redis.register_script(lua.SET_IF_VERSION)

    # --- agents -----------------------------------------------------------------------------
    async def agent(self, agent_id: str) -> tuple[AgentStatus, int]:
        fields: dict[str, str] = await self.redis.hgetall(self.agent_key(agent_id))  # type: ignore[assignment]
        return _status(agent_id, fields)

    async def agents(self, agent_ids: Sequence[str]) -> list[tuple[AgentStatus, int]]:
        """Several agents' statuses and versions, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in agent_ids:
                pipe.hgetall(self.agent_key(agent_id))
            rows = await pipe.execute()
        return [_status(agent_id, fields) for agent_id, fields in zip(agent_ids, rows, strict=True)]

    async def claim(self, agent_id: str, call_id: str, now: float, until: float = 0.0) -> bool:
        """Ready -> ringing for ``call_id``, atomically; False if the agent was not ready."""
        claimed, _ = await self.claim_and_join([(agent_id, call_id, until)], now, [], "")
        return claimed[0]

    async def claim_and_join(
        self,
        offers: Sequence[tuple[str, str, float]],
        now: float,
        entries: Sequence[Entry],
        owner: str,
        rotated: Mapping[str, str] | None = None,
    ) -> tuple[list[bool], list[int]]:
        """Claim each (agent, call, ring deadline) atomically for ``owner`` and put newly
        arrived callers in line, in one MULTI/EXEC: the routing pass's round trip when it could
        match from the view it already holds. ``rotated``: the round-robin queues' memory as the
        pass's match left it (queue -> agent offered last), saved in the same step. Returns
        which claims succeeded and the new callers' positions."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                self._put_in_line(pipe, entry, owner)
            if offers:
                keys = [self.agent_key(agent_id) for agent_id, _, _ in offers]
                deadlines = [item for _, call_id, until in offers for item in (call_id, repr(until))]
                args = [repr(now), self.changes_channel, owner, *deadlines]
                pipe.eval(lua.CLAIM, len(keys), *keys, *args)  # not a Script: see join_and_read
                for queue, agent_id in (rotated or {}).items():
                    pipe.set(self.rotation_key(queue), agent_id)
            positions, rest = _positions(await pipe.execute(), len(entries))
        return ([bool(reply) for reply in rest[0]] if offers else []), positions

    async def transition(
        self,
        agent_id: str,
        command: Command,
        now: float,
        *,
        expect_version: int | None = None,
        **options: Any,
    ) -> StateChange:
        """Apply ``command`` (see ``cti.acd.agents.apply``) if nobody changed the agent meanwhile
        (nor since ``expect_version``, when a decision was made on an earlier read)."""
        status, version = await self.agent(agent_id)
        if expect_version is not None and version != expect_version:
            raise StaleAgentState(f"agent {agent_id} changed since it was read for {command}")
        new, change = apply(status, command, now, **options)
        flat = [item for pair in _fields(new).items() for item in pair]
        notice = _notice(new.state, agent_id)
        args = [str(version), self.changes_channel, notice, *flat]
        if not await self._cas(keys=[self.agent_key(agent_id)], args=args):
            raise StaleAgentState(f"agent {agent_id} changed while {command} was decided")
        return change

    async def record_call(self, agent_id: str, talk_s: float) -> None:
        """Count a finished conversation (fewest-calls and least-talk-time read these)."""
        key = self.agent_key(agent_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "calls", 1)
            pipe.hincrbyfloat(key, "talk_s", talk_s)
            pipe.publish(self.changes_channel, f"agent {agent_id}")
            await pipe.execute()

    async def snapshots(self, agents: Sequence[AgentConfig]) -> list[AgentSnapshot]:
        """Every configured agent as the strategies see it, in configuration order (one round trip)."""
        keys = [self.agent_key(agent.id) for agent in agents]
        return _snapshots(agents, await self.redis.eval(lua.SNAPSHOT, len(keys), *keys))

    async def join_and_read(
        self,
        entries: Sequence[Entry],
        owner: str,
        agents: Sequence[AgentConfig],
        rotating: Sequence[str] = (),
        memory: RoundRobinMemory | None = None,
    ) -> tuple[list[int], list[AgentSnapshot], list[str]]:
        """A routing pass's one round trip: put newly arrived callers in line, and read every
        agent and the callbacks in line. Returns the new callers' positions, the agents'
        snapshots, and the ids of the callbacks in line (``callbacks_of`` reads those, rarely
        needed). The round-robin memory of the ``rotating`` queues is read into ``memory``
        (what ``claim_and_join`` saved, whichever instance it was). One MULTI/EXEC, so the view
        is consistent.

        The snapshot is sent as EVAL, not EVALSHA: a script in a redis-py pipeline costs a
        SCRIPT EXISTS round trip before every execute, and this is the hot path.
        """
        keys = [self.agent_key(agent.id) for agent in agents]
        rotating = rotating if memory is not None else ()
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                self._put_in_line(pipe, entry, owner)
            pipe.eval(lua.SNAPSHOT, len(keys), *keys)
            pipe.smembers(self.callbacks_key)
            if rotating:
                pipe.mget([self.rotation_key(queue) for queue in rotating])
            positions, (flat, members, *last) = _positions(await pipe.execute(), len(entries))
        if memory is not None and last:
            memory.last = {queue: str(agent) for queue, agent in zip(rotating, last[0], strict=True) if agent}
        return positions, _snapshots(agents, flat), sorted(str(member) for member in members)

    # --- queue entries ----------------------------------------------------------------------
    async def enqueue(self, entry: Entry, owner: str) -> int:
        """Add a waiting caller; return its 1-based position in its queue (one round trip)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self._put_in_line(pipe, entry, owner)
            positions, _ = _positions(await pipe.execute(), 1)
        return positions[0]

    def _put_in_line(self, pipe: Any, entry: Entry, owner: str) -> None:
        """Queue on ``pipe`` the three commands that put ``entry`` in line; the last replies its rank."""
        pipe.hset(
            self.entry_key(entry.call_id),
            mapping={
                "queue": entry.queue,
                "entered_at": repr(entry.entered_at),
                "priority": entry.priority,
                "owner": owner,
            },
        )
        pipe.zadd(self.queue_key(entry.queue), {entry.call_id: _line_score(entry)})
        pipe.zrank(self.queue_key(entry.queue), entry.call_id)

    async def queue_length(self, queue: str) -> int:
        """Callers waiting in ``queue``, across every instance."""
        return int(await self.redis.zcard(self.queue_key(queue)))

    async def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        """Callers waiting in each of ``queues``, across every instance, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zcard(self.queue_key(queue))
            lengths = await pipe.execute()
        return {queue: int(length) for queue, length in zip(queues, lengths, strict=True)}

    async def lines(self, queues: Sequence[str], now: float) -> dict[str, tuple[int, float]]:
        """Per queue, the callers waiting and the longest wait so far (s), across every instance,
        in one round trip (the wallboard's figures)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zrange(self.queue_key(queue), 0, -1, withscores=True)
            replies = await pipe.execute()
        lines = {}
        for queue, members in zip(queues, replies, strict=True):
            oldest = min((_entered_at(float(score)) for _, score in members), default=now)
            lines[queue] = (len(members), max(0.0, now - oldest))
        return lines

    async def dequeue(self, entry: Entry) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.queue_key(entry.queue), entry.call_id)
            pipe.delete(self.entry_key(entry.call_id))
            pipe.srem(self.callbacks_key, entry.call_id)
            await pipe.execute()

    async def position(self, entry: Entry) -> int:
        """1-based place in line among callers of the same queue (priority first, then wait)."""
        rank: Any = await self.redis.zrank(self.queue_key(entry.queue), entry.call_id)
        if rank is None:
            raise KeyError(f"call {entry.call_id} is not waiting in {entry.queue}")
        return int(rank) + 1

    # --- surviving a Redis that lost everything -------------------------------------------------
    async def epoch(self) -> str | None:
        """The mark of this state's lifetime: None after a Redis restart wiped it (or at first use)."""
        value: Any = await self.redis.get(f"{self.prefix}:epoch")
        return None if value is None else str(value)

    async def claim_rebuild(self, instance: str, ttl_s: float) -> bool:
        """Only one instance rebuilds the shared part; the claim lapses if it dies doing so."""
        return bool(
            await self.redis.set(f"{self.prefix}:rebuilding", instance, nx=True, px=int(ttl_s * 1000))
        )

    async def release_rebuild(self, instance: str) -> None:
        """Give the rebuild claim up (the rebuild could not be done now); only if it is ours."""
        key = f"{self.prefix}:rebuilding"
        if await self.redis.get(key) == instance:
            await self.redis.delete(key)

    async def start_epoch(self, epoch: str) -> None:
        """The shared part is rebuilt: a new lifetime starts, and the other instances, seeing it,
        put their own callers and busy agents back (after the rebuild, so nothing overwrites them)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.prefix}:epoch", epoch)
            pipe.delete(f"{self.prefix}:rebuilding")
            await pipe.execute()

    async def restore_agents(self, statuses: Iterable[AgentStatus]) -> None:
        """Write rebuilt agent statuses (a fresh version: any writer before the rebuild is stale)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for status in statuses:
                key = self.agent_key(status.agent)
                pipe.delete(key)
                pipe.hset(key, mapping={**_fields(status), "version": "1"})  # type: ignore[dict-item]
                pipe.publish(self.changes_channel, _notice(status.state, status.agent))
            await pipe.execute()

    async def waiting(self, queues: Iterable[str], owner: str | None = None) -> list[Entry]:
        """Callers waiting in ``queues`` (only ``owner``'s, if given), in order of arrival."""
        entries: list[Entry] = []
        for queue in queues:
            for member in await self.redis.zrange(self.queue_key(queue), 0, -1):
                call_id = str(member)
                fields = await self.redis.hgetall(self.entry_key(call_id))
                if not fields or (owner is not None and fields.get("owner") != owner):
                    continue
                entries.append(
                    Entry(call_id, queue, float(fields["entered_at"]), int(fields.get("priority", 0)))
                )
        return sorted(entries, key=lambda e: (e.entered_at, e.call_id))
