"""The service as its own ``cti run`` processes on the real stack, for the drills that kill,
stop or duplicate it (kill -9, SIGTERM, a second instance, the sweeper). The fixtures are
conftest's (imported there)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from cti.ari import AriClient, EventStream
from cti.sim.drill import STRAIGHT_TO_SALES_FLOW, free_port
from tests.conftest import eventually
from tests.integration.hotline import Hotline

if TYPE_CHECKING:
    from tests.integration.conftest import OpenEventLog

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def straight_flows(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hotline.yaml").write_text(STRAIGHT_TO_SALES_FLOW)
    return flows


@dataclass
class ServiceProcesses:
    """``cti run`` processes on one app name; every one still running is killed at the end."""

    env: dict[str, str]
    log_dir: Path
    started: list[subprocess.Popen[bytes]]

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"service-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("cti")), "run"],
            cwd=PROJECT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.started.append(process)
        return process

    def log(self, index: int) -> str:
        return (self.log_dir / f"service-{index}.log").read_text(errors="replace")


@pytest.fixture
def service_processes(
    app_name: str, redis_url: str, straight_flows: Path, tmp_path: Path
) -> Iterator[ServiceProcesses]:
    env = {
        **os.environ,
        "CTI_CONFIG": str(PROJECT / "config" / "cti.toml"),
        "CTI_ARI_APP": app_name,
        "CTI_REDIS_URL": redis_url,
        "CTI_REDIS_OUTBOX_STREAM": f"test:{app_name}:events",
        "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}",
        "CTI_IVR_FLOWS_DIR": str(straight_flows),
        "CTI_ACD_REDIS_PREFIX": f"test:{app_name}:acd",
        "CTI_WEB_PORT": str(free_port()),
        "CTI_WEB_DEMO_USERS": "false",  # each costs an argon2 hash; tests that sign in make their own
        "CTI_OUTBOUND_CALLING_HOURS": "00:00-24:00",  # the tests run at any time of day
    }
    processes = ServiceProcesses(env, tmp_path, [])
    try:
        yield processes
    finally:
        for process in processes.started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(f"test:{app_name}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
async def hotline_of(
    service_processes: ServiceProcesses, ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> Hotline:
    """The ``Hotline`` helpers for the service processes' app and store; the callers' far
    halves wait in the driver app, which the test's own event stream holds open."""
    driver = f"{app_name}-driver"
    await open_event_log(EventStream(ari, driver))
    return Hotline(ari, app_name, driver, service_processes.env["CTI_DATABASE_URL"])


async def until_resynced(processes: ServiceProcesses, index: int) -> None:
    """Wait until service ``index`` has connected and reconciled (it logs ``resynced``)."""

    def resynced() -> bool:
        if processes.started[index].poll() is not None:
            raise AssertionError(f"service {index} stopped:\n{processes.log(index)[-3000:]}")
        return "resynced" in processes.log(index)

    await eventually(
        resynced,
        every_s=0.05,
        what=lambda _: f"service {index} resyncing:\n{processes.log(index)[-3000:]}",
    )
