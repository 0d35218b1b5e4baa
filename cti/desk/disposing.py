"""Recording a call's disposition: who took the call, once per call and agent, and the wrap-up
it may have held (``AgentControl.disposed``).

Who took the call is read where it is freshest: the agents' live statuses in Redis (an agent on
the call or in its wrap-up names it), then the store's events of the call (``agent_answered``),
which also give its queue, caller and lead for the events (``cti.desk.dispositions``). A store
that does not answer leaves those unknown rather than refusing an agent in wrap-up.

One disposition per call and agent: the first is kept in Redis (a hash per call, agent ->
code and note, ``HSETNX``, a week: nobody disposes a call later than that), an identical retry
is answered as the first was (its agent is known from there, ready or not), and a different one
is refused. The events are recorded again on a retry: their ids are the first
ones' (``disposition_events``), so the store keeps them once, and a first try cut short between
its mark and its events is completed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd.agents import StateChange
from cti.acd.model import AgentState
from cti.desk.agent_control import AgentControl, InvalidChoice
from cti.desk.dispositions import NOTE_MAX, DisposedCall, Disposition, Dispositions, disposition_events
from cti.errors import CtiError
from cti.events import CallEvent, EventKind
from cti.store.events import events_of_call

log = logging.getLogger(__name__)

DISPOSED_TTL_S = 7 * 24 * 3600


class AlreadyDisposed(CtiError):
    """The agent disposed this call already, differently."""


@dataclass(frozen=True)
class CallTakers:
    """The agents who took a call (the live one first), and what the store knows of it."""

    agents: tuple[str, ...]
    queue: str | None = None
    lead_id: str | None = None
    caller_number: str | None = None

    def call(self, call_id: str, agent: str) -> DisposedCall:
        return DisposedCall(call_id, agent, self.queue, self.lead_id, self.caller_number)


@dataclass(frozen=True)
class Recorded:
    call: DisposedCall
    disposition: Disposition
    note: str
    first: bool  # False: an identical retry
    change: StateChange | None  # the wrap-up the disposition ended or let go on, if it waited


class DispositionDesk:
    def __init__(
        self,
        control: AgentControl,
        dispositions: Dispositions,
        engine: AsyncEngine,
        clock: Callable[[], float],
    ) -> None:
        self.control = control
        self.dispositions = dispositions
        self.engine = engine
        self.clock = clock

    async def takers(self, call_id: str) -> CallTakers:
        state = self.control.state
        statuses = await state.agents([agent.id for agent in self.control.config.agents])
        busy = (AgentState.ON_CALL, AgentState.WRAP_UP)
        live = [s.agent for s, _ in statuses if s.call_id == call_id and s.state in busy]
        disposed = sorted(str(agent) for agent in await state.redis.hkeys(self._key(call_id)))
        events = await self._stored(call_id)
        answered = [e.agent for e in reversed(events) if e.kind is EventKind.AGENT_ANSWERED and e.agent]
        return CallTakers(
            tuple(dict.fromkeys([*live, *disposed, *answered])),
            next((e.queue for e in reversed(events) if e.queue), None),
            next((e.lead_id for e in events if e.lead_id), None),
            next((e.caller_number for e in events if e.caller_number), None),
        )

    def _key(self, call_id: str) -> str:
        """The call's dispositions so far: agent -> its code and note."""
        return f"{self.control.state.prefix}:disposed:{call_id}"

    async def _stored(self, call_id: str) -> list[CallEvent]:
        try:
            return await events_of_call(self.engine, call_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("disposition: the store did not answer for call %s: %s", call_id, exc)
            return []

    async def record(self, call: DisposedCall, code: str, note: str, by: str) -> Recorded:
        """Record ``code`` for the call by its agent, once; ``InvalidChoice`` for an unknown code
        or an overlong note, ``AlreadyDisposed`` for a second, different disposition."""
        disposition = self.dispositions.get(code)
        if disposition is None:
            codes = self.dispositions.codes
            raise InvalidChoice(f"unknown disposition {code!r}; codes: {codes}", {"dispositions": codes})
        if len(note) > NOTE_MAX:
            raise InvalidChoice(
                f"the note has {len(note)} characters; at most {NOTE_MAX}", {"note_max": NOTE_MAX}
            )
        redis, key = self.control.state.redis, self._key(call.call_id)
        mark = json.dumps({"code": code, "note": note}, ensure_ascii=False, sort_keys=True)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, call.agent, mark)
            pipe.expire(key, DISPOSED_TTL_S)
            first = bool((await pipe.execute())[0])
        if not first:
            kept = await redis.hget(key, call.agent)
            if kept != mark:
                earlier = json.loads(kept or "{}").get("code")
                raise AlreadyDisposed(
                    f"agent {call.agent} disposed call {call.call_id} already, as {earlier!r}"
                )
        at = datetime.fromtimestamp(self.clock(), UTC)
        await self.control.outbox.record(*disposition_events(disposition, call, note, at))
        change = await self.control.disposed(call.agent, call.call_id, by)
        return Recorded(call, disposition, note, first, change)
