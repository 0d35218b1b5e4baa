"""The agent desktop against the real service: headless Chromium (Debian's, through Playwright),
the whole service in-process (``start_hotline``: the hotline flow, the ACD, the desk publisher,
``/api/ws``), the real Asterisk, Redis and the store (SQLite and PostgreSQL), and real SIP agents
(baresip registered as 1001 and 1002). A simulated caller keys through the hotline; nothing
between the caller and the page is played by the test.

The README's screenshots are this file's: ``CTI_SCREENSHOT_DIR=docs`` keeps them there
(``desktop-pop.png``, ``desktop-wallboard.png``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Page, WebSocketRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.crm.store import import_files
from cti.events import EventKind
from cti.sim import Softphone
from cti.web.throttle import LOGIN_FREE_FAILURES
from tests.conftest import eventually
from tests.integration.conftest import PROJECT, DeskUser, MakeDeskUser, StartHotline
from tests.integration.hotline import Caller, Hotline

OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday, open hours
TZ = ZoneInfo("Asia/Shanghai")
DESK = {"width": 1440, "height": 900}
TV = {"width": 1920, "height": 1080}
CUSTOMER = "13800000001"  # 李娜 of config/crm-demo, with her 沪A·12345
NOTE = "Booked the 30 000 km service for Saturday 9:00"

#: The center of config/acd.toml with its softphone agents 1001 and 1002 only, the queues the
#: hotline flow routes to, and wrap-ups long enough that the agent ends them with Ready (as the
#: test asks), not the clock. Roadside rings every skilled agent at once.
ACD_TOML = """
agents_choose_queues = true
pause_reasons = [{ code = "break", label = { zh = "休息", en = "Break" } }]

[[agents]]
id = "1001"
name = "Wang Fang"
endpoint = "PJSIP/1001"
skills = { sales = 5, service = 3, roadside = 3, general = 4 }

[[agents]]
id = "1002"
name = "Li Wei"
endpoint = "PJSIP/1002"
skills = { roadside = 4 }

[[queues]]
name = "sales"
ring_timeout_s = 120
wrapup_s = 600

[[queues]]
name = "service"
ring_timeout_s = 120
wrapup_s = 600

[[queues]]
name = "roadside"
strategy = "ringall"
ring_timeout_s = 120
wrapup_s = 600
""" + "".join(f'\n[[queues]]\nname = "{name}"\n' for name in ("complaints", "vip", "general"))


@pytest.fixture
def acd_file(tmp_path: Path) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(ACD_TOML, encoding="utf-8")
    return path


@pytest.fixture
async def crm(store: AsyncEngine) -> AsyncEngine:
    """The test's store with the demo CRM (config/crm-demo), as ``cti crm import`` loads it."""
    files = [
        (path.name, path.read_bytes()) for path in sorted((PROJECT / "config" / "crm-demo").glob("*.csv"))
    ]
    imported = await import_files(store, files, TZ)
    assert not imported.problems, imported.problems
    return store


Service = Callable[[], Awaitable[Hotline]]


@pytest.fixture
def service(start_hotline: StartHotline, migrated_database: str, acd_file: Path, crm: AsyncEngine) -> Service:
    """The service on the test's store (its users and the CRM in it), agents signing in by themselves
    through their desktops."""
    return lambda: start_hotline(OPEN, acd_file=acd_file, database_url=migrated_database, auto_login=False)


class Desktop:
    """A browser tab on the service, its uncaught script errors collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def badge(self, text: str) -> Any:
        return self.page.locator("#state-badge", has_text=text)

    async def until_state(self, text: str) -> None:
        await self.page.locator("#state-badge", has_text=text).wait_for()


OpenDesktop = Callable[..., Awaitable[Desktop]]


@pytest.fixture
async def open_desktop(browser: Browser, crm: AsyncEngine) -> AsyncIterator[OpenDesktop]:
    """Sign ``user`` in through the service's sign-in page, in a browser context of its own."""
    desktops: list[Desktop] = []

    async def open_one(
        hotline: Hotline,
        user: DeskUser,
        locale: str = "en-US",
        viewport: dict[str, int] = DESK,
        route_socket: Callable[[WebSocketRoute], Any] | None = None,
    ) -> Desktop:
        context = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
        desktop = Desktop(await context.new_page())
        desktops.append(desktop)
        if route_socket is not None:
            await desktop.page.route_web_socket(f"{hotline.web.replace('http', 'ws')}/api/ws", route_socket)
        response = await desktop.page.goto(f"{hotline.web}/")
        assert response is not None
        assert response.status == 200
        await desktop.page.fill("#login", user.login)
        await desktop.page.fill("#password", user.password)
        await desktop.page.press("#password", "Enter")
        await desktop.page.locator("#signin").wait_for(state="hidden")
        return desktop

    yield open_one
    for desktop in desktops:
        await desktop.page.context.close()


