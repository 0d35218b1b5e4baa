"""Agents' state and dispositions over HTTP: the desktop's buttons and a supervisor's hand.

- ``GET /api/agents/me`` (an agent user): its state and what it may choose;
- ``GET /api/agents`` (supervisor, manager): every agent's state;
- ``POST /api/agents/{id}/login`` {"queues"?}, ``/logout``, ``/pause`` {"reason"}, ``/unpause``,
  ``/ready`` (ends the wrap-up early): an agent for itself, a supervisor, manager or the api
  for anyone (``may_act_for``); answered with the agent's view after the change;
- ``POST /api/calls/{call_id}/disposition`` {"code", "note"?}: the agent who took the call, or a
  supervisor or manager for that agent; 201 when recorded, 200 for an identical retry.

Refusals are JSON (``ApiError``): 403 acting for another agent, 404 an unknown agent or call,
409 what the agent's state forbids (the state machine's words) or a second disposition, 400 an
unknown pause reason, queue or disposition code (with the list to choose from). Each change is
recorded with who made it: "agent:<login>", "supervisor:<login>", "manager:<login>", "api".
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from cti.acd.agents import AgentStateError, StateChange
from cti.desk.agent_control import AgentControl, InvalidChoice, UnknownAgent
from cti.desk.agent_view import agent_body, agent_summary
from cti.desk.disposing import AlreadyDisposed
from cti.web.auth import Role
from cti.web.desk import DESK, Desk
from cti.web.principal import PRINCIPAL, Handler, may_act_for, require
from cti.web.problems import ApiError, json_object

EVERYONE = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.API)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The desk's refusals as the HTTP answers they are."""
    try:
        yield
    except UnknownAgent as exc:
        raise ApiError(404, str(exc)) from exc
    except InvalidChoice as exc:
        raise ApiError(400, str(exc), exc.details) from exc
    except (AgentStateError, AlreadyDisposed) as exc:
        raise ApiError(409, str(exc)) from exc


def _by(request: web.Request) -> str:
    """Who asks, as the recorded change says it."""
    principal = request[PRINCIPAL]
    return "api" if principal.role is Role.API else f"{principal.role.value}:{principal.user}"


def acting_for(request: web.Request) -> str:
    agent_id = request.match_info["id"]
    if not may_act_for(request[PRINCIPAL], agent_id):
        raise ApiError(
            403, f"{request[PRINCIPAL].user} may not act for agent {agent_id}", {"agent": agent_id}
        )
    return agent_id


def _text(body: dict[str, Any], key: str, *, required: bool) -> str:
    value = body.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise ApiError(400, f"{key!r} must be a{' non-empty' if required else ''} string", {"field": key})
    return value


async def _view(desk: Desk, agent_id: str) -> web.Response:
    with _refusals():
        agent = desk.control.agent(agent_id)
        status = await desk.control.status(agent_id)
    return web.json_response(agent_body(desk.control.config, desk.dispositions, agent, status))


@require(Role.AGENT)
async def get_me(request: web.Request) -> web.Response:
    agent_id = request[PRINCIPAL].agent
    if agent_id is None:
        raise ApiError(400, f"{request[PRINCIPAL].user} is bound to no agent")
    return await _view(request.app[DESK], agent_id)


@require(Role.SUPERVISOR, Role.MANAGER)
async def get_agents(request: web.Request) -> web.Response:
    control = request.app[DESK].control
    statuses = await control.state.agents([agent.id for agent in control.config.agents])
    return web.json_response(
        {"agents": [agent_summary(a, s) for a, (s, _) in zip(control.config.agents, statuses, strict=True)]}
    )


@require(*EVERYONE)
async def post_login(request: web.Request) -> web.Response:
    agent_id, body = acting_for(request), await json_object(request, empty_ok=True)
    queues = body.get("queues")
    if queues is not None and not (isinstance(queues, list) and all(isinstance(q, str) for q in queues)):
        raise ApiError(400, "'queues' must be a list of queue names", {"field": "queues"})
    desk = request.app[DESK]
    with _refusals():
        await desk.control.login(agent_id, _by(request), queues)
    return await _view(desk, agent_id)


@require(*EVERYONE)
async def post_pause(request: web.Request) -> web.Response:
    agent_id, body = acting_for(request), await json_object(request, empty_ok=True)
    desk = request.app[DESK]
    with _refusals():
        await desk.control.pause(agent_id, _by(request), _text(body, "reason", required=True))
    return await _view(desk, agent_id)


Change = Callable[[AgentControl, str, str], Awaitable[StateChange]]


def _plain(change: Change) -> Handler:
    """The handler of a change that takes no body: logout, unpause, ready."""

    @require(*EVERYONE)
    async def handler(request: web.Request) -> web.Response:
        agent_id, desk = acting_for(request), request.app[DESK]
        with _refusals():
            await change(desk.control, agent_id, _by(request))
        return await _view(desk, agent_id)

    return handler


@require(Role.AGENT, Role.SUPERVISOR, Role.MANAGER)
async def post_disposition(request: web.Request) -> web.Response:
    call_id, body = request.match_info["call_id"], await json_object(request, empty_ok=True)
    code, note = _text(body, "code", required=True), _text(body, "note", required=False)
    desk, principal = request.app[DESK], request[PRINCIPAL]
    takers = await desk.recorder.takers(call_id)
    if not takers.agents:
        raise ApiError(404, f"no agent took call {call_id}", {"call_id": call_id})
    agent = principal.agent if principal.role is Role.AGENT else takers.agents[0]
    if agent not in takers.agents:
        raise ApiError(403, f"agent {agent} did not take call {call_id}", {"call_id": call_id})
    with _refusals():
        recorded = await desk.recorder.record(takers.call(call_id, agent), code, note, _by(request))
        status = await desk.control.status(agent)
    answer = {
        "call_id": call_id,
        "agent": agent,
        "code": code,
        "resolved": recorded.disposition.resolved,
        "note": note,
        "state": status.state.value,
    }
    return web.json_response(answer, status=201 if recorded.first else 200)


def add_agent_routes(app: web.Application, desk: Desk) -> None:
    app[DESK] = desk
    app.router.add_get("/api/agents/me", get_me)
    app.router.add_get("/api/agents", get_agents)
    app.router.add_post("/api/agents/{id}/login", post_login)
    app.router.add_post("/api/agents/{id}/pause", post_pause)
    app.router.add_post("/api/agents/{id}/logout", _plain(AgentControl.logout))
    app.router.add_post("/api/agents/{id}/unpause", _plain(AgentControl.unpause))
    app.router.add_post("/api/agents/{id}/ready", _plain(AgentControl.ready))
    app.router.add_post("/api/calls/{call_id}/disposition", post_disposition)
