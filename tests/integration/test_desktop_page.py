"""The desktop page in real headless Chromium (Debian's chromium through Playwright, no browser
download), served by the real ``cti.web`` app on a loopback port.

Before the sign-in, agent and push routes exist the page must already hold up: it renders in
Chinese and English, the keyboard reaches its form, and a sign-in against a service without those
routes says why instead of leaving a blank page. Its pop renderer and state reducer are checked
as modules in the browser, and the desktop and wallboard are driven by the REST bodies and
websocket frames the desktop interfaces define, played by the browser's own route handlers
(``page.route``, ``page.route_web_socket``) in place of the service's. Screenshots go to
``CTI_SCREENSHOT_DIR`` (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, Route, WebSocketRoute, async_playwright

from tests.conftest import eventually
from tests.integration import desk_samples as samples
from tests.integration.test_web_api import serve

TV = {"width": 1920, "height": 1080}
DESK = {"width": 1440, "height": 900}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with await serve(tmp_path / "desk.sqlite3") as client:
        yield client


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("CTI_SCREENSHOT_DIR", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Watched:
    """A page of the site with its uncaught script errors collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))


async def open_page(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
    locale: str = "en-US",
    viewport: dict[str, int] = DESK,
    back_end: FakeBackEnd | None = None,
) -> Watched:
    context = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    opened = Watched(await context.new_page())
    if back_end:
        await back_end.install(opened.page)
    response = await opened.page.goto(str(site.make_url("/")))
    assert response is not None
    assert response.status == 200
    return opened


class FakeBackEnd:
    """The sign-in, agent and wallboard routes and the push channel as the interfaces define
    them, played in the browser: hellos received, frames sent by the test, POSTs recorded."""

    def __init__(self, role: str, agent: str | None) -> None:
        self.session = {
            "token": "t-1",
            "expires_at": time.time() + 900,  # epoch seconds
            "user": "wang.fang",
            "display_name": "王芳" if role == "agent" else "赵班长",
            "role": role,
            "agent": agent,
        }
        self.bodies: dict[str, Any] = {}  # by path: JSON, or a str served as HTML
        self.posts: list[tuple[str, Any]] = []
        self.hellos: list[dict[str, Any]] = []
        self.socket: WebSocketRoute | None = None
        self.closes: list[int | None] = []

    async def install(self, page: Page) -> None:
        await page.route(re.compile(r".*/api/(?!ws).*"), self._rest)
        await page.route_web_socket(re.compile(r".*/api/ws$"), self._connected)

    async def _rest(self, route: Route) -> None:
        request = route.request
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if request.method == "POST":
            self.posts.append((f"/{path}", request.post_data_json))
        body = self.session if path in ("api/login", "api/session/renew") else self.bodies.get(path, {})
        if isinstance(body, str):  # a page: the KPI report
            await route.fulfill(status=200, content_type="text/html", body=body)
        else:
            await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def _connected(self, socket: WebSocketRoute) -> None:
        self.socket = socket
        socket.on_message(lambda message: self.hellos.append(json.loads(message)))

        async def closed(code: int | None, reason: str | None) -> None:  # as a service would: it closes too
            self.closes.append(code)
            await socket.close(code=code, reason=reason)

        socket.on_close(closed)

    def send(self, frame: dict[str, Any]) -> None:
        assert self.socket is not None
        self.socket.send(json.dumps(frame))


async def sign_in(page: Page) -> None:
    await page.fill("#login", "wang.fang")
    await page.fill("#password", "secret-1")
    await page.press("#password", "Enter")


@pytest.mark.parametrize(
    ("locale", "title", "labels", "lang"),
    [
        ("zh-CN", "登录", ["账号", "密码"], "zh-CN"),
        ("en-US", "Sign in", ["Login", "Password"], "en"),
    ],
)
async def test_the_sign_in_page_renders_in_the_browsers_language(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
    shots: Path,
    locale: str,
    title: str,
    labels: list[str],
    lang: str,
) -> None:
    opened = await open_page(browser, site, locale)
    page = opened.page
    assert await page.locator("#signin-title").inner_text() == title
    assert await page.locator("html").get_attribute("lang") == lang
    assert [await page.locator(f"label[for={name}]").inner_text() for name in ("login", "password")] == labels
    assert await page.locator("#desk").is_hidden()
    await page.screenshot(path=str(shots / f"desk-signin-{lang}.png"))
    other = "en" if lang == "zh-CN" else "zh"
    await page.select_option("#lang", other)  # the switch on the page
    assert await page.locator("#signin-title").inner_text() != title
    assert opened.errors == []


