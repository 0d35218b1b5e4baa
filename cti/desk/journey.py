"""The part of a screen-pop that the call's own events tell (pure: no I/O).

Who is calling, through which IVR path with which keys and collected values, in which queue
and for how long: all of it is in the call's journey (its events so far), none needs the CRM.
The publisher builds every pop from this at least; the CRM's card and history (customer,
vehicles, cases, contacts) are added by ``cti.desk.pop.build_pop`` where it is wired in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cti.events import CallEvent, EventKind


def journey_pop(offer: CallEvent, journey: Sequence[CallEvent]) -> dict[str, Any]:
    """The pop of ``offer`` (an ``agent_offered``) from the call's events before it."""
    offer_id = str(offer.data.get("offer", ""))
    entered = _last(journey, EventKind.QUEUE_ENTERED)
    handed: Mapping[str, Any] = entered.data.get("ivr") or {} if entered is not None else {}
    path = [str(e.data["node"]) for e in journey if e.kind is EventKind.IVR_NODE_ENTERED and "node" in e.data]
    keys = [str(e.data["key"]) for e in journey if e.kind is EventKind.IVR_KEY_PRESSED and "key" in e.data]
    flow = handed.get("flow") or next((e.data.get("flow") for e in journey if "flow" in e.data), None)
    return {
        "offer": f"{offer.call_id}:{offer_id}",
        "call_id": offer.call_id,
        "offer_id": offer_id,
        "agent": offer.agent,
        "queue": offer.queue,
        "rang_at": offer.at.isoformat(),
        "caller": {"number": offer.caller_number},
        "ivr": {"flow": flow, "path": path, "keys": keys, "values": dict(handed.get("values") or {})},
        "entered_at": entered.at.isoformat() if entered is not None else None,
        "wait_s": round((offer.at - entered.at).total_seconds(), 3) if entered is not None else None,
    }


def _last(journey: Sequence[CallEvent], kind: EventKind) -> CallEvent | None:
    return next((event for event in reversed(journey) if event.kind is kind), None)
