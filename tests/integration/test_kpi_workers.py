"""The KPI report workers leave with the service, even one killed outright (SIGKILL)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cti.store import schema

PROJECT = str(Path(__file__).resolve().parents[2])
SERVICE = """
import asyncio, multiprocessing, sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo
from cti.kpi.definitions import KpiConfig
from cti.kpi.report import Period
from cti.kpi.workers import ReportWorkers

async def main() -> None:
    workers = ReportWorkers(sys.argv[1], workers=2)
    period = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    await workers.report(KpiConfig(), period=period, queue=None, by=None, tz=ZoneInfo("UTC"))
    print(*(child.pid for child in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_service_leaves_no_report_worker_behind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    schema.upgrade(url)
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, url], cwd=PROJECT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert workers
        assert all(alive(pid) for pid in workers)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:  # leave nothing behind, even when failing
        os.kill(pid, signal.SIGKILL)
    assert left == []
