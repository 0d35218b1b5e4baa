"""POST /api/leads, GET /api/leads/{id} and GET /api/leads over real HTTP, on the real SQL
databases and Redis: a lead taken in is stored, recorded (``lead_created``) and in the hopper;
a retry is the same lead; every bad input is a 4xx naming the field."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert

from cti.events import EventKind, event_from_json
from cti.live import EventOutbox, connect_redis
from cti.outbound.hopper import Hopper
from cti.outbound.intake import LeadIntake
from cti.outbound.lead_store import LeadStore
from cti.outbound.leads import LeadRules
from cti.outbound.numbers import NumberPolicy
from cti.settings import DatabaseSettings, WebSettings, load_settings
from cti.store import make_engine
from cti.store.models import CampaignRow
from cti.web import build_web_app

PROJECT = Path(__file__).resolve().parents[2]
AGENT = {"Authorization": "Bearer dev-agent-token"}
MANAGER = {"Authorization": "Bearer dev-manager-token"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
API = {"Authorization": "Bearer dev-api-token"}
LEAD = {"phone": "13800000001", "name": "王芳", "source": "insurer", "vehicle": {"plate": "沪A12345"}}
Client = TestClient  # type: ignore[type-arg]


@dataclass
class Site:
    client: Client
    intake: LeadIntake

    async def call(
        self, method: str, path: str, headers: dict[str, str], key: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        sent = headers | ({"Idempotency-Key": key} if key is not None else {})
        response = await self.client.request(method, path, headers=sent, **kwargs)
        return response.status, await response.json()


@pytest.fixture
async def site(migrated_database: str, redis_url: str) -> AsyncIterator[Site]:
    prefix = f"test:leads:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    engine = make_engine(migrated_database)
    rules = LeadRules(NumberPolicy(), 60.0, ZoneInfo("Asia/Shanghai"))
    intake = LeadIntake(
        LeadStore(engine), Hopper(redis, f"{prefix}:hopper"), EventOutbox(redis, f"{prefix}:events"), rules
    )
    settings = load_settings(PROJECT / "config" / "cti.toml", {}).model_copy(
        update={
            "database": DatabaseSettings(url=migrated_database),
            "web": WebSettings(tokens_file=PROJECT / "config" / "web-tokens.dev"),
        }
    )
    async with TestClient(TestServer(build_web_app(settings, leads=intake), host="127.0.0.1")) as client:
        yield Site(client, intake)
    await engine.dispose()
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_a_lead_is_taken_in_recorded_and_put_in_the_hopper(site: Site) -> None:
    status, said = await site.call("POST", "/api/leads", API, key="case-1", json=LEAD)
    assert status == 201
    assert said["status"] == "new"
    lead_id = said["lead_id"]
    entries = await site.intake.outbox.redis.xrange(site.intake.outbox.stream)
    (event,) = [event_from_json(fields["e"]) for _, fields in entries]
    assert (event.kind, event.lead_id, event.caller_number) == (
        EventKind.LEAD_CREATED,
        lead_id,
        "+8613800000001",
    )
    assert dict(event.data) == {"source": "insurer", "deadline_s": 60.0}
    assert await site.intake.hopper.holds(lead_id)
    status, lead = await site.call("GET", f"/api/leads/{lead_id}", API)
    assert status == 200
    assert (lead["phone"], lead["name"], lead["vehicle"], lead["deadline"]) == (
        "+8613800000001",
        "王芳",
        {"plate": "沪A12345"},
        said["deadline"],
    )


async def test_a_retried_post_is_the_same_lead_and_concurrent_ones_make_one(site: Site) -> None:
    answers = await asyncio.gather(
        *(site.call("POST", "/api/leads", MANAGER, key="case-2", json=LEAD) for _ in range(6))
    )
    assert sorted(status for status, _ in answers) == [200] * 5 + [201]
    assert len({said["lead_id"] for _, said in answers}) == 1
    status, again = await site.call("POST", "/api/leads", API, json={**LEAD, "idempotency_key": "case-2"})
    assert (status, again) == (200, answers[0][1])
    entries = await site.intake.outbox.redis.xrange(site.intake.outbox.stream)
    assert len({event_from_json(fields["e"]).event_id for _, fields in entries}) == 1  # stored once


async def test_the_same_key_with_another_lead_is_a_conflict(site: Site) -> None:
    await site.call("POST", "/api/leads", API, key="case-3", json=LEAD)
    status, said = await site.call(
        "POST", "/api/leads", API, key="case-3", json={**LEAD, "phone": "13800000002"}
    )
    assert status == 409
    assert "different fields" in said["message"]
    assert said["details"] == {"field": "idempotency_key"}


@pytest.mark.parametrize(
    ("body", "key", "field"),
    [
        (LEAD, None, "idempotency_key"),
        ({**LEAD, "phone": None}, "k", "phone"),
        ({**LEAD, "source": "ivr_callback"}, "k", "source"),
        ({**LEAD, "vehicle": {"vin": "x"}}, "k", "vehicle.vin"),
        ({**LEAD, "due_on": "31/12/2026"}, "k", "due_on"),
        ({**LEAD, "colour": "red"}, "k", "colour"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(
    site: Site, body: dict[str, Any], key: str | None, field: str
) -> None:
    status, said = await site.call("POST", "/api/leads", API, key=key, json=body)
    assert status == 400
    assert field in said["details"]["fields"]
    assert field in said["message"]


async def test_a_number_the_rules_refuse_is_a_422_naming_the_rule(site: Site) -> None:
    status, said = await site.call("POST", "/api/leads", API, key="k", json={**LEAD, "phone": "110"})
    assert status == 422
    assert said["details"]["field"] == "phone"
    assert said["details"]["rule"] == "emergency"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "", "null"])
async def test_a_body_that_is_no_json_object_is_a_400(site: Site, body: str) -> None:
    status, said = await site.call("POST", "/api/leads", API, key="k", data=body)
    assert status == 400
    assert "body" in said["message"]


async def test_who_may_do_what(site: Site) -> None:
    assert (await site.call("POST", "/api/leads", AGENT, key="k", json=LEAD))[0] == 403
    assert (await site.call("POST", "/api/leads", SUPERVISOR, key="k", json=LEAD))[0] == 403
    assert (await site.call("POST", "/api/leads", {}, key="k", json=LEAD))[0] == 401
    assert (await site.call("GET", "/api/leads", API))[0] == 403
    assert (await site.call("GET", "/api/leads/x", AGENT))[0] == 403


async def add_campaign(site: Site, name: str) -> None:
    async with site.intake.store.engine.begin() as connection:
        await connection.execute(
            insert(CampaignRow).values(
                name=name,
                title=name,
                kind="leads",
                queue="sales",
                dial_mode="progressive",
                status="running",
                settings={},
                created_at_us=0,
                updated_at_us=0,
            )
        )


async def test_a_lead_of_a_campaign_that_does_not_exist_is_a_400(site: Site) -> None:
    status, said = await site.call("POST", "/api/leads", API, key="k", json={**LEAD, "campaign": "nope"})
    assert (status, said["details"]) == (400, {"fields": {"campaign": "no campaign 'nope'"}})


async def test_the_list_of_leads_by_status_and_campaign(site: Site) -> None:
    await add_campaign(site, "renewals")
    _, first = await site.call("POST", "/api/leads", API, key="a", json={**LEAD, "campaign": "renewals"})
    _, second = await site.call("POST", "/api/leads", API, key="b", json={**LEAD, "phone": "13800000002"})
    status, listed = await site.call("GET", "/api/leads?status=new&limit=10", SUPERVISOR)
    assert status == 200
    assert {lead["lead_id"] for lead in listed["leads"]} == {first["lead_id"], second["lead_id"]}
    _, listed = await site.call("GET", "/api/leads?campaign=renewals", MANAGER)
    assert [lead["lead_id"] for lead in listed["leads"]] == [first["lead_id"]]
    _, listed = await site.call("GET", "/api/leads?status=contacted", MANAGER)
    assert listed["leads"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("limit=501", "limit"),
        ("sort=name", "sort"),
    ],
)
async def test_a_bad_list_parameter_is_a_400_naming_it(site: Site, query: str, parameter: str) -> None:
    status, said = await site.call("GET", f"/api/leads?{query}", MANAGER)
    assert (status, said["details"]) == (400, {"parameter": parameter})


async def test_an_unknown_lead_is_a_404(site: Site) -> None:
    assert (await site.call("GET", "/api/leads/nope", API))[0] == 404
    assert (await site.call("GET", f"/api/leads/{'x' * 65}", API))[0] == 400


async def test_a_lead_whose_event_redis_did_not_take_is_a_503_and_its_retry_completes_it(site: Site) -> None:
    working = site.intake.outbox
    away = connect_redis("redis://127.0.0.1:1")  # nothing listens there: Redis is away
    site.intake.outbox = EventOutbox(away, working.stream)
    try:
        status, said = await site.call("POST", "/api/leads", API, key="case-9", json=LEAD)
    finally:
        site.intake.outbox = working
        await away.aclose()
    assert status == 503  # not acknowledged: the sender retries with the same key
    status, again = await site.call("POST", "/api/leads", API, key="case-9", json=LEAD)
    assert status == 200  # the lead was stored the first time; its event is recorded now
    entries = await working.redis.xrange(working.stream)
    (event,) = [event_from_json(fields["e"]) for _, fields in entries]
    assert (event.kind, event.lead_id) == (EventKind.LEAD_CREATED, again["lead_id"])
    assert await site.intake.hopper.holds(again["lead_id"])
    assert "not recorded" in said["message"]