async def test_the_keyboard_reaches_the_sign_in_form_in_order_with_a_visible_focus(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    page = (await open_page(browser, site)).page
    focused = "document.activeElement.id || document.activeElement.type"
    reached = [await page.evaluate(focused)]  # the page starts in the login field
    for key in ["Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]:
        await page.keyboard.press(key)
        reached.append(await page.evaluate(focused))
    assert reached == ["login", "password", "submit", "password", "login", "lang", "skip"]
    for _ in range(4):  # on from the skip link: the language, login, password, submit
        await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.type") == "submit"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


async def test_without_the_back_end_a_sign_in_says_why(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    opened = await open_page(browser, site)
    page = opened.page
    await page.keyboard.press("Enter")  # nothing typed: said before any request
    await page.locator("#signin-error").wait_for()
    assert await page.locator("#signin-error").inner_text() == "Enter your login and password."
    await sign_in(page)
    error = page.locator("#signin-error", has_text="HTTP 404")
    await error.wait_for()
    assert (await error.inner_text()).startswith("Sign-in failed: the service does not offer this now")
    assert await page.locator("#signin-form").is_visible()
    assert opened.errors == []


async def render_pop(page: Page, pop: dict[str, Any]) -> None:
    """pop.js imported as the page imports it, rendering pop into the pop area."""
    await page.evaluate(
        """async (pop) => {
            const base = document.querySelector("script[type=module]").src.replace(/main\\.js$/, "");
            const { renderPop } = await import(base + "pop.js");
            document.getElementById("signin").hidden = true;
            document.getElementById("desk").hidden = false;
            renderPop(document.getElementById("pop"), pop);
        }""",
        pop,
    )


async def test_pop_js_renders_what_an_agent_needs_at_a_glance(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    opened = await open_page(browser, site)
    page = opened.page
    await render_pop(page, samples.known_pop())
    pop = page.locator("#pop .pop")
    assert await pop.get_attribute("data-offer") == "c-100:PJSIP/1001-00000001"
    assert await pop.locator(".number").inner_text() == "138****5678"
    assert "李明" in await pop.locator(".name").inner_text()
    assert await pop.locator(".chip.vip").inner_text() == "VIP"
    assert await pop.locator(".ivr .chip").all_inner_texts() == ["welcome", "main_menu", "service", "booking"]
    assert await pop.locator(".ivr kbd").all_inner_texts() == ["2", "1"]
    assert "上海浦东服务站" in await pop.locator(".ivr").inner_text()
    assert await pop.locator(".plate").all_inner_texts() == ["沪A·12345", "沪B·88888"]
    assert "VIN …123456" in await pop.locator(".vehicle").first.inner_text()
    assert await pop.locator(".vehicle .overdue").count() == 1
    assert "12 days left" in await pop.locator(".vehicle").first.inner_text()
    assert "Called 2× in the last 48 h" in await pop.locator(".repeat").inner_text()
    assert await pop.locator(".contacts li").count() == 5
    assert (await pop.locator(".cases li").inner_text()).startswith("Complaint 空调异响 ")
    assert await pop.locator("form").count() == 0
    assert opened.errors == []


async def test_pop_js_gives_an_unknown_caller_the_new_customer_form(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    opened = await open_page(browser, site, "zh-CN")
    page = opened.page
    await render_pop(page, samples.unknown_pop())
    pop = page.locator("#pop .pop")
    assert "未知来电" in await pop.locator(".name").inner_text()
    form = pop.locator("form.customer-form")
    labels = await form.locator("label").all_inner_texts()
    assert labels == ["姓名", "客户等级", "语言", "车牌（可选）", "车型（可选）", "VIN（可选）"]
    assert await pop.locator(".vehicles").count() == 0
    assert opened.errors == []


async def test_the_desk_model_shows_a_pop_once_and_withdraws_it_with_the_reason(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    page = (await open_page(browser, site)).page
    result = await page.evaluate(
        """async ([agent, pop]) => {
            const base = document.querySelector("script[type=module]").src.replace(/main\\.js$/, "");
            const { applyEvent, fromSnapshot, shownPop } = await import(base + "desk-model.js");
            let model = fromSnapshot({ agent, pops: [] });
            const event = { kind: "pop", ...pop };
            model = applyEvent(applyEvent(model, event), event);
            const twice = model.pops.length;
            const shown = shownPop(model).offer;
            const gone = { offer: pop.offer, call_id: pop.call_id, reason: "answered_elsewhere" };
            model = applyEvent(model, { kind: "pop_withdrawn", ...gone });
            return { twice, shown, after: model.pops.length, withdrawn: model.withdrawn };
        }""",
        [samples.agent_me("ready"), samples.known_pop()],
    )
    assert result == {
        "twice": 1,
        "shown": "c-100:PJSIP/1001-00000001",
        "after": 0,
        "withdrawn": "answered_elsewhere",
    }


async def test_the_desktop_follows_the_push_frames_from_pop_to_wrap_up(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
    shots: Path,
) -> None:
    back_end = FakeBackEnd("agent", "1001")
    back_end.bodies["api/agents/me"] = samples.agent_me("ready")
    opened = await open_page(browser, site, "zh-CN", back_end=back_end)
    page = opened.page
    await sign_in(page)
    await eventually(lambda: back_end.hellos, what="the hello frame")
    assert back_end.hellos[0] == {"type": "hello", "token": "t-1", "topics": ["agent"], "resume": {}}
    topic = "agent:1001"
    back_end.send(
        {
            "type": "welcome",
            "user": "wang.fang",
            "role": "agent",
            "agent": "1001",
            "topics": {topic: {"seq": 5}},
        }
    )
    back_end.send(
        {
            "type": "snapshot",
            "topic": topic,
            "seq": 5,
            "state": {"agent": samples.agent_me("ringing"), "pops": []},
        }
    )
    pop = {"kind": "pop", **samples.known_pop()}
    for seq in (6, 6, 4):  # the pop, a repeat, an old number
        back_end.send({"type": "event", "topic": topic, "seq": seq, "event": pop})
    await page.locator("#pop .pop").wait_for()
    assert await page.locator("#state-badge").inner_text() == "振铃中"
    talking = {
        "kind": "call",
        "call_id": "c-100",
        "offer": pop["offer"],
        "state": "talking",
        "since": samples.iso(0),
    }
    back_end.send({"type": "event", "topic": topic, "seq": 7, "event": talking})
    on_call = {
        "kind": "agent_state",
        "state": "on_call",
        "reason": "answered",
        "since": samples.iso(0),
        "until": None,
        "call_id": "c-100",
        "by": "auto",
    }
    back_end.send({"type": "event", "topic": topic, "seq": 8, "event": on_call})
    await page.locator("#call-state", has_text="通话中").wait_for()
    assert await page.locator("#pop .pop").count() == 1
    await page.screenshot(path=str(shots / "desk-pop.png"))

    back_end.send({"type": "event", "topic": topic, "seq": 10, "event": on_call})  # 9 is missing
    await eventually(lambda: back_end.closes, what="the page closing on the gap")
    assert back_end.closes[0] == 3000  # the page's code for a gap in the numbers
    await eventually(lambda: len(back_end.hellos) == 2, what="a new hello after the gap")
    assert back_end.hellos[1]["resume"] == {topic: 8}
    wrap_up = {**on_call, "state": "wrap_up", "reason": "call-ended", "until": samples.iso(-30)}
    back_end.send({"type": "event", "topic": topic, "seq": 9, "event": wrap_up})
    await page.locator("#wrapup").wait_for()
    assert await page.locator("#wrapup-ready").is_disabled()
    assert await page.locator("#do-ready").is_disabled()
    await page.locator("body").focus()
    await page.keyboard.press("2")
    assert await page.locator("input[name=code]:checked").get_attribute("value") == "appointment"
    await page.fill("#wrapup-note", "预约周六上午保养")
    await page.screenshot(path=str(shots / "desk-wrapup.png"))
    await page.click(".wrapup-form button[type=submit]")
    await page.locator("#wrapup-ready:enabled").wait_for()
    assert back_end.posts[-1] == (
        "/api/calls/c-100/disposition",
        {"code": "appointment", "note": "预约周六上午保养"},
    )
    await page.keyboard.press("r")
    await eventually(lambda: back_end.posts[-1][0] == "/api/agents/1001/ready", what="the ready command")
    assert opened.errors == []


async def test_the_wallboard_reads_from_across_the_room(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
    shots: Path,
) -> None:
    back_end = FakeBackEnd("supervisor", None)
    back_end.bodies["api/wallboard"] = samples.wallboard()
    opened = await open_page(browser, site, "zh-CN", viewport=TV, back_end=back_end)
    page = opened.page
    await sign_in(page)
    await page.locator(".wb-queue").first.wait_for()
    assert await page.locator(".wb-queue h2").all_inner_texts() == ["service", "sales"]
    sales = page.locator(".wb-queue").nth(1)
    assert await sales.locator(".figure .value").all_inner_texts() == [
        "0",
        "0:00",
        "无数据",
        "无数据",
        "无数据",
    ]
    service = page.locator(".wb-queue").first
    assert (await service.locator(".figure .value").all_inner_texts())[2:] == ["87%", "91%", "4%"]
    today = date.today().isoformat()
    href = await service.locator("a").get_attribute("href")
    assert href == f"/api/kpi?format=html&language=zh&queue=service&from={today}&to={today}"
    assert await page.locator("#wb-agents tr").count() == 4
    await eventually(lambda: back_end.hellos, what="the wallboard's hello")
    assert back_end.hellos[0]["topics"] == ["wallboard"]
    await page.screenshot(path=str(shots / "desk-wallboard.png"))
    back_end.bodies["api/kpi"] = "<!doctype html><h1>KPI 日报 service</h1>"
    await service.locator("a").click()
    await page.locator("#report-dialog[open]").wait_for()
    report = page.frame_locator("#report-frame").locator("h1")
    assert await report.inner_text() == "KPI 日报 service"
    await page.keyboard.press("Escape")
    await page.locator("#report-dialog").wait_for(state="hidden")
    assert await page.locator("#wb-agents tr:nth-child(3) .badge").inner_text() == "小休：午餐"
    await page.click("#wb-agents tr:nth-child(2) button:has-text('签出')")
    await eventually(lambda: back_end.posts[-1][0].endswith("/logout"), what="the sign-out command")
    await page.click("#wb-agents tr:nth-child(2) button:has-text('小休')")
    await page.locator("#pause-dialog[open]").wait_for()
    assert await page.locator("#pause-dialog .choice").all_inner_texts() == ["休息", "午餐"]
    await page.check("#pause-dialog input[value=lunch]")
    await page.click("#pause-dialog button[value=ok]")
    await eventually(lambda: back_end.posts[-1][0].endswith("/pause"), what="the pause command")
    assert [post for post in back_end.posts if post[0] != "/api/login"] == [
        ("/api/agents/1002/logout", None),
        ("/api/agents/1002/pause", {"reason": "lunch"}),
    ]
    assert opened.errors == []


async def test_the_page_and_its_files_are_served_without_a_token_and_cached_by_version(
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    page = await site.get("/")
    assert page.status == 200
    assert page.headers["Cache-Control"] == "no-cache"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self' covers it
    version = re.search(r"/static/([0-9a-f]{12})/js/main\.js", await page.text())
    assert version is not None
    script = await site.get(f"/static/{version[1]}/js/pop.js")
    assert script.status == 200
    assert script.headers["Content-Type"] in ("text/javascript", "application/javascript")
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await site.get("/static/000000000000/js/pop.js")).status == 404
    assert (await site.get(f"/static/{version[1]}/../desktop.py")).status == 404
