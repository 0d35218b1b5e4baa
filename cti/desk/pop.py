"""The screen-pop's body: what an agent sees when its phone starts ringing, from pure inputs.

Built from the offer (``agent_offered``), the call's journey so far (IVR and queue events), the
CRM card and the number's history, so the same inputs always give the same pop, and the push
adapter that sends it does no thinking. Everything is JSON-ready (strings, numbers, booleans,
lists, dicts, ISO dates). ``now`` is the center's local time: its date is "today" for the due
maintenance and the days an insurance has left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cti.desk.crm import CONTACTS_SHOWN, CallerHistory, Case, CustomerCard, Vehicle
from cti.desk.maintenance import next_due
from cti.desk.masking import shown_number, vin_last6
from cti.events import CallEvent, EventKind
from cti.roles import Role


def build_pop(
    offer: CallEvent,
    journey: Sequence[CallEvent],
    card: CustomerCard | None,
    history: CallerHistory,
    *,
    viewer: Role,
    now: datetime,
    crm_reached: bool = True,
) -> dict[str, Any]:
    """The pop of ``offer`` as ``viewer`` may see it (``cti.desk.masking``). Without the CRM
    (``crm_reached`` false: the store away or slow) the pop still tells who calls and what the IVR
    learned, and says the card is missing rather than offering to create a customer."""
    events = sorted(journey, key=lambda event: event.at)
    offer_id = str(offer.data.get("offer", ""))
    entered = next((e.at for e in events if e.kind is EventKind.QUEUE_ENTERED), None)
    lead = _lead(events)
    customer = (
        None
        if card is None
        else {"id": card.id, "name": card.name, "segment": card.segment, "language": card.language}
    )
    return {
        "offer": f"{offer.call_id}:{offer_id}",
        "call_id": offer.call_id,
        "offer_id": offer_id,
        "agent": offer.agent,
        "queue": offer.queue,
        "rang_at": offer.at.isoformat(),
        "caller": {
            "number": shown_number(offer.caller_number or "", viewer),
            "name": card.name if card else lead.get("name") if lead else None,
            "segment": card.segment if card else None,
            "language": _ivr_language(events) or (card.language if card else None),
        },
        "customer": customer,
        "lead": lead,
        "new_customer": card is None and crm_reached,
        "crm_reached": crm_reached,
        "ivr": _ivr(events),
        "entered_at": entered.isoformat() if entered else None,
        "wait_s": round(max((offer.at - entered).total_seconds(), 0.0), 1) if entered else None,
        "repeat_48h": {
            "calls": history.recent.count,
            "last_at": history.recent.last_at.isoformat() if history.recent.last_at else None,
        },
        "vehicles": [vehicle_body(vehicle, now.date()) for vehicle in card.vehicles] if card else [],
        "cases": [case_body(case) for case in card.open_cases] if card else [],
        "contacts": [
            {
                "at": contact.at.isoformat(),
                "queue": contact.queue,
                "agent": contact.agent,
                "disposition": contact.disposition,
                "resolved": contact.resolved,
            }
            for contact in history.contacts[:CONTACTS_SHOWN]
        ],
    }


def card_body(card: CustomerCard, *, viewer: Role, today: date) -> dict[str, Any]:
    """The whole card (``GET /api/customers/{id}``): the pop's vehicles and cases, and every number."""
    return {
        "id": card.id,
        "name": card.name,
        "segment": card.segment,
        "language": card.language,
        "phone_numbers": [shown_number(number, viewer) for number in card.phone_numbers],
        "vehicles": [vehicle_body(vehicle, today) for vehicle in card.vehicles],
        "cases": [case_body(case) for case in card.open_cases],
    }


def vehicle_body(vehicle: Vehicle, today: date) -> dict[str, Any]:
    last = vehicle.services[0] if vehicle.services else None
    due = next_due(vehicle.purchased_on, vehicle.services, today)
    policy = vehicle.insurance
    return {
        "plate": vehicle.plate,
        "model": vehicle.model,
        "vin_last6": vin_last6(vehicle.vin),
        "last_service": {"on": last.on.isoformat(), "kind": last.kind, "dealer": last.dealer}
        if last
        else None,
        "next_due": {"kind": due.kind, "on": due.on.isoformat(), "overdue": due.overdue} if due else None,
        "insurance": {
            "insurer": policy.insurer,
            "expires_on": policy.expires_on.isoformat(),
            "renewal_status": policy.renewal_status,
            "days_left": (policy.expires_on - today).days,
        }
        if policy
        else None,
    }


def case_body(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "kind": case.kind,
        "status": case.status,
        "opened_at": case.opened_at.isoformat(),
        "summary": case.summary,
    }


def _ivr(events: Sequence[CallEvent]) -> dict[str, Any]:
    """The menu path, the keys and the collected values; the values come with the queue hand-over
    (``queue_entered`` data ``ivr``), the latest one if the call overflowed."""
    flow: str | None = None
    path: list[str] = []
    keys: list[str] = []
    values: dict[str, Any] = {}
    for event in events:
        if event.kind is EventKind.IVR_NODE_ENTERED and "node" in event.data:
            flow = flow or event.data.get("flow")
            path.append(str(event.data["node"]))
        elif event.kind is EventKind.IVR_KEY_PRESSED and "key" in event.data:
            keys.append(str(event.data["key"]))
        elif event.kind is EventKind.QUEUE_ENTERED and isinstance(event.data.get("ivr"), Mapping):
            handed = event.data["ivr"]
            flow = handed.get("flow") or flow
            values = {str(name): _scalar(value) for name, value in (handed.get("values") or {}).items()}
    return {"flow": flow, "path": path, "keys": keys, "values": values}


def _lead(events: Sequence[CallEvent]) -> dict[str, Any] | None:
    """The lead an outbound call dials (its ``dial_started``): who the agent is calling, and why."""
    started = next((e for e in events if e.kind is EventKind.DIAL_STARTED and e.lead_id), None)
    if started is None:
        return None
    data = started.data
    fields = ("name", "source", "campaign", "attempt")
    return {"lead_id": started.lead_id, **{name: _scalar(data.get(name)) for name in fields}}


def _ivr_language(events: Sequence[CallEvent]) -> str | None:
    """The language the caller was last spoken to in, which beats the card's: it is this call's."""
    spoken = [
        e.data["language"] for e in events if e.kind is EventKind.IVR_NODE_ENTERED and e.data.get("language")
    ]
    return str(spoken[-1]) if spoken else None


def _scalar(value: Any) -> Any:
    """A collected value as JSON holds it (they are strings; anything else is shown as text)."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
