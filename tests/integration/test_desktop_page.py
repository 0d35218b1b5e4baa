"""The desktop page's own logic in real headless Chromium (Debian's chromium through Playwright,
no browser download), served by the real ``cti.web`` app on a loopback port: it renders in
Chinese and English, the keyboard reaches its form, its files are served and cached by version,
and its pop renderer and state reducer, imported as the page imports them, turn given bodies
into what an agent sees. What the page does with the service behind it (sign-in, the pop from
a real call to the disposition, ringall, a cut socket, the wallboard) is
``test_desktop_end_to_end.py``'s, against the real service. Screenshots go to
``CTI_SCREENSHOT_DIR`` (default: the test's tmp dir).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page

from tests.integration import desk_samples as samples
from tests.integration.test_web_api import serve

DESK = {"width": 1440, "height": 900}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with await serve(tmp_path / "desk.sqlite3") as client:
        yield client


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
) -> Watched:
    context = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    opened = Watched(await context.new_page())
    response = await opened.page.goto(str(site.make_url("/")))
    assert response is not None
    assert response.status == 200
    return opened


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


async def test_a_timer_counts_from_an_iso_time_or_epoch_seconds_alike(
    browser: Browser,
    site: TestClient,  # type: ignore[type-arg]
) -> None:
    """A ``data-since`` holds text: epoch seconds in it are seconds, not a date to parse."""
    page = (await open_page(browser, site)).page
    shown = await page.evaluate(
        """async () => {
            const base = document.querySelector("script[type=module]").src.replace(/main\\.js$/, "");
            const { instant, tick } = await import(base + "time.js");
            const node = document.createElement("p");
            const now = Date.parse("2026-12-06T01:00:00Z");
            const texts = [];
            for (const since of ["1796518725.5", "2026-12-06T00:58:45+00:00", String(1796518725)]) {
                node.innerHTML = `<time data-since="${since}"></time>`;
                tick(node, now);
                texts.push(node.textContent);
            }
            return [...texts, instant(1796518725), instant("")];
        }"""
    )
    assert shown == ["1:14", "1:15", "1:15", 1796518725000, None]


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
