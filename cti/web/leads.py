"""Leads over HTTP (``cti.outbound.intake``):

- ``POST /api/leads`` (api, manager) {phone, name?, source, campaign?, vehicle? {plate, model,
  vin}, due_on?, deadline?, idempotency_key?} with the ``Idempotency-Key`` header (or the body's
  key): 201 {lead_id, deadline, status} for a new lead, 200 with the same body for a retry of
  one; 400 names every bad field (``details.fields``), 422 a number the rules refuse (with its
  ``rule``), 409 a key used for another lead, 503 while the store or Redis is away (retry with
  the same key);
- ``GET /api/leads/{id}`` (api, supervisor, manager): the lead and its status;
- ``GET /api/leads?status=&campaign=&limit=`` (supervisor, manager): the newest leads.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.outbound.intake import LeadIntake
from cti.outbound.lead_store import LeadConflict
from cti.outbound.leads import CAMPAIGN_MAX, KEY_HEADER, LeadInvalid, LeadStatus, NumberRefused, read_lead
from cti.web.auth import Role
from cti.web.principal import require
from cti.web.problems import ApiError, json_object

LEADS: web.AppKey[LeadIntake] = web.AppKey("leads", LeadIntake)
LIST_MAX = 500
LIST_DEFAULT = 100
_LIST_PARAMETERS = ("status", "campaign", "limit")


@require(Role.API, Role.MANAGER)
async def post_lead(request: web.Request) -> web.Response:
    intake = request.app[LEADS]
    body = await json_object(request, shape="a JSON object: the lead's fields")
    try:
        lead_request = read_lead(body, request.headers.get(KEY_HEADER), intake.rules, intake.clock())
    except LeadInvalid as exc:
        raise ApiError(400, str(exc), {"fields": exc.problems}) from exc
    except NumberRefused as exc:
        rule = exc.refusal.rule.value
        raise ApiError(422, str(exc), {"field": "phone", "rule": rule, "reason": exc.refusal.reason}) from exc
    try:
        lead, created = await intake.take_in(lead_request)
    except LeadInvalid as exc:
        raise ApiError(400, str(exc), {"fields": exc.problems}) from exc
    except LeadConflict as exc:
        raise ApiError(409, str(exc), {"field": "idempotency_key"}) from exc
    said = {
        "lead_id": lead.lead_id,
        "deadline": lead.deadline_at.isoformat() if lead.deadline_at else None,
        "status": lead.status.value,
    }
    return web.json_response(said, status=201 if created else 200)


@require(Role.API, Role.SUPERVISOR, Role.MANAGER)
async def get_lead(request: web.Request) -> web.Response:
    lead_id = request.match_info["id"]
    if len(lead_id) > 64:
        raise ApiError(400, f"a lead id has at most 64 characters, not {len(lead_id)}", {"parameter": "id"})
    lead = await request.app[LEADS].store.get(lead_id)
    if lead is None:
        raise ApiError(404, f"no lead {lead_id}", {"parameter": "id"})
    return web.json_response(lead.body())


@require(Role.SUPERVISOR, Role.MANAGER)
async def get_leads(request: web.Request) -> web.Response:
    query = _list_query(request.query)
    leads = await request.app[LEADS].store.find(**query)
    return web.json_response({"leads": [lead.body() for lead in leads]})


def _list_query(query: Any) -> dict[str, Any]:
    """``status``, ``campaign`` and ``limit`` checked; a 400 names the bad parameter."""
    for name in query:
        if name not in _LIST_PARAMETERS:
            raise ApiError(
                400, f"unknown parameter {name!r} ({', '.join(_LIST_PARAMETERS)})", {"parameter": name}
            )
    found: dict[str, Any] = {"limit": LIST_DEFAULT}
    status = query.get("status")
    if status is not None:
        if status not in {s.value for s in LeadStatus}:
            choices = ", ".join(s.value for s in LeadStatus)
            raise ApiError(400, f"status {status!r} is not one of {choices}", {"parameter": "status"})
        found["status"] = LeadStatus(status)
    campaign = query.get("campaign")
    if campaign is not None:
        if not campaign or len(campaign) > CAMPAIGN_MAX:
            raise ApiError(400, f"a campaign has 1 to {CAMPAIGN_MAX} characters", {"parameter": "campaign"})
        found["campaign"] = campaign
    limit = query.get("limit")
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= LIST_MAX:
            raise ApiError(
                400, f"limit must be a number from 1 to {LIST_MAX}, not {limit!r}", {"parameter": "limit"}
            )
        found["limit"] = int(limit)
    return found


def add_lead_routes(app: web.Application, intake: LeadIntake) -> None:
    app[LEADS] = intake
    app.router.add_post("/api/leads", post_lead)
    app.router.add_get("/api/leads", get_leads)
    app.router.add_get("/api/leads/{id}", get_lead)
