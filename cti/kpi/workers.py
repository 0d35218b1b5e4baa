"""KPI reports off the call-handling event loop: worker processes, a concurrency limit, a queue cap.

A month's report is a few seconds of pure CPU over a million facts (``bench/kpi_report.py``).
Run on the service's event loop, ten of them would hold up DTMF, ringing and the ARI
websocket's heartbeat for a minute; in a thread they would still share the GIL with the loop.
So the HTTP API hands each report to a pool of worker processes (``spawn``: a clean
interpreter, no inherited sockets or event loop), at most ``workers`` at a time, with at most
``queue_max`` more waiting; beyond that a request is answered at once with ``ReportsBusy``
(HTTP 503 with Retry-After) rather than piling up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from zoneinfo import ZoneInfo

from cti.errors import CtiError
from cti.kpi.definitions import KpiConfig
from cti.kpi.report import Period
from cti.kpi.service import kpi_report
from cti.loop_process import exit_with_parent


class ReportsBusy(CtiError):
    """Every report worker is busy and the waiting line is full: ask again shortly."""


Report = tuple[dict[str, Any], list[dict[str, Any]]]  # the report, and its per-agent rows for a page


def _report_in_worker(
    database_url: str, cfg: KpiConfig, period: Period, queue: str | None, by: str | None, tz: str, page: bool
) -> Report:
    """One report, in a worker process, with its own event loop and database engine."""
    return asyncio.run(
        kpi_report(database_url, cfg, period=period, queue=queue, by=by, tz=ZoneInfo(tz), for_page=page)
    )


class ReportWorkers:
    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        queue_max: int = 8,
        observe: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.queue_max = queue_max
        self.observe = observe  # each report's duration (the /metrics histogram)
        self._slots = asyncio.Semaphore(workers)
        self._pending = 0
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    @property
    def pending(self) -> int:
        """Reports running or waiting for a worker now."""
        return self._pending

    async def report(
        self,
        cfg: KpiConfig,
        *,
        period: Period,
        queue: str | None,
        by: str | None,
        tz: ZoneInfo,
        for_page: bool = False,
    ) -> Report:
        """The report (with its per-agent rows when ``for_page``: the HTML page shows them),
        computed in a worker; ``ReportsBusy`` if too many are under way."""
        if self._pending >= self.workers + self.queue_max:
            raise ReportsBusy(f"{self._pending} KPI reports are under way or waiting; try again shortly")
        self._pending += 1
        try:
            async with self._slots:
                started = time.monotonic()
                loop = asyncio.get_running_loop()
                try:
                    report = await loop.run_in_executor(
                        self._pool,
                        _report_in_worker,
                        self.database_url,
                        cfg,
                        period,
                        queue,
                        by,
                        tz.key,
                        for_page,
                    )
                except BrokenProcessPool:  # a worker died (OOM killer): the next report gets a new pool
                    broken, self._pool = self._pool, self._new_pool()
                    broken.shutdown(wait=False, cancel_futures=True)
                    raise
                self.observe(time.monotonic() - started)
                return report
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the workers; a report under way is abandoned (its request is gone with the server)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
