"""Published reports: `cti kpi publish` writes one page per period (again: the same names, nothing
lost), the web app lists and serves them to managers and supervisors, and a person sees the month
in a real browser (headless Chromium through Playwright, Debian's chromium: no browser download).

The screenshot in the README is this test's: ``CTI_SCREENSHOT_DIR=docs`` keeps it there.
"""

import os
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from cti.cli import cli
from cti.kpi.definitions import KpiConfig
from cti.kpi.service import publish_reports
from cti.kpi.targets import Targets
from cti.settings import KpiSettings
from cti.store import insert_events, make_engine, schema
from tests.integration.test_web_api import serve
from tests.kpi_month import TZ, Month

PROJECT = Path(__file__).resolve().parents[2]
MANAGER = {"Authorization": "Bearer dev-manager-token"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
AGENT = {"Authorization": "Bearer dev-agent-token"}
DECEMBER_5 = date(2026, 12, 5)


@pytest.fixture
async def month_store(tmp_path: Path) -> str:
    """A SQLite store holding November 2026 (``tests.kpi_month``), stored the service's way."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'month.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    events = Month().events
    for start in range(0, len(events), 5000):
        await insert_events(engine, events[start : start + 5000])
    await engine.dispose()
    return url


async def publish(url: str, directory: Path, every: str, count: int = 1, language: str = "en") -> list[Path]:
    return await publish_reports(
        url,
        KpiConfig(),
        every=every,
        directory=directory,
        today=DECEMBER_5,
        count=count,
        tz=TZ,
        language=language,
        targets=Targets(),
    )


async def test_given_published_reports_when_published_again_then_same_names_and_nothing_lost(
    month_store: str, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    months = await publish(month_store, out, "month", count=2)
    assert [p.relative_to(out).as_posix() for p in months] == ["month/2026-10.html", "month/2026-11.html"]
    weeks = await publish(month_store, out, "week", count=2)
    assert [p.name for p in weeks] == ["2026-W47.html", "2026-W48.html"]  # 5 December is in W49
    days = await publish(month_store, out, "day", count=5)
    assert [p.name for p in days][-1] == "2026-12-04.html"
    first = (out / "month/2026-11.html").read_text()
    again = await publish(month_store, out, "month")
    assert again == [out / "month/2026-11.html"]
    assert (out / "month/2026-11.html").read_text() == first  # the same page, rewritten
    assert (out / "month/2026-10.html").is_file()  # the other periods' pages stay
    assert sorted(p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")) == []
    assert "Monthly KPI report 2026-11" in first
    assert "no data" in (out / "month/2026-10.html").read_text()  # October: nothing stored


def test_the_cli_publishes_into_the_directory_given(month_store: str, tmp_path: Path) -> None:
    out = tmp_path / "cli-reports"
    env = {"CTI_DATABASE_URL": month_store, "CTI_CONFIG": str(PROJECT / "config" / "cti.toml")}
    args = ["kpi", "publish", "--every", "month", "--today", "2026-12-05", "--language", "zh", str(out)]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out / 'month' / '2026-11.html'}"
    assert "KPI 月报 2026-11" in (out / "month" / "2026-11.html").read_text()


@pytest.fixture
async def reports_app(month_store: str, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """The web app of the API tests (``test_web_api.serve``) serving what was published of November."""
    directory = tmp_path / "published"
    await publish(month_store, directory, "month")
    await publish(month_store, directory, "day", count=2)
    async with await serve(tmp_path / "month.sqlite3", KpiSettings(publish_dir=directory)) as client:
        yield client


async def test_managers_list_the_published_reports(reports_app: TestClient) -> None:  # type: ignore[type-arg]
    response = await reports_app.get("/reports", headers=MANAGER)
    assert response.status == 200
    listed = (await response.json())["reports"]
    assert [(r["every"], r["name"], r["url"]) for r in listed] == [
        ("day", "2026-12-04", "/reports/day/2026-12-04"),
        ("day", "2026-12-03", "/reports/day/2026-12-03"),
        ("month", "2026-11", "/reports/month/2026-11"),
    ]
    assert (listed[2]["first_day"], listed[2]["last_day"]) == ("2026-11-01", "2026-11-30")


async def test_supervisors_open_a_report_that_runs_no_script(reports_app: TestClient) -> None:  # type: ignore[type-arg]
    response = await reports_app.get("/reports/month/2026-11", headers=SUPERVISOR)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Monthly KPI report 2026-11" in await response.text()


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/reports", {}, 401),
        ("/reports", AGENT, 403),
        ("/reports/month/2026-11", AGENT, 403),
        ("/reports/month/2026-09", MANAGER, 404),  # never published
        ("/reports/year/2026", MANAGER, 404),
        ("/reports/month/..%2F..%2Fmonth.sqlite3", MANAGER, 404),
        ("/reports/month/2026-11.html", MANAGER, 404),
    ],
)
async def test_what_is_not_a_published_report_for_you_is_refused(
    reports_app: TestClient,  # type: ignore[type-arg]
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    response = await reports_app.get(path, headers=headers)
    assert response.status == status
    assert set(await response.json()) == {"error_id", "message", "details"}


async def test_a_manager_sees_the_month_in_a_browser(
    reports_app: TestClient,  # type: ignore[type-arg]
    chromium: str,
    tmp_path: Path,
) -> None:
    """Headless Chromium opens the served November report as a manager; the page renders its
    headlines and heat map with no script error; the screenshot is what the README shows."""
    from playwright.async_api import async_playwright

    shot = Path(os.environ.get("CTI_SCREENSHOT_DIR", tmp_path)) / "kpi-month-report.png"
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1120, "height": 900}, extra_http_headers=MANAGER)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            response = await page.goto(str(reports_app.make_url("/reports/month/2026-11")))
            assert response is not None
            assert response.status == 200
            assert await page.locator(".card").count() == 4
            assert await page.locator("section.empty").count() == 0
            assert await page.locator("svg").count() == 4
            await page.screenshot(path=str(shot), full_page=True)
        finally:
            await browser.close()
    assert errors == []
    assert shot.stat().st_size > 50_000  # a page with charts, not a blank