async def sign_in_to_queues(desktop: Desktop) -> None:
    """The agent signs in to the ACD from its desktop, for every queue it is offered."""
    page = desktop.page
    await desktop.until_state("Logged out")
    await page.click("#do-login")
    await page.locator("#queues-dialog[open]").wait_for()
    await page.click("#queues-dialog button[value=ok]")
    await desktop.until_state("Ready")


async def api(hotline: Hotline, user: DeskUser, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{hotline.web}{path}", headers=user.headers) as got:
        assert got.status == 200, await got.text()
        return await got.json()


async def key_through(hotline: Hotline, caller: Caller, steps: list[tuple[str, str]]) -> None:
    """At each menu (node), once its prompt plays, key the digits."""
    for node, keys in steps:
        await hotline.reach(caller, node)
        await hotline.press(caller, keys)
    await hotline.until_queued(caller)


async def test_a_call_from_the_hotline_to_the_disposition_on_the_agents_desktop(
    service: Service,
    open_desktop: OpenDesktop,
    desk_user: MakeDeskUser,
    phones: dict[str, Softphone],
    shots: Path,
) -> None:
    """李娜 keys 2 (after-sales) then 1 (maintenance booking); agent 1001's softphone rings and
    its desktop pops her card; the phone answers, she hangs up, the agent records "resolved,
    appointment booked" and is ready again; the KPI report counts the appointment and the FCR."""
    agent = await desk_user("wang.fang", "agent", agent="1001", name="王芳")  # before the demo users
    manager = await desk_user("zhao.lei", "manager")
    hotline = await service()
    desktop = await open_desktop(hotline, agent)
    page = desktop.page
    await sign_in_to_queues(desktop)

    caller = await hotline.call(CUSTOMER)
    await key_through(hotline, caller, [("main_menu", "2"), ("service_menu", "1")])
    incoming = await phones["1001"].wait_event("CALL_INCOMING", within_s=60)
    assert str(incoming["peeruri"]).startswith(f"sip:{CUSTOMER}@")
    pop = page.locator("#pop .pop")
    await pop.wait_for()
    await desktop.until_state("Ringing")
    assert await pop.get_attribute("data-offer") == f"{caller.id}:" + (
        await hotline_offer(hotline, caller, "1001")
    )
    assert await pop.locator(".number").inner_text() == CUSTOMER  # an agent sees the number it calls back
    assert "李娜" in await pop.locator(".name").inner_text()
    assert await pop.locator(".plate").all_inner_texts() == ["沪A·12345"]
    assert "VIN …100021" in await pop.locator(".vehicle").inner_text()
    assert await pop.locator(".ivr .chip").all_inner_texts() == [
        "identify",
        "vip_check",
        "opening_hours",
        "welcome",
        "main_menu",
        "service_menu",
        "service_booking",
    ]
    assert await pop.locator(".ivr kbd").all_inner_texts() == ["2", "1"]
    assert "customer.id" not in await pop.locator(".ivr").inner_text()  # the card says who it is
    assert "service" in await pop.locator(".facts").first.inner_text()

    await phones["1001"].accept()
    await phones["1001"].wait_event("CALL_ESTABLISHED", within_s=10)
    await page.locator("#call-state", has_text="Talking").wait_for()
    await desktop.until_state("On call")
    await page.locator("#call-timer", has_text="0:02").wait_for()  # the talk timer runs
    await page.screenshot(path=str(shots / "desktop-pop.png"))

    await hotline.ari.hangup(caller.id)
    await page.locator("#wrapup").wait_for()
    await desktop.until_state("Wrap-up")
    assert await pop.count() == 1  # the card stays up while the agent writes the call up
    await page.get_by_label("Resolved, appointment booked").check()
    await page.fill("#wrapup-note", NOTE)
    await page.screenshot(path=str(shots / "desktop-wrapup.png"))
    await page.click(".wrapup-form button[type=submit]")
    await page.locator("#wrapup-body", has_text="Disposition saved.").wait_for()
    await page.click("#wrapup-ready")
    await desktop.until_state("Ready")
    await page.locator("#wrapup").wait_for(state="hidden")
    assert await page.locator("#pop .empty").count() == 1
    me = await api(hotline, agent, "/api/agents/me")
    assert (me["state"], me["call_id"]) == ("ready", None)

    def counted(report: dict[str, Any]) -> bool:
        overall = report["overall"]
        return bool(overall["appointments"] == 1 and overall["first_contact_resolved"] == 1)

    report = await eventually(
        lambda: api(hotline, manager, "/api/kpi"), counted, what=lambda r: f"the report: {r['overall']}"
    )
    assert report["overall"]["fcr_rate"] == 1.0
    assert report["overall"]["appointment_rate"] == 1.0
    events = await hotline.events(caller)
    disposition = next(e for e in events if e.kind is EventKind.DISPOSITION)
    assert (disposition.agent, disposition.data["code"], disposition.data["note"]) == (
        "1001",
        "resolved_appointment",
        NOTE,
    )
    assert desktop.errors == []


async def hotline_offer(hotline: Hotline, caller: Caller, agent: str) -> str:
    """The offer id (the agent's channel) the service recorded for ``agent`` ringing for ``caller``."""
    events = await hotline.wait_for(
        caller, lambda ev: any(e.kind is EventKind.AGENT_OFFERED and e.agent == agent for e in ev)
    )
    offered = next(e for e in events if e.kind is EventKind.AGENT_OFFERED and e.agent == agent)
    return str(offered.data["offer"])


def pops_held(page: Page) -> Awaitable[int]:
    """How many pops the page's model holds for its agent (it shows one at a time: the DOM alone
    would not tell a pop held twice)."""
    return page.evaluate(
        """() => Object.values(JSON.parse(sessionStorage.getItem("cti.push") ?? "{}"))
                  .reduce((n, topic) => n + (topic.model?.pops?.length ?? 0), 0)"""
    )


async def test_ringall_pops_on_both_desktops_and_withdraws_it_where_the_call_was_not_answered(
    service: Service,
    open_desktop: OpenDesktop,
    desk_user: MakeDeskUser,
    phones: dict[str, Softphone],
    shots: Path,
) -> None:
    """A stranded driver keys 3 (roadside help) and the area code 021: roadside rings agents 1001
    and 1002 at once; both desktops pop the call with the area code; 1001's phone answers and
    1002's desktop says the call was answered by another agent. Meanwhile the supervisor's
    wallboard shows the queues and both agents ringing."""
    wang = await desk_user("wang.fang", "agent", agent="1001", name="王芳")
    li = await desk_user("li.wei", "agent", agent="1002", name="李伟")
    boss = await desk_user("zhao.min", "supervisor", name="赵敏")
    hotline = await service()
    desks = {"1001": await open_desktop(hotline, wang), "1002": await open_desktop(hotline, li)}
    for desktop in desks.values():
        await sign_in_to_queues(desktop)

    caller = await hotline.call("13800000002")
    await key_through(hotline, caller, [("main_menu", "3"), ("roadside_area", "021#")])
    for ext in ("1001", "1002"):
        await phones[ext].wait_event("CALL_INCOMING", within_s=60)
    for ext, desktop in desks.items():
        pop = desktop.page.locator("#pop .pop")
        await pop.wait_for()
        assert (
            await pop.get_attribute("data-offer")
            == f"{caller.id}:{await hotline_offer(hotline, caller, ext)}"
        )
        assert "张伟" in await pop.locator(".name").inner_text()
        ivr = await pop.locator(".ivr").inner_text()
        assert "area_code" in ivr
        assert "021" in ivr
        await desktop.until_state("Ringing")

    board = await open_desktop(hotline, boss, "zh-CN", TV)
    await board.page.locator(".wb-queue").first.wait_for()
    names = await board.page.locator(".wb-queue h2").all_inner_texts()
    assert names == ["sales", "service", "roadside", "complaints", "vip", "general"]
    roadside = board.page.locator(".wb-queue").nth(2)
    assert await roadside.locator(".wb-states").inner_text() == "振铃中 2"
    rows = board.page.locator("#wb-agents tr")
    assert await rows.count() == 2
    assert [await rows.nth(i).locator("td .badge").inner_text() for i in range(2)] == ["振铃中", "振铃中"]
    await board.page.screenshot(path=str(shots / "desktop-wallboard.png"))
    await roadside.locator("a").click()  # the queue's KPI report for the day, from the service
    await board.page.locator("#report-dialog[open]").wait_for()
    assert "roadside" in await board.page.frame_locator("#report-frame").locator("body").inner_text()
    await board.page.keyboard.press("Escape")

    await phones["1001"].accept()
    await phones["1001"].wait_event("CALL_ESTABLISHED", within_s=10)
    await desks["1001"].page.locator("#call-state", has_text="Talking").wait_for()
    other = desks["1002"].page
    await other.locator("#pop-note", has_text="answered by another agent").wait_for()
    assert await other.locator("#pop .pop").count() == 0
    assert await pops_held(other) == 0
    await desks["1002"].until_state("Ready")
    assert await desks["1001"].page.locator("#pop .pop").count() == 1
    await hotline.ari.hangup(caller.id)
    await desks["1001"].until_state("Wrap-up")
    for desktop in (*desks.values(), board):
        assert desktop.errors == []


class SocketCut:
    """The page's websocket through a relay the test cuts (``page.route_web_socket``): ``cut()``
    closes the page's socket (the service's end follows); while ``down``, the page's attempts
    to reconnect are refused."""

    def __init__(self) -> None:
        self.routes: list[WebSocketRoute] = []
        self.refused = 0
        self.down = False

    async def route(self, socket: WebSocketRoute) -> None:
        if self.down:
            self.refused += 1
            await socket.close(code=1013, reason="the test keeps the service away")
            return
        socket.connect_to_server()
        self.routes.append(socket)

    async def cut(self) -> None:
        await self.routes[-1].close(code=1012, reason="cut by the test")


async def test_a_websocket_cut_while_the_phone_rings_still_shows_the_pop_once(
    service: Service,
    open_desktop: OpenDesktop,
    desk_user: MakeDeskUser,
    phones: dict[str, Softphone],
) -> None:
    """The desktop's socket is cut as the caller reaches the menu and kept away while the call is
    offered (the pop is published meanwhile): back, the page is replayed the pop, once. Cut again
    while the phone still rings, the reconnect replays nothing twice."""
    agent = await desk_user("wang.fang", "agent", agent="1001", name="王芳")
    hotline = await service()
    relay = SocketCut()
    desktop = await open_desktop(hotline, agent, route_socket=relay.route)
    page = desktop.page
    await sign_in_to_queues(desktop)

    caller = await hotline.call(CUSTOMER)
    await hotline.reach(caller, "main_menu")
    relay.down = True
    await relay.cut()
    await page.locator("#link.lost").wait_for()
    await hotline.press(caller, "1")
    await phones["1001"].wait_event("CALL_INCOMING", within_s=60)
    offer = await hotline_offer(hotline, caller, "1001")
    await eventually(lambda: relay.refused, what="the page trying to reconnect while the service is away")
    assert await page.locator("#pop .pop").count() == 0  # published while the page was away
    relay.down = False
    pop = page.locator("#pop .pop")
    await pop.wait_for()
    assert await pop.get_attribute("data-offer") == f"{caller.id}:{offer}"
    await desktop.until_state("Ringing")
    assert await pops_held(page) == 1

    connections = len(relay.routes)
    await relay.cut()  # the phone still rings
    await eventually(lambda: len(relay.routes) > connections, what="the page reconnecting")
    await page.locator("#link.live").wait_for()
    assert await pops_held(page) == 1
    await phones["1001"].accept()
    await page.locator("#call-state", has_text="Talking").wait_for()
    assert await pops_held(page) == 1
    assert await pop.get_attribute("data-offer") == f"{caller.id}:{offer}"
    await hotline.ari.hangup(caller.id)
    await desktop.until_state("Wrap-up")
    assert desktop.errors == []


async def test_a_wrong_password_is_said_plainly_and_repeated_failures_are_slowed_down(
    service: Service, browser: Browser, desk_user: MakeDeskUser
) -> None:
    """The sign-in page against the service's own sign-in: nothing typed is said before any
    request; a wrong password gets the service's words, the form stays; past the free failures
    the service asks to wait (429), and the page says for how long."""
    agent = await desk_user("wang.fang", "agent", agent="1001")
    hotline = await service()
    page = await (await browser.new_context(locale="en-US", viewport=DESK)).new_page()  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{hotline.web}/")
    error = page.locator("#signin-error")
    await page.keyboard.press("Enter")
    await error.wait_for()
    assert await error.inner_text() == "Enter your login and password."
    await page.fill("#login", agent.login)
    for _ in range(LOGIN_FREE_FAILURES):
        await page.fill("#password", "not-the-password")
        await page.press("#password", "Enter")
        await page.locator("#signin-error", has_text="wrong login or password").wait_for()
        await page.locator("#signin-form button[type=submit]:enabled").wait_for()
        await page.evaluate("document.getElementById('signin-error').hidden = true")
    assert await error.inner_text() == "Sign-in failed: wrong login or password"
    await page.fill("#password", agent.password)  # right, but too late: the throttle answers first
    await page.press("#password", "Enter")
    await page.locator("#signin-error", has_text="too many failed sign-ins").wait_for()
    assert (await error.inner_text()).startswith("Sign-in failed: too many failed sign-ins: try again in ")
    assert await page.locator("#signin-form").is_visible()
    assert await page.locator("#desk").is_hidden()
    assert errors == []
    await page.context.close()
