"""The shipped hotline flow on the real Asterisk: every top-level branch, driven key by key.

The whole service runs (``tests.integration.hotline``); each simulated caller keys its digits
when the IVR has asked for them, and the journey the service recorded is checked node by node,
key by key.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from cti.events import EventKind
from cti.ivr import load_flow
from cti.ivr.model import MenuNode
from cti.store import make_engine
from cti.store.models import CustomerRow, PhoneNumberRow
from cti.tts import PromptRenderer
from tests.integration.conftest import StartHotline
from tests.integration.hotline import FAST_SPEECH, Hotline, entered, journey, queued

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)  # a Wednesday morning
CLOSED = datetime(2026, 11, 25, 22, 0, tzinfo=SHANGHAI)
VIP_NUMBER = "13900000001"
SHIPPED = Path("ivr_flows/hotline.yaml")


async def add_vip(database_url: str) -> None:
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(CustomerRow).values(id=1, name="Zhou Jie", segment="vip", language="zh")
        )
        await connection.execute(insert(PhoneNumberRow).values(number=VIP_NUMBER, customer_id=1))
    await engine.dispose()


# --- the scenarios: each is one caller, run side by side on one service -------------------------

Scenario = Callable[[Hotline], Awaitable[None]]


async def run_side_by_side(hotline: Hotline, scenarios: dict[str, Scenario]) -> None:
    """Run every scenario at once (the IVR serves concurrent callers); report each failure by name."""
    outcomes = await asyncio.gather(*(play(hotline) for play in scenarios.values()), return_exceptions=True)
    failed = [
        AssertionError(f"{name}: {outcome!r}")
        for name, outcome in zip(scenarios, outcomes, strict=True)
        if isinstance(outcome, BaseException)
    ]
    if failed:
        raise ExceptionGroup(f"{len(failed)} of {len(scenarios)} scenarios failed", failed)


def key_route(keys: list[str], node: str, queue: str, priority: int) -> Scenario:
    """A caller keys one choice per menu (while its prompt plays: barge-in) and reaches a queue."""

    async def scenario(hotline: Hotline) -> None:
        caller = await hotline.call()
        menus = ["main_menu", "service_menu"]
        for menu, key in zip(menus, keys, strict=False):
            await hotline.reach(caller, menu)
            await hotline.press(caller, key)
        events = await hotline.until_queued(caller)
        steps = journey(events)
        assert steps[:3] == ["identify", "opening_hours", "welcome"]
        assert steps[3:] == [
            step for menu, key in zip(menus, keys, strict=False) for step in (menu, f"{menu}:{key}")
        ] + [node]
        assert queued(events) == (queue, priority)
        await hotline.ari.hangup(caller.id)

    return scenario


async def invalid_key(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "main_menu")
    await hotline.press(caller, "7")
    await hotline.wait_for(caller, lambda ev: "main_menu:7" in journey(ev))
    await hotline.press(caller, "1")  # during the "not a valid choice" prompt: it counts
    events = await hotline.until_queued(caller)
    assert journey(events)[3:] == ["main_menu", "main_menu:7", "main_menu:1", "sales_queue"]
    assert queued(events) == ("sales", 0)
    await hotline.ari.hangup(caller.id)


async def language_switch(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "main_menu")
    await hotline.press(caller, "9")
    await hotline.reach(caller, "main_menu", times=2)
    await hotline.press(caller, "0")
    events = await hotline.until_queued(caller)
    assert journey(events)[3:] == [
        "main_menu",
        "main_menu:9",
        "language_toggle",
        "to_english",
        "main_menu",
        "main_menu:0",
        "agent",
    ]
    spoken = [e.data["language"] for e in events if e.kind is EventKind.IVR_NODE_ENTERED]
    assert spoken[entered(events).index("main_menu")] == "zh"
    assert spoken[-1] == "en"  # the agent's queue prompt, after the switch
    await hotline.ari.hangup(caller.id)


async def roadside_station(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "main_menu")
    await hotline.press(caller, "3")
    await hotline.reach(caller, "roadside_area")
    await hotline.press(caller, "010#")
    events = await hotline.until_queued(caller)
    assert journey(events)[3:] == [
        "main_menu",
        "main_menu:3",
        "roadside_area",
        "roadside_area:0",
        "roadside_area:1",
        "roadside_area:0",
        "roadside_area:#",
        "roadside_station",
        "roadside_queue",
    ]
    assert queued(events) == ("roadside", 5)
    await hotline.ari.hangup(caller.id)


async def vip_bypass(hotline: Hotline) -> None:
    caller = await hotline.call(caller_number=VIP_NUMBER)
    events = await hotline.until_queued(caller)
    assert journey(events) == ["identify", "vip_check", "vip_hours", "vip_queue"]
    assert queued(events) == ("vip", 10)
    await hotline.ari.hangup(caller.id)


async def hang_up_in_menu(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "main_menu")
    await hotline.ari.hangup(caller.id)
    events = await hotline.until_ended(caller)
    assert journey(events)[-1] == "main_menu"
    assert EventKind.QUEUE_ENTERED not in [e.kind for e in events]


async def callback_request(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "closed_menu")
    await hotline.press(caller, "2")
    events = await hotline.until_ended(caller)  # the service thanks the caller and hangs up
    assert journey(events) == [
        "identify",
        "opening_hours",
        "closed_welcome",
        "closed_menu",
        "closed_menu:2",
        "service_callback",
    ]
    assert EventKind.QUEUE_ENTERED not in [e.kind for e in events]
    request = next(e for e in events if e.kind is EventKind.CALLBACK_REQUESTED)
    lead = next(e for e in events if e.kind is EventKind.LEAD_CREATED)
    assert (request.queue, lead.queue, lead.data["source"]) == ("service", "service", "ivr_callback")
    assert request.lead_id == lead.lead_id
    assert lead.caller_number == "13800138000"


async def roadside_after_hours(hotline: Hotline) -> None:
    caller = await hotline.call()
    await hotline.reach(caller, "closed_menu")
    await hotline.press(caller, "3")
    await hotline.reach(caller, "roadside_area")
    await hotline.press(caller, "0999")  # four digits end the entry; no station for that area code
    events = await hotline.until_queued(caller)
    assert entered(events)[-3:] == ["roadside_area", "roadside_station", "roadside_queue"]
    assert queued(events) == ("roadside", 5)
    await hotline.ari.hangup(caller.id)


# --- the tests ---------------------------------------------------------------------------------


async def test_in_open_hours_every_branch_reaches_its_queue(start_hotline: StartHotline) -> None:
    hotline = await start_hotline(OPEN)
    await add_vip(hotline.database_url)
    await run_side_by_side(
        hotline,
        {
            "1 sales": key_route(["1"], "sales_queue", "sales", 0),
            "2-1 maintenance booking": key_route(["2", "1"], "service_booking", "service", 0),
            "2-2 repair questions": key_route(["2", "2"], "service_repair", "service", 2),
            "4 complaints": key_route(["4"], "complaints_queue", "complaints", 8),
            "0 an agent": key_route(["0"], "agent", "general", 0),
            "invalid key": invalid_key,
            "9 language switch": language_switch,
            "3 roadside station": roadside_station,
            "VIP bypass": vip_bypass,
            "hang-up in the menu": hang_up_in_menu,
        },
    )


async def test_after_hours_callers_leave_a_callback_and_roadside_help_still_answers(
    start_hotline: StartHotline,
) -> None:
    hotline = await start_hotline(CLOSED)
    await run_side_by_side(
        hotline, {"2 callback request": callback_request, "3 roadside help": roadside_after_hours}
    )


@pytest.fixture
def quick_timeout_flows(tmp_path: Path) -> Path:
    """The shipped flow with a 1 s menu timeout instead of 6 s, to keep the test short."""
    flows = tmp_path / "flows"
    flows.mkdir()
    text = SHIPPED.read_text(encoding="utf-8").replace("timeout_s: 6", "timeout_s: 1")
    (flows / "hotline.yaml").write_text(text, encoding="utf-8")
    return flows


async def test_silence_at_the_menu_is_asked_again_then_goes_to_an_agent(
    start_hotline: StartHotline, quick_timeout_flows: Path
) -> None:
    hotline = await start_hotline(OPEN, quick_timeout_flows)
    caller = await hotline.call()
    events = await hotline.until_queued(caller)
    assert journey(events)[3:] == ["main_menu", "agent"]
    assert queued(events) == ("general", 0)
    await hotline.ari.hangup(caller.id)
    # Asked three times (retries: 2), told twice that no key came, 1 s of silence after each ask:
    menu = load_flow(SHIPPED).nodes["main_menu"]
    assert isinstance(menu, MenuNode)
    assert menu.timeout_prompt is not None
    expected_s = 3 * (spoken_s(menu.prompt.text["zh"]) + 1) + 2 * spoken_s(menu.timeout_prompt.text["zh"])
    at = {e.data["node"]: e.at for e in events if e.kind is EventKind.IVR_NODE_ENTERED}
    assert (at["agent"] - at["main_menu"]).total_seconds() >= expected_s - 0.5


def spoken_s(text: str) -> float:
    """How long a Mandarin prompt plays, from its rendered file."""
    with wave.open(str(PromptRenderer.from_settings(FAST_SPEECH).render(text, "zh"))) as audio:
        return audio.getnframes() / audio.getframerate()
