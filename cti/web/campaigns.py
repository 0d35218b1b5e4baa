"""Campaigns for campaign managers: ``GET``/``POST /api/campaigns``, ``GET
/api/campaigns/{name}`` (with its progress), ``POST /api/campaigns/{name}/start|pause|stop``
and ``POST /api/campaigns/{name}/lists`` (a CSV or XLSX call list uploaded as multipart, with
its column mapping, ``dry_run`` and ``strict``; the answer is the import's report by line).

Managers run campaigns; supervisors may read them. The rules are ``cti.outbound``'s, the same as
``cti campaign``'s: the handlers only read the request and say what the store answered.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, web

from cti.acd import load_acd_config
from cti.desk.dispositions import load_dispositions
from cti.outbound.call_lists import ListRefused, parse_mapping, read_list
from cti.outbound.campaign_checks import CampaignInvalid, new_campaign
from cti.outbound.campaign_store import CampaignExists, CampaignNotFound, CampaignStore
from cti.outbound.campaigns import CampaignStatus, CenterLimits, StatusRefused
from cti.outbound.list_import import ImportRaced, ListImport, import_list
from cti.outbound.numbers import NumberPolicy
from cti.web.auth import Role
from cti.web.kpi import ENGINE, SETTINGS
from cti.web.principal import PRINCIPAL, require
from cti.web.problems import ApiError, json_object

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a call list of MAX_LINES lines in XLSX is a few MB
_VERBS = {"start": CampaignStatus.RUNNING, "pause": CampaignStatus.PAUSED, "stop": CampaignStatus.STOPPED}
_FLAGS = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False, "": False}


@functools.cache
def _right_party_codes(path: Path) -> frozenset[str]:
    """The center's right-party disposition codes (read once: they change with a restart)."""
    return load_dispositions(path).right_party_codes


def _store(request: web.Request) -> CampaignStore:
    settings = request.app[SETTINGS]
    return CampaignStore(
        request.app[ENGINE],
        right_party_codes=_right_party_codes(settings.acd.dispositions_file),
        tz=ZoneInfo(settings.kpi.timezone),
    )


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def _with_progress(store: CampaignStore, name: str) -> dict[str, Any]:
    try:
        campaign = await store.require(name)
    except CampaignNotFound as exc:
        raise ApiError(404, str(exc)) from exc
    return {**campaign.to_json(), "progress": (await store.progress(name)).to_json()}


@require(Role.MANAGER, Role.SUPERVISOR)
async def list_campaigns(request: web.Request) -> web.Response:
    store = _store(request)
    campaigns = [await _with_progress(store, c.name) for c in await store.all()]
    return web.json_response({"campaigns": campaigns})


@require(Role.MANAGER, Role.SUPERVISOR)
async def get_campaign(request: web.Request) -> web.Response:
    return web.json_response(await _with_progress(_store(request), _name(request)))


@require(Role.MANAGER)
async def post_campaign(request: web.Request) -> web.Response:
    body = await json_object(request, shape="a JSON object: name, title, kind, queue, dial_mode, settings")
    settings = request.app[SETTINGS]
    queues = {queue.name for queue in load_acd_config(settings.acd.config_file).queues}
    try:
        campaign = new_campaign(body, CenterLimits.of(settings.outbound), queues)
        await _store(request).create(campaign, request[PRINCIPAL].user)
    except CampaignInvalid as exc:
        raise ApiError(400, str(exc), {"fields": exc.problems}) from exc
    except CampaignExists as exc:
        raise ApiError(409, str(exc)) from exc
    return web.json_response(campaign.to_json(), status=201)


@require(Role.MANAGER)
async def post_status(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]
    if verb not in _VERBS:
        raise ApiError(404, f"no such command {verb!r}: start, pause or stop")
    store = _store(request)
    try:
        await store.set_status(_name(request), _VERBS[verb], request[PRINCIPAL].user)
    except CampaignNotFound as exc:
        raise ApiError(404, str(exc)) from exc
    except StatusRefused as exc:
        raise ApiError(409, str(exc)) from exc
    return web.json_response(await _with_progress(store, _name(request)))


async def _upload(request: web.Request) -> tuple[str, bytes, dict[str, list[str]]]:
    """The uploaded file (its name and content) and the form's other fields."""
    try:
        reader = await request.multipart()
    except (AssertionError, KeyError, ValueError) as exc:  # aiohttp asserts a multipart content type
        raise ApiError(400, "upload the list as multipart/form-data: a file field and the options") from exc
    upload: tuple[str, bytes] | None = None
    fields: dict[str, list[str]] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, "a nested multipart body is not a call list")
        if part.filename is not None:
            upload = (Path(part.filename).name, await _file(part))
        else:
            fields.setdefault(part.name or "", []).append(await part.text())
    if upload is None:
        raise ApiError(400, "no file: send the call list (CSV or XLSX) in a file field")
    return upload[0], upload[1], fields


async def _file(part: BodyPartReader) -> bytes:
    """The file's content, read in chunks so an oversized upload is cut off, not held."""
    data = bytearray()
    while chunk := await part.read_chunk():
        data.extend(chunk)
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, f"the file is over {MAX_UPLOAD_BYTES // 1024 // 1024} MB: split the list")
    return bytes(data)


def _flag(fields: dict[str, list[str]], name: str) -> bool:
    text = (fields.get(name) or [""])[-1].strip().lower()
    if text not in _FLAGS:
        raise ApiError(400, f"{name}: {text!r} is not true or false", {"field": name})
    return _FLAGS[text]


@require(Role.MANAGER)
async def post_list(request: web.Request) -> web.Response:
    name, data, fields = await _upload(request)
    settings = request.app[SETTINGS]
    outbound = settings.outbound
    how = ListImport(
        NumberPolicy.of(outbound.region, outbound.allowed_regions, outbound.allowed_types),
        ZoneInfo(settings.kpi.timezone),
        request[PRINCIPAL].user,
        dry_run=_flag(fields, "dry_run"),
        strict=_flag(fields, "strict"),
    )
    try:
        mapping = parse_mapping([m for m in fields.get("map", []) if m.strip()])
        calls = await asyncio.to_thread(read_list, name, data, mapping)  # CPU: off the call-handling loop
        report = await import_list(request.app[ENGINE], _name(request), calls, how, datetime.now(UTC))
    except ListRefused as exc:
        raise ApiError(400, str(exc)) from exc
    except CampaignNotFound as exc:
        raise ApiError(404, str(exc)) from exc
    except (StatusRefused, ImportRaced) as exc:
        raise ApiError(409, str(exc)) from exc
    return web.json_response(report.to_json(), status=201 if report.stored else 200)


def add_campaign_routes(app: web.Application) -> None:
    app.router.add_get("/api/campaigns", list_campaigns)
    app.router.add_post("/api/campaigns", post_campaign)
    app.router.add_get("/api/campaigns/{name}", get_campaign)
    app.router.add_post("/api/campaigns/{name}/lists", post_list)
    app.router.add_post("/api/campaigns/{name}/{verb}", post_status)
