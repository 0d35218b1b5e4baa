"""Preview dialing over HTTP (``cti.outbound.preview``): the agent sees the record, then dials.

- ``POST /api/agents/{id}/preview``: the lead the agent previews (200 with its record; 204 when
  nothing is due);
- ``POST /api/agents/{id}/preview/{lead_id}/dial``: dial it with the agent reserved (202 with
  the call's id);
- ``POST /api/agents/{id}/preview/{lead_id}/skip``: put it back (204).

An agent acts for itself, a supervisor, manager or the api for anyone (``may_act_for``).
Refusals: 403 acting for another agent, 404 no such preview, 409 the agent not ready, callers
waiting (inbound first) or a number the rules refuse now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiohttp import web

from cti.desk.masking import shown_number
from cti.outbound.preview import NoPreview, PreviewRefused, Previews, lead_body
from cti.web.agents import EVERYONE, acting_for
from cti.web.principal import PRINCIPAL, require
from cti.web.problems import ApiError

PREVIEWS: web.AppKey[Previews] = web.AppKey("previews", Previews)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except NoPreview as exc:
        raise ApiError(404, str(exc)) from exc
    except PreviewRefused as exc:
        raise ApiError(409, str(exc)) from exc


@require(*EVERYONE)
async def post_preview(request: web.Request) -> web.Response:
    agent_id = acting_for(request)
    lead = await request.app[PREVIEWS].offer(agent_id)
    if lead is None:
        return web.Response(status=204)
    number = shown_number(lead.phone_number, request[PRINCIPAL].role)
    return web.json_response(lead_body(lead, number=number))


@require(*EVERYONE)
async def post_dial(request: web.Request) -> web.Response:
    agent_id = acting_for(request)
    with _refusals():
        call_id = await request.app[PREVIEWS].dial(agent_id, request.match_info["lead_id"])
    return web.json_response({"call_id": call_id}, status=202)


@require(*EVERYONE)
async def post_skip(request: web.Request) -> web.Response:
    agent_id = acting_for(request)
    with _refusals():
        await request.app[PREVIEWS].skip(agent_id, request.match_info["lead_id"])
    return web.Response(status=204)


def add_preview_routes(app: web.Application, previews: Previews) -> None:
    app[PREVIEWS] = previews
    app.router.add_post("/api/agents/{id}/preview", post_preview)
    app.router.add_post("/api/agents/{id}/preview/{lead_id}/dial", post_dial)
    app.router.add_post("/api/agents/{id}/preview/{lead_id}/skip", post_skip)
