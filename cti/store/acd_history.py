"""What the store remembers of the ACD, for rebuilding Redis after it lost the live state.

Every agent state change and every callback request is a call event, so the store answers
"what was each agent doing last" and "which callbacks still wait" (``cti.acd.recovery`` decides
what to restore). Only recent history is read: an agent who changed nothing for a month is
logged out, a callback a week old is stale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd.model import AgentState, Entry
from cti.acd.recovery import PendingCallback, Recall, RecordedState
from cti.events import EventKind
from cti.store.events import events_of_kind, events_of_leads

AGENT_HISTORY = timedelta(days=30)
CALLBACK_HISTORY = timedelta(days=7)


async def recall_acd(engine: AsyncEngine, now: datetime | None = None) -> Recall:
    """The agents' last recorded states and the queue callbacks never dialled nor refused."""
    now = now or datetime.now(UTC)
    agents: dict[str, RecordedState] = {}
    for event in await events_of_kind(engine, EventKind.AGENT_STATE_CHANGED, now - AGENT_HISTORY):
        if event.agent:  # in time order: the last one wins
            state = AgentState(str(event.data.get("state", AgentState.LOGGED_OUT.value)))
            agents[event.agent] = RecordedState(
                state, str(event.data.get("reason", "")), event.at.timestamp()
            )
    requests = [
        event
        for event in await events_of_kind(engine, EventKind.CALLBACK_REQUESTED, now - CALLBACK_HISTORY)
        if event.lead_id and event.queue and event.data.get("from") != "ivr"  # the IVR's go to campaigns
    ]
    done = {  # dialled, or refused for good by the dial guard (``unchecked`` is tried again)
        event.lead_id
        for event in await events_of_leads(engine, [event.lead_id or "" for event in requests])
        if event.kind is EventKind.DIAL_STARTED
        or (event.kind is EventKind.DIAL_REFUSED and event.data.get("rule") != "unchecked")
    }
    callbacks = tuple(
        PendingCallback(
            Entry(
                event.call_id,
                event.queue or "",
                event.at.timestamp() - event.number("wait_s"),  # back in line where it was
                int(event.number("priority")),
            ),
            event.caller_number or "",
            event.lead_id or "",
        )
        for event in requests
        if event.lead_id not in done and event.caller_number
    )
    return Recall(agents, callbacks)
