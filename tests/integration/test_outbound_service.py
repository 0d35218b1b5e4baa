"""The whole service dials a due lead: the dialer runs beside the ACD (``cti.app``), the call
tracker hands it the customer's leg, the agent's desktop pops the lead. Demo agents
(config/acd.demo.toml, ``[agent-sim]``), a ``[customer-sim]`` customer (config/cti.toml's
``[outbound] trunk``), the store a migrated database."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.app import run_service
from cti.ari import AriClient
from cti.desk.push import PushTopics
from cti.events import CallEvent, EventKind
from cti.live import connect_redis
from cti.outbound.campaign_checks import new_campaign
from cti.outbound.campaign_store import CampaignStore
from cti.outbound.campaigns import CampaignStatus, CenterLimits
from cti.settings import DatabaseSettings, OutboundSettings, RedisSettings
from cti.sim import Customer, customer_number
from cti.sim.drill import free_port
from cti.store import events_between, make_engine
from cti.store.models import LeadRow
from tests.conftest import eventually
from tests.integration.conftest import AsteriskStack, StartHotline
from tests.integration.hotline import FAST_SPEECH, until_serving

OPEN = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NUMBER = customer_number(Customer.ANSWERS, ring_s=1, stay_s=8, line=42)


async def add_lead(engine: AsyncEngine, number: str, campaign: str | None = None) -> str:
    lead_id = uuid.uuid4().hex
    async with engine.begin() as connection:
        now_us = int(time.time() * 1e6)
        await connection.execute(
            insert(LeadRow).values(
                lead_id=lead_id,
                source="insurer",
                phone_number=f"+86{number}",
                created_at_us=now_us,
                status="new",
                name="李女士",
                campaign=campaign,
                deadline_at_us=now_us + 60_000_000,
                data={},
                attempts=0,
            )
        )
    return lead_id


async def events_of_lead(engine: AsyncEngine, lead_id: str) -> list[CallEvent]:
    """The lead's calls' events, in order."""
    every = await events_between(engine, None, None)
    calls = {e.call_id for e in every if e.lead_id == lead_id}
    return sorted((e for e in every if e.call_id in calls), key=lambda e: e.at)


async def test_given_the_service_when_a_lead_is_due_then_an_agent_talks_to_the_customer_with_its_pop(
    start_hotline: StartHotline, migrated_database: str, redis_url: str
) -> None:
    hotline = await start_hotline(OPEN, database_url=migrated_database)
    engine = make_engine(migrated_database)
    try:
        lead_id = await add_lead(engine, NUMBER)

        async def lead_events() -> list[CallEvent]:
            return await events_of_lead(engine, lead_id)

        events = await eventually(
            lead_events,
            lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev),
            within_s=30,
            what=lambda ev: f"events so far: {[e.kind.value for e in ev]}",
        )
        answered = next(e for e in events if e.kind is EventKind.AGENT_ANSWERED)
        assert answered.lead_id == lead_id
        assert answered.caller_number == f"+86{NUMBER}"
        topics = PushTopics(connect_redis(redis_url), f"test:{hotline.app}:acd", 100)
        try:
            pops = await eventually(lambda: topics.open_pops(answered.agent or ""), what="the agent's pop")
        finally:
            await topics.redis.aclose()
        (pop,) = pops
        assert pop["call_id"] == answered.call_id
        assert pop["caller"]["number"] == f"+86{NUMBER}"
        assert pop["lead"]["lead_id"] == lead_id
        assert pop["lead"]["name"] == "李女士"
        done = await eventually(
            lead_events,
            lambda ev: any(e.kind is EventKind.DIAL_RESULT for e in ev),
            within_s=30,
            what=lambda ev: f"events so far: {[e.kind.value for e in ev]}",
        )
        assert [e.kind.value for e in done if e.kind is not EventKind.AGENT_STATE_CHANGED] == [
            "dial_started",
            "customer_answered",
            "agent_offered",
            "agent_answered",
            "completed",
            "dial_result",
        ]
    finally:
        await engine.dispose()


async def test_given_a_preview_when_the_agent_dials_it_then_that_agent_talks_to_the_customer(
    start_hotline: StartHotline, migrated_database: str
) -> None:
    hotline = await start_hotline(OPEN, database_url=migrated_database, auto_login=False)  # nobody ready
    engine = make_engine(migrated_database)
    api = {"Authorization": "Bearer dev-api-token"}
    try:
        limits = CenterLimits.of(OutboundSettings())
        fields = {
            "name": "survey",
            "title": "回访",
            "kind": "survey",
            "queue": "sales",
            "dial_mode": "preview",
        }
        store = CampaignStore(engine)
        await store.create(new_campaign(fields, limits), by="test")
        await store.set_status("survey", CampaignStatus.RUNNING, by="test")
        number = customer_number(Customer.ANSWERS, ring_s=1, stay_s=6, line=43)
        lead_id = await add_lead(engine, number, campaign="survey")
        async with aiohttp.ClientSession(hotline.web, headers=api) as http:
            async with http.post("/api/agents/1001/preview") as response:
                assert response.status == 200
                record = await response.json()
            assert (record["lead_id"], record["name"], record["source"]) == (lead_id, "李女士", "insurer")
            async with http.post(f"/api/agents/1001/preview/{lead_id}/dial") as response:
                assert response.status == 409  # not signed in, so not ready
            async with http.post("/api/agents/1001/login", json={}) as response:
                assert response.status == 200
            async with http.post("/api/agents/1001/preview") as response:
                assert (await response.json())["lead_id"] == lead_id  # the same preview, held
            async with http.post(f"/api/agents/1001/preview/{lead_id}/dial") as response:
                assert response.status == 202
                call_id = (await response.json())["call_id"]
            async with http.post(f"/api/agents/1001/preview/{lead_id}/dial") as response:
                assert response.status == 404  # dialled: no preview held any more
        events = await eventually(
            lambda: events_of_lead(engine, lead_id),
            lambda ev: any(e.kind is EventKind.DIAL_RESULT for e in ev),
            within_s=30,
            what=lambda ev: f"events so far: {[e.kind.value for e in ev]}",
        )
        answered = next(e for e in events if e.kind is EventKind.AGENT_ANSWERED)
        assert (answered.call_id, answered.agent) == (call_id, "1001")
        assert next(e for e in events if e.kind is EventKind.DIAL_RESULT).data["result"] == "answered"
    finally:
        await engine.dispose()


async def test_given_two_service_instances_when_leads_are_due_then_each_lead_is_dialled_once(
    asterisk: AsteriskStack, ari: AriClient, migrated_database: str, redis_url: str
) -> None:
    """Two instances (their own Stasis apps) on one store, one Redis, one pool of agents."""
    shared = f"test-{uuid.uuid4().hex[:8]}"
    services: list[asyncio.Task[None]] = []
    for name in ("a", "b"):
        app = f"{shared}-{name}"
        settings = asterisk.settings.model_copy(
            update={
                "ari": asterisk.settings.ari.model_copy(update={"app": app}),
                "redis": RedisSettings(url=redis_url, outbox_stream=f"test:{shared}:events"),
                "database": DatabaseSettings(url=migrated_database),
                "web": asterisk.settings.web.model_copy(update={"port": free_port(), "demo_users": False}),
                "sounds": FAST_SPEECH,
                # dials at any hour: the test runs at any time of day
                "outbound": asterisk.settings.outbound.model_copy(update={"calling_hours": "00:00-24:00"}),
                "acd": asterisk.settings.acd.model_copy(
                    update={"config_file": Path("config/acd.demo.toml"), "redis_prefix": f"test:{shared}:acd"}
                ),
            }
        )
        services.append(asyncio.create_task(run_service(settings, clock=lambda: OPEN)))
        await until_serving(ari, app, services[-1])
    engine = make_engine(migrated_database)
    try:
        numbers = [customer_number(Customer.ANSWERS, ring_s=1, stay_s=2, line=50 + i) for i in range(8)]
        leads = [await add_lead(engine, number) for number in numbers]

        async def dialled() -> list[CallEvent]:
            every = await events_between(engine, None, None)
            return [e for e in every if e.lead_id in leads and e.kind is EventKind.DIAL_STARTED]

        async def results() -> list[CallEvent]:
            every = await events_between(engine, None, None)
            return [e for e in every if e.lead_id in leads and e.kind is EventKind.DIAL_RESULT]

        ended = await eventually(results, lambda found: len(found) >= len(leads), within_s=120)
        assert sorted(e.lead_id or "" for e in ended) == sorted(leads)
        assert {e.data["result"] for e in ended} == {"answered"}
        assert sorted(e.lead_id or "" for e in await dialled()) == sorted(leads)  # once each
        instances = {e.call_id for e in await dialled()}
        assert len(instances) == len(leads)
    finally:
        await engine.dispose()
        for service in services:
            service.cancel()
        await asyncio.gather(*services, return_exceptions=True)
        redis = connect_redis(redis_url)
        keys = [key async for key in redis.scan_iter(f"test:{shared}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
