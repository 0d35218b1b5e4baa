"""Preview dialing: the agent sees the record first, then dials it (or skips it).

``offer`` takes the next due lead of a running preview campaign of the agent's queues for the
agent (leased like any dial: no other agent or instance gets it) and remembers it in Redis with
the agent for ``PREVIEW_TTL_S``, so whichever instance serves the agent's next request knows it.
``dial`` claims the agent through the ACD's one claim (ready -> ringing for the call, the same Lua
step inbound calls use) and hands the lead to the dialer with that agent reserved; an agent not
ready, or callers waiting in the lead's queue (inbound first), is refused. ``skip`` puts the lead back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd.agents import StateChange, agent_state_event
from cti.acd.model import AgentState
from cti.errors import CtiError
from cti.live.acd_state import AcdState
from cti.live.outbox import EventOutbox
from cti.outbound.dial_records import DueLead, leased, put_back, take_due
from cti.outbound.dialer import Dialer
from cti.outbound.pacing import DialMode

PREVIEW_TTL_S = 600  # how long a previewed lead stays the agent's (then the hopper's lease decides)


class NoPreview(CtiError):
    """The agent holds no preview of that lead."""


class PreviewRefused(CtiError):
    """The preview cannot be dialled now (the agent is not ready, callers wait, no dialer)."""


class Previews:
    def __init__(
        self,
        state: AcdState,
        engine: AsyncEngine,
        outbox: EventOutbox,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.engine = engine
        self.outbox = outbox
        self.clock = clock
        self.dialer: Dialer | None = None  # set once the service's dialer runs (``cti.app``)

    def _key(self, agent_id: str) -> str:
        return f"{self.state.prefix}:preview:{agent_id}"

    async def offer(self, agent_id: str) -> DueLead | None:
        """The lead the agent previews: the one it holds already, else the next due one of the
        running preview campaigns of the agent's queues; None when nothing is due."""
        held = await self._held(agent_id)
        if held is not None:
            return held
        leads = await take_due(self.engine, self.clock(), 1, await self._campaigns_of(agent_id))
        if not leads:
            return None
        lead = leads[0]
        value = json.dumps({"lead": lead.lead_id, "status": lead.status})
        await self.state.redis.set(self._key(agent_id), value, ex=PREVIEW_TTL_S)
        return lead

    async def _campaigns_of(self, agent_id: str) -> list[str | None]:
        """The running preview campaigns on a day of their schedule whose queue the agent
        serves (none before the dialer runs)."""
        dialer = self.dialer
        if dialer is None:
            return []
        store = dialer.parts.campaigns
        today = datetime.fromtimestamp(self.clock(), store.tz).date()
        agent = next((a for a in dialer.parts.acd.agents if a.id == agent_id), None)
        return [
            campaign.name
            for campaign in await store.running()
            if campaign.dial_mode is DialMode.PREVIEW
            and campaign.settings.schedule.dials_on(today)
            and agent is not None
            and campaign.queue in agent.skills
        ]

    async def dial(self, agent_id: str, lead_id: str) -> str:
        """Dial the agent's previewed lead with the agent reserved; the call's id."""
        lead = await self._mine(agent_id, lead_id)
        dialer = self.dialer
        if dialer is None:
            raise PreviewRefused("the dialer is not running yet")
        queue = dialer.queue_of(lead)
        if await self.state.queue_length(queue) > 0:
            raise PreviewRefused(f"callers are waiting in {queue}: inbound calls come first")
        now, call_id = self.clock(), f"out-{uuid.uuid4().hex[:16]}"
        if not await self.state.claim(agent_id, call_id, now, now + dialer.legs.hold_s):
            raise PreviewRefused(f"agent {agent_id} is not ready")
        await self.outbox.try_record(
            agent_state_event(StateChange(agent_id, AgentState.RINGING, "offered", now, call_id))
        )
        await self.state.redis.delete(self._key(agent_id))
        dialled = await dialer.dial(lead, agent=agent_id, call_id=call_id)
        if dialled is None:
            raise PreviewRefused("the number may not be dialled now (see the dial_refused event)")
        return dialled

    async def skip(self, agent_id: str, lead_id: str) -> None:
        """The agent passes: the lead is due again for anyone."""
        lead = await self._mine(agent_id, lead_id)
        await self.state.redis.delete(self._key(agent_id))
        await put_back(self.engine, lead, self.clock())

    async def _mine(self, agent_id: str, lead_id: str) -> DueLead:
        held = await self._held(agent_id)
        if held is None or held.lead_id != lead_id:
            raise NoPreview(f"agent {agent_id} holds no preview of lead {lead_id}")
        return held

    async def _held(self, agent_id: str) -> DueLead | None:
        value = await self.state.redis.get(self._key(agent_id))
        if value is None:
            return None
        held = json.loads(value)
        return await leased(self.engine, str(held["lead"]), str(held["status"]))


def lead_body(lead: DueLead, *, number: str) -> dict[str, object]:
    """What the desktop shows of a previewed lead (``number`` as the viewer may see it)."""
    deadline = None if lead.deadline_at is None else datetime.fromtimestamp(lead.deadline_at, UTC).isoformat()
    return {
        "lead_id": lead.lead_id,
        "name": lead.name,
        "number": number,
        "source": lead.source,
        "campaign": lead.campaign,
        "attempts": lead.attempts,
        "deadline": deadline,
    }
