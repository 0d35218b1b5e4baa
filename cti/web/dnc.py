"""The do-not-call list over HTTP, for managers and the api role (a CRM, a complaints desk):
``GET /api/dnc/{number}`` (the entry, 404 when the number is not listed), ``POST /api/dnc``
(``{"number", "note"}``: 201 when added, 200 when it was listed already) and
``DELETE /api/dnc/{number}`` (204; 404 when it was not listed). A number is read as the list
reads it (``cti.outbound.dnc``: the center's region, any country and type), so ``138 0013 8000``
and ``+8613800138000`` are one entry; one that is no phone number gets a 400 naming the rule."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from cti.outbound.dnc import NOTE_MAX, add_numbers, dnc_policy, find_number, remove_number
from cti.outbound.numbers import read_number
from cti.outbound.refusal import Refusal
from cti.web.auth import Role
from cti.web.kpi import ENGINE, SETTINGS
from cti.web.principal import PRINCIPAL, require
from cti.web.problems import ApiError, json_object

_FIELDS = ("number", "note")


def _number(request: web.Request, raw: str, where: dict[str, str]) -> str:
    """``raw`` in E.164, else a 400 naming the rule (``where``: the parameter or field)."""
    number = read_number(raw, dnc_policy(request.app[SETTINGS].outbound.region))
    if isinstance(number, Refusal):
        raise ApiError(400, f"no number for the list: {number.reason}", {**where, "rule": number.rule.value})
    return number.e164


@require(Role.MANAGER, Role.API)
async def get_dnc(request: web.Request) -> web.Response:
    number = _number(request, request.match_info["number"], {"parameter": "number"})
    entry = await find_number(request.app[ENGINE], number)
    if entry is None:
        raise ApiError(404, "the number is not on the do-not-call list", {"number": number})
    return web.json_response(entry.shown())


@require(Role.MANAGER, Role.API)
async def post_dnc(request: web.Request) -> web.Response:
    body = await json_object(request, shape='a JSON object {"number": "...", "note": "..."}')
    problems = {key: f"not a field ({', '.join(_FIELDS)})" for key in body if key not in _FIELDS}
    problems |= {key: "must be text" for key in _FIELDS if key in body and not isinstance(body[key], str)}
    if "number" not in body:
        problems["number"] = "missing"
    note = body.get("note")
    if isinstance(note, str) and len(note) > NOTE_MAX:
        problems["note"] = f"at most {NOTE_MAX} characters"
    if problems:
        said = "; ".join(f"{key}: {problem}" for key, problem in sorted(problems.items()))
        raise ApiError(400, f"the do-not-call entry has bad fields: {said}", {"fields": problems})
    number = _number(request, body["number"], {"field": "number"})
    engine = request.app[ENGINE]
    added = await add_numbers(
        engine, [number], source="api", now=datetime.now(UTC), by=request[PRINCIPAL].user, note=note or None
    )
    entry = await find_number(engine, number)
    if entry is None:  # taken off again between the two statements
        raise ApiError(409, "the number was taken off the list meanwhile", {"number": number})
    return web.json_response(entry.shown(), status=201 if added else 200)


@require(Role.MANAGER, Role.API)
async def delete_dnc(request: web.Request) -> web.Response:
    number = _number(request, request.match_info["number"], {"parameter": "number"})
    if not await remove_number(request.app[ENGINE], number):
        raise ApiError(404, "the number is not on the do-not-call list", {"number": number})
    return web.Response(status=204)


def add_dnc_routes(app: web.Application) -> None:
    app.router.add_get("/api/dnc/{number}", get_dnc)
    app.router.add_post("/api/dnc", post_dnc)
    app.router.add_delete("/api/dnc/{number}", delete_dnc)
