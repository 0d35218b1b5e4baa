"""The call events the IVR records for a caller (pure: the runner writes them to the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from cti.ari.models import Channel
from cti.events import CallEvent, EventKind, fit_caller_number
from cti.ivr.messages import Journey
from cti.ivr.model import Flow


def call_event(
    channel: Channel,
    kind: EventKind,
    data: Mapping[str, object],
    *,
    queue: str | None = None,
    lead_id: str | None = None,
) -> CallEvent:
    """An event of the caller on ``channel``, now."""
    return CallEvent(
        kind,
        datetime.now(UTC),
        channel.id,
        queue=queue,
        lead_id=lead_id,
        caller_number=fit_caller_number(channel.caller.number) or None,
        data=data,
    )


def journey_event(channel: Channel, flow: Flow, language: str, step_taken: Journey) -> CallEvent:
    """A node entered (with its type and the language it speaks in) or a key pressed: the
    caller's path through the flow, which the KPIs and the screen-pop read."""
    data = {"flow": flow.name, "node": step_taken.node_id}
    if step_taken.key is not None:
        return call_event(channel, EventKind.IVR_KEY_PRESSED, {**data, "key": step_taken.key})
    # The language the node speaks in: the step is over, so a set_language node has taken effect.
    node_type = getattr(flow.nodes.get(step_taken.node_id), "type", "")
    return call_event(channel, EventKind.IVR_NODE_ENTERED, {**data, "type": node_type, "language": language})
