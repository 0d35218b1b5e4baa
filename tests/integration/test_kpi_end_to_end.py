"""KPIs from real calls: simulated agents ringing 2 s, 9 s and 16 s, and callers giving up.

The scenario implies the numbers: of 5 callers offered to the queue, 3 are answered after
about 2, 9 and 16 s and 2 hang up after 4 s of waiting. With the default 5 s ring cycle, two
are answered within three rings (< 15 s): 40%; all answers are within a 20 s service level.
"""

import asyncio
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cti.acd import QueueConfig, Strategy
from cti.events import EventKind
from cti.kpi import KpiConfig, Period
from cti.kpi.service import kpi_report
from cti.live import OutboxDrainer
from cti.sim import set_agent_timing
from cti.store import make_engine, schema
from tests.integration.conftest import Acd, MakeAcd

RINGS = {"1201": 2, "1202": 9, "1203": 16}


async def run_scenario(acd: Acd) -> None:
    for agent_id, ring_s in RINGS.items():
        await set_agent_timing(acd.ari, agent_id, ring_s=ring_s, talk_s=30)
    for hold_s in (12, 14, 19):  # each waits for its agent, then talks a little
        await acd.call(hold_s=hold_s)
        await asyncio.sleep(0.3)  # linear: 1201, 1202, 1203 in turn
    for _ in range(2):
        await acd.call(hold_s=4)  # every agent is busy: these give up
    await acd.wait_for(
        lambda ev: (
            sum(e.kind is EventKind.COMPLETED for e in ev) == 3
            and sum(e.kind is EventKind.ABANDONED for e in ev) == 2
        ),
        within_s=40,
    )


@pytest.fixture
async def scenario_store(make_acd: MakeAcd, tmp_path: Path) -> tuple[str, Period]:
    started = math.floor(time.time())
    acd = await make_acd(
        (QueueConfig(name="sales", strategy=Strategy.LINEAR, ring_timeout_s=20, wrapup_s=1),)
    )
    await run_scenario(acd)
    url = f"sqlite+aiosqlite:///{tmp_path / 'kpi.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    drainer = OutboxDrainer(acd.outbox.redis, engine, "kpi-test", stream=acd.outbox.stream, block_ms=10)
    while await drainer.drain_once():
        pass
    await engine.dispose()
    return url, Period(start=datetime.fromtimestamp(started, UTC))


async def test_three_ring_rate_and_service_level_match_the_scenario(
    scenario_store: tuple[str, Period],
) -> None:
    url, period = scenario_store
    report, _ = await kpi_report(url, KpiConfig(), period=period, queue="sales", by="agent", tz=UTC)
    overall = report["overall"]
    assert (overall["offered"], overall["answered"], overall["abandoned"]) == (5, 3, 2)
    assert overall["answered_within_three_rings"] == 2
    assert overall["three_ring_rate"] == 0.4
    assert overall["service_level"] == 1.0  # 16 s <= T = 20 s
    assert overall["service_level_2"] == 1.0  # the abandons, too, were within 20 s
    assert overall["abandon_rate"] == 0.4
    assert overall["agent_three_ring_rate"] == pytest.approx(2 / 3)  # 1203 rang 16 s
    assert 8 <= overall["asa_s"] <= 11  # (2 + 9 + 16) / 3 = 9, plus dial set-up
    per_agent = {g["key"]: g for g in report["groups"]}
    assert per_agent["1203"]["agent_three_ring_rate"] == 0.0
    assert per_agent["1201"]["agent_three_ring_rate"] == 1.0

    stricter, _ = await kpi_report(
        url, KpiConfig(threshold_s=10), period=period, queue="sales", by=None, tz=UTC
    )
    assert stricter["overall"]["service_level"] == pytest.approx(2 / 3)
    us_rings, _ = await kpi_report(
        url, KpiConfig(ring_cycle_s=6), period=period, queue="sales", by=None, tz=UTC
    )
    assert us_rings["overall"]["three_ring_rate"] == 0.6  # 18 s: the 16 s answer is in
