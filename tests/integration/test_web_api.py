"""GET /api/kpi over real HTTP on loopback, with the store on SQLite: tokens, roles, errors, JSON."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cti.events import EventKind
from cti.settings import DatabaseSettings, KpiSettings, WebSettings, load_settings
from cti.store import insert_events, make_engine, schema
from cti.web import build_web_app
from cti.web.kpi import REPORTS
from tests.conftest import eventually
from tests.unit.kpi_events import answered_call, unanswered_call

PROJECT = Path(__file__).resolve().parents[2]
MANAGER = {"Authorization": "Bearer dev-manager-token"}
REQUIRED = (
    "offered",
    "answered",
    "abandoned",
    "answered_within_three_rings",
    "three_ring_rate",
    "service_level",
    "service_level_2",
    "asa_s",
    "abandon_rate",
    "aht_s",
    "one_minute_contact_rate",
    "definitions_version",
)


async def serve(database: Path, kpi: KpiSettings | None = None) -> TestClient:  # type: ignore[type-arg]
    url = f"sqlite+aiosqlite:///{database}"
    schema.upgrade(url)
    engine = make_engine(url)
    events = answered_call("a", 5) + answered_call("b", 16, queue="service")
    await insert_events(engine, events + unanswered_call("c", EventKind.ABANDONED, 30))
    await engine.dispose()
    base = load_settings(PROJECT / "config" / "cti.toml", {})
    settings = base.model_copy(
        update={
            "database": DatabaseSettings(url=url),
            "web": WebSettings(tokens_file=PROJECT / "config" / "web-tokens.dev"),
            "kpi": kpi or base.kpi,
        }
    )
    return TestClient(TestServer(build_web_app(settings), host="127.0.0.1"))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with await serve(tmp_path / "api.sqlite3") as test_client:
        yield test_client


async def test_the_report_as_json(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get(
        "/api/kpi", params={"from": "2026-11-01", "to": "2026-11-30", "by": "queue"}, headers=MANAGER
    )
    assert response.status == 200
    report = await response.json()
    for row in [report["overall"], *report["groups"]]:
        assert set(REQUIRED) <= set(row)
        assert all(
            row[k] is None or 0 <= row[k] <= 1
            for k in REQUIRED
            if k.endswith("rate") or k.startswith("service")
        )
    assert (report["overall"]["offered"], report["overall"]["answered"]) == (3, 2)
    assert report["overall"]["three_ring_rate"] == pytest.approx(1 / 3)
    assert [g["key"] for g in report["groups"]] == ["sales", "service"]


async def test_no_token_is_401_and_a_wrong_role_is_403(client: TestClient) -> None:  # type: ignore[type-arg]
    anonymous = await client.get("/api/kpi")
    assert anonymous.status == 401
    body = await anonymous.json()
    assert set(body) == {"error_id", "message", "details"}
    unknown = await client.get("/api/kpi", headers={"Authorization": "Bearer not-a-real-token"})
    assert unknown.status == 401
    agent = await client.get("/api/kpi", headers={"Authorization": "Bearer dev-agent-token"})
    assert agent.status == 403
    assert "agent role" in (await agent.json())["message"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "last tuesday"}, "not an ISO date"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "the period is empty"),
        ({"by": "year"}, "by must be one of"),
        ({"format": "pdf"}, "format must be one of ['json', 'html']"),
        ({"format": "html", "language": "fr"}, "language must be one of ['zh', 'en']"),
        ({"ring_cycle": "0"}, "ring_cycle must be positive"),
        ({"threshold": "soon"}, "threshold must be a number"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "a report covers at most 400"),
    ],
)
async def test_bad_parameters_are_400_with_what_and_where(
    client: TestClient, params: dict[str, str], says: str
) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/kpi", params=params, headers=MANAGER)
    assert response.status == 400
    assert says in (await response.json())["message"]


async def test_the_report_as_the_html_page_in_the_language_asked(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """What a wallboard's queue links to: the day's page, which runs no script."""
    params = {"from": "2026-11-01", "to": "2026-11-30", "queue": "sales", "format": "html", "language": "zh"}
    response = await client.get("/api/kpi", params=params, headers=MANAGER)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert '<html lang="zh-CN">' in page
    assert "sales" in page
    assert page.count("<script") == page.count('<script type="application/json"') == 1  # data, no code


async def test_a_report_without_a_start_covers_the_longest_period_allowed_and_says_so(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    response = await client.get("/api/kpi", params={"to": "2026-11-30"}, headers=MANAGER)
    assert response.status == 200
    report = await response.json()
    assert report["period"]["from"].startswith("2025-10-27")  # 400 days before 2026-12-01 00:00
    assert report["overall"]["offered"] == 3


async def test_reports_beyond_the_workers_and_the_waiting_line_are_refused_with_retry_after(
    tmp_path: Path,
) -> None:
    database = tmp_path / "busy.sqlite3"
    kpi = KpiSettings(report_workers=1, report_queue_max=0)
    async with await serve(database, kpi) as client:
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # the worker's read waits on it (SQLite's busy timeout)
        try:
            params = {"from": "2026-11-01", "to": "2026-11-30"}
            first = asyncio.create_task(client.get("/api/kpi", params=params, headers=MANAGER))
            # the first report is in its worker, waiting for the lock
            await eventually(lambda: client.app[REPORTS].pending, what="the first report under way")
            busy = await client.get("/api/kpi", params=params, headers=MANAGER)
            assert busy.status == 503
            assert busy.headers["Retry-After"] == "5"
            assert "try again shortly" in (await busy.json())["message"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert (await first).status == 200
        after = await client.get("/api/kpi", params=params, headers=MANAGER)
        assert after.status == 200
        scraped = await client.get("/metrics", headers={"Authorization": "Bearer dev-api-token"})
        metrics = await scraped.text()
        assert "cti_kpi_report_seconds_count 2.0" in metrics
