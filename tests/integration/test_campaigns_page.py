"""The campaign managers' page in real headless Chromium (Debian's, through Playwright) on the
real ``cti.web`` service and store (SQLite and PostgreSQL): the demo manager signs in, creates a
campaign, uploads a call list with a bad line, reads the report, and starts the campaign; a
supervisor sees the campaigns but cannot run them. The README's screenshot is this file's:
``CTI_SCREENSHOT_DIR=docs`` keeps ``campaigns.png`` there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import load_acd_config
from cti.desk.agent_view import agent_views
from cti.desk.demo import ensure_demo_users
from cti.desk.dispositions import load_dispositions
from cti.desk.hub import PushHub
from cti.desk.push import PushTopics
from cti.desk.users import UserStore
from cti.live import AcdState, connect_redis
from cti.settings import DatabaseSettings, WebSettings, load_settings
from cti.web import build_web_app
from cti.web.ws import add_push_routes
from tests.integration.conftest import _forget

PROJECT = Path(__file__).resolve().parents[2]
DESK = {"width": 1440, "height": 1000}
LIST = (
    "客户,联系方式,车牌,到期日\n"
    "李娜,13800000001,沪A·12345,2027-01-31\n"
    "张伟,1380000000,沪B·88888,2027-02-15\n"  # a digit short
    "王芳,13800000002,沪C·66666,2027-02-20\n"
    "李娜,138-0000-0001,沪A·12345,2027-01-31\n"  # the first line again
    "赵敏,13800000003,沪D·00001,2027-03-01\n"
)


@pytest.fixture
async def site(store: AsyncEngine, migrated_database: str, redis_url: str) -> AsyncIterator[str]:
    """The web service on the test's store, with the demo users (manager / manager-demo) and its
    push channel on Redis (the wallboard beside the campaigns page keeps it open)."""
    await ensure_demo_users(UserStore(store), {})
    base = load_settings(PROJECT / "config" / "cti.toml", {})
    settings = base.model_copy(
        update={
            "database": DatabaseSettings(url=migrated_database),
            "web": WebSettings(tokens_file=PROJECT / "config" / "web-tokens.dev"),
        }
    )
    app = build_web_app(settings)
    redis = connect_redis(redis_url)
    prefix = f"test:campaigns-page:{uuid.uuid4().hex[:8]}"
    views = agent_views(
        load_acd_config(settings.acd.config_file), load_dispositions(settings.acd.dispositions_file)
    )
    add_push_routes(app, PushHub(PushTopics(redis, prefix, 100), AcdState(redis, prefix), views))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()
        await _forget(redis, prefix)


SignIn = Callable[[str, str], Awaitable[tuple[Page, list[str]]]]


@pytest.fixture
async def sign_in(browser: Browser, site: str) -> AsyncIterator[SignIn]:
    """A demo user signed in through the page, in a browser context of its own (closed before the
    service stops, which would otherwise wait for its open websocket)."""
    contexts: list[BrowserContext] = []

    async def signed_in(login: str, locale: str) -> tuple[Page, list[str]]:
        context = await browser.new_context(locale=locale, viewport=DESK)  # type: ignore[arg-type]
        contexts.append(context)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(site)
        await page.fill("#login", login)
        await page.fill("#password", f"{login}-demo")
        await page.press("#password", "Enter")
        await page.locator("#signin").wait_for(state="hidden")
        return page, errors

    yield signed_in
    for context in contexts:
        await context.close()


async def test_a_manager_uploads_a_list_reads_the_report_and_starts_the_campaign(
    sign_in: SignIn, shots: Path
) -> None:
    page, errors = await sign_in("manager", "zh-CN")
    await page.locator("#wallboard").wait_for()  # the manager's first view, as before
    await page.locator("#link.live").wait_for()  # the push channel is up
    await page.get_by_role("button", name="外呼活动").click()
    assert await page.locator("#views [aria-pressed=true]").inner_text() == "外呼活动"
    assert await page.locator("#wallboard").is_hidden()
    await page.locator("#cp-list", has_text="还没有外呼活动").wait_for()

    form = page.locator("#cp-new")
    await form.get_by_label("活动代码").fill("renewals-2027-01")
    await form.get_by_label("名称").fill("续保提醒 2027 年 1 月")
    await form.get_by_label("类型").select_option("insurance_renewal")
    await form.get_by_label("队列").fill("nope")
    await form.get_by_role("button", name="创建活动").click()
    await form.locator("ul.error", has_text="queue: 'nope' is not a queue of the ACD").wait_for()
    assert await form.get_by_label("队列").get_attribute("aria-invalid") == "true"
    await form.get_by_label("队列").fill("sales")
    await form.get_by_label("队列").press("Enter")  # the keyboard submits the form
    await page.locator("#cp-list tr[data-campaign=renewals-2027-01]").wait_for()

    upload = page.locator("#cp-upload")
    assert await upload.locator("select[name=campaign]").input_value() == "renewals-2027-01"
    await upload.locator("input[type=file]").set_input_files(
        {"name": "续保名单.csv", "mimeType": "text/csv", "buffer": LIST.encode("gbk")}
    )
    await upload.get_by_label("电话所在列").fill("联系方式")
    await upload.get_by_role("button", name="检查并导入").click()
    report = page.locator("#cp-report")
    await report.locator("table").wait_for()
    assert "共 5 行\uff1a接受 3 行\uff0c拒绝 2 行。" in await report.inner_text()  # full-width : and ,
    assert "已导入 3 行到 renewals-2027-01。" in await report.inner_text()
    verdicts = await report.locator("[data-verdict]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.verdict)"
    )
    assert verdicts == ["ok", "bad_number", "ok", "duplicate", "ok"]
    assert await report.locator("tr.rejected td:last-child").all_inner_texts() == [
        "not a valid number in CN",
        "the same number as line 2",
    ]
    row = page.locator("#cp-list tr[data-campaign=renewals-2027-01]")
    await expect(row.locator("td.num").first).to_have_text("3")  # its lines, once the list is read again

    await row.get_by_role("button", name="开始 续保提醒 2027 年 1 月").click()
    await row.locator(".badge", has_text="进行中").wait_for()
    assert await row.get_by_role("button", name="暂停 续保提醒 2027 年 1 月").is_enabled()
    assert await row.get_by_role("button", name="开始 续保提醒 2027 年 1 月").is_disabled()
    await page.screenshot(path=str(shots / "campaigns.png"), full_page=True)

    await page.select_option("#lang", "en")
    await page.locator("#cp-list th", has_text="Abandon rate").wait_for()
    assert await row.locator(".badge").inner_text() == "Running"
    assert errors == []


async def test_a_supervisor_sees_the_campaigns_but_cannot_run_them(sign_in: SignIn) -> None:
    page, errors = await sign_in("supervisor", "en-US")
    await page.get_by_role("button", name="Campaigns").click()
    await page.locator("#cp-list", has_text="No campaign yet.").wait_for()
    assert await page.locator("#cp-new").count() == 0
    assert await page.locator("#cp-upload").count() == 0
    await page.get_by_role("button", name="Wallboard").click()
    assert await page.locator("#campaigns").is_hidden()
    assert errors == []
