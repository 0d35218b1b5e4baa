"""``GET /api/customers/{id}``: the CRM card, masked for the viewer's role; ``POST /api/customers``:
the desktop's form for a caller the CRM does not know (name, phone, segment, language, and
optionally the vehicle's plate, model and VIN). Field rules are the CSV import's
(``cti.crm.fields``), so a customer typed in and one imported are held to the same standard."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cti.crm import fields
from cti.crm.store import AlreadyStored, NewCustomer, NewVehicle, create_customer
from cti.desk.crm import read_card
from cti.desk.pop import card_body
from cti.web.auth import Role
from cti.web.kpi import ENGINE, SETTINGS
from cti.web.principal import PRINCIPAL, require
from cti.web.problems import ApiError, json_object

_FORM = ("name", "phone", "segment", "language", "plate", "model", "vin")
_VEHICLE = ("plate", "model", "vin")


@require(Role.AGENT, Role.SUPERVISOR, Role.MANAGER)
async def get_customer(request: web.Request) -> web.Response:
    text = request.match_info["id"]
    if not text.isdigit():
        raise ApiError(400, f"a customer id is a number, not {text!r}", {"parameter": "id"})
    card = await read_card(request.app[ENGINE], "", customer_id=int(text))
    if card is None:
        raise ApiError(404, f"no customer {text}")
    today = datetime.now(ZoneInfo(request.app[SETTINGS].kpi.timezone)).date()
    return web.json_response(card_body(card, viewer=_viewer(request), today=today))


@require(Role.AGENT, Role.SUPERVISOR, Role.MANAGER)
async def post_customer(request: web.Request) -> web.Response:
    new = _new_customer(await json_object(request, shape="a JSON object of the form's fields"))
    try:
        customer_id = await create_customer(request.app[ENGINE], new)
    except AlreadyStored as exc:
        raise ApiError(409, str(exc)) from exc
    return web.json_response({"id": customer_id}, status=201)


def _viewer(request: web.Request) -> Role:
    """The caller's role, as ``require`` found it."""
    return request[PRINCIPAL].role


def _new_customer(body: dict[str, Any]) -> NewCustomer:
    """The form's fields checked; a 400 names every bad one (details: field -> problem)."""
    problems = {key: f"not a field of the form ({', '.join(_FORM)})" for key in body if key not in _FORM}
    problems |= {
        key: "must be text" for key in _FORM if key in body and not isinstance(body[key], str | None)
    }
    form = fields.Cells(
        {key: value for key, value in body.items() if key in _FORM and isinstance(value, str)}
    )
    with_vehicle = any(form.cells.get(key, "").strip() for key in _VEHICLE)
    new = NewCustomer(
        name=form.get("name", fields.name, required=True),
        phone=form.get("phone", fields.phone, required=True),
        segment=form.get("segment", fields.segment, fields.SEGMENTS[0]),
        language=form.get("language", fields.language, fields.DEFAULT_LANGUAGE),
        vehicle=NewVehicle(
            vin=form.get("vin", fields.vin, required=True),
            model=form.get("model", fields.model, required=True),
            plate=form.get("plate", fields.plate),
        )
        if with_vehicle
        else None,
    )
    problems = dict(form.problems) | problems  # "must be text" says more than "missing"
    if problems:
        said = "; ".join(f"{key}: {problem}" for key, problem in sorted(problems.items()))
        raise ApiError(400, f"the new customer's form has bad fields: {said}", {"fields": problems})
    return new


def add_customer_routes(app: web.Application) -> None:
    app.router.add_get("/api/customers/{id}", get_customer)
    app.router.add_post("/api/customers", post_customer)
