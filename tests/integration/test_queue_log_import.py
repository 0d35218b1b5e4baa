"""Importing a queue_log written by the real app_queue on the test Asterisk, and its KPIs."""

import asyncio
import math
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cti.ari import AriClient
from cti.kpi import KpiConfig, Period
from cti.kpi.service import import_queue_log, kpi_report
from cti.sim import place_simulated_call, set_agent_timing
from cti.store import schema
from tests.conftest import eventually
from tests.integration.conftest import AsteriskStack

UTC = ZoneInfo("UTC")


async def wait_for_lines(path: Path, needles: list[str], within_s: float = 30) -> list[str]:
    async def lines() -> list[str]:
        return (await asyncio.to_thread(path.read_text)).splitlines()

    return await eventually(
        lines,
        lambda logged: all(any(n in line for line in logged) for n in needles),
        within_s=within_s,
        every_s=0.2,
        what=lambda _: f"app_queue logging {needles}",
    )


async def test_kpis_from_a_queue_log_that_app_queue_wrote(
    asterisk: AsteriskStack, ari: AriClient, tmp_path: Path
) -> None:
    queue_log = asterisk.root / "var/log/asterisk/queue_log"
    started = math.floor(time.time())
    await set_agent_timing(ari, "1101", ring_s=2, talk_s=2)
    await set_agent_timing(ari, "1102", ring_s=2, talk_s=2)

    answered = await place_simulated_call(ari, context="queue-sim", extension="sim", delay_s=0, hold_s=20)
    await wait_for_lines(queue_log, [f"|{answered.id}|sim|Agent 1101|COMPLETEAGENT|"])
    # The caller gives up after about a second, while agent 1101 is still ringing.
    abandoned = await place_simulated_call(ari, context="queue-sim", extension="sim", delay_s=0.5, hold_s=0.5)
    lines = await wait_for_lines(queue_log, [f"|{abandoned.id}|sim|NONE|ABANDON|"])
    ours = [line for line in lines if answered.id in line or abandoned.id in line]
    assert [line.split("|")[4] for line in ours if answered.id in line][:3] == [
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETEAGENT",
    ]

    url = f"sqlite+aiosqlite:///{tmp_path / 'kpi.sqlite3'}"
    schema.upgrade(url)
    parsed, stored = await import_queue_log(url, queue_log)
    assert parsed.problems == []
    assert stored == len({e.event_id for e in parsed.events})
    _, again = await import_queue_log(url, queue_log)
    assert again == 0  # importing the same file twice changes nothing

    period = Period(start=datetime.fromtimestamp(started, UTC))  # earlier runs' calls are in the file too
    report, _ = await kpi_report(url, KpiConfig(), period=period, queue="sim", by=None, tz=UTC)
    overall = report["overall"]
    assert (overall["offered"], overall["answered"], overall["abandoned"]) == (2, 1, 1)
    assert overall["answered_within_three_rings"] == 1  # the agent rang 2 s
    assert overall["three_ring_rate"] == 0.5
    assert overall["service_level"] == 1.0
    assert overall["abandon_rate"] == 0.5
    assert overall["asa_s"] >= 1.5  # the agent rang 2 s (app_queue logs whole seconds)
    assert overall["agent_offers"] == 2  # 1101 answered the first, the second rang until the caller left
    assert overall["agent_three_ring_rate"] == 0.5
    assert overall["handled"] == 1
