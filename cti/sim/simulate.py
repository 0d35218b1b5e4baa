"""Simulated callers and agents, driven by the dialplan in config/asterisk/extensions.conf.

A simulated caller is a Local channel: its far half runs ``[sim-caller]`` (answer, wait, key
the DTMF script, stay, hang up) and its near half is the call the service sees, entering the
hotline's dialplan or a Stasis app directly. A simulated agent is the dial string
``Local/<agent>@agent-sim``, which rings for a set time and then answers: exact ring times,
which the three-ring KPI tests need. No SIP and no media are involved, so they are cheap.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

from cti.acd.router import QueueRouter
from cti.ari.client import AriClient
from cti.ari.events import Event, StasisStart
from cti.ari.models import Channel
from cti.calls.holds import HoldRecorder

SIM_CALLER_ENDPOINT = "Local/s@sim-caller"
AGENT_SIM_CONTEXT = "agent-sim"


async def place_simulated_call(
    client: AriClient,
    *,
    digits: str = "",
    delay_s: float = 1.0,
    hold_s: float = 30.0,
    dtmf_ms: int = 100,
    caller_number: str = "13800138000",
    caller_name: str = "Simulated caller",
    app: str | None = None,
    app_args: str | None = None,
    context: str = "hotline",
    extension: str = "4000",
    channel_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    driver_app: str | None = None,
) -> Channel:
    """Place a caller that keys ``digits`` (SendDTMF syntax; 'w' waits 0.5 s) ``delay_s`` after answer.

    With ``app`` the call enters that Stasis app directly; otherwise it dials ``extension`` in
    ``context`` like a real caller. ``variables`` are set on the caller's channel: the hotline's
    dialplan reads ``CTI_APP`` from there before the global, which lets a test (or a second
    tenant) route a hotline call to its own Stasis app. With ``driver_app`` the far half
    (``<channel_id>-far``) enters that Stasis app instead of keying ``digits``, so a test keys
    each digit when the IVR asks (``AriClient.send_dtmf``). Returns the near half.
    """
    if any(ch not in "0123456789*#ABCDwW" for ch in digits):
        raise ValueError(f"digits {digits!r}: only 0-9 * # A-D and w (a 0.5 s pause) are allowed")
    channel_id = channel_id or f"sim-{uuid.uuid4().hex[:16]}"
    # Leading underscores make the far half inherit the variables (Local channels copy them).
    all_variables = {
        **(variables or {}),
        "__SIM_DTMF": digits,
        "__SIM_DELAY": f"{delay_s:g}",
        "__SIM_HOLD": f"{hold_s:g}",
        "__SIM_DTMF_MS": str(dtmf_ms),
        "__SIM_DRIVER": driver_app or "",
    }
    return await client.originate(
        SIM_CALLER_ENDPOINT,
        channel_id=channel_id,
        other_channel_id=f"{channel_id}-far",
        caller_id=f'"{caller_name}" <{caller_number}>',
        variables=all_variables,
        app=app,
        app_args=app_args,
        context=None if app else context,
        extension=None if app else extension,
    )


def sim_agent_endpoint(agent: str) -> str:
    """The dial string of simulated agent ``agent`` (digits only, e.g. '1001')."""
    if not agent.isdigit():
        raise ValueError(f"simulated agent {agent!r}: the id must be digits (it is a dialplan extension)")
    return f"Local/{agent}@{AGENT_SIM_CONTEXT}"


async def set_agent_timing(client: AriClient, agent: str, *, ring_s: float, talk_s: float = 3600) -> None:
    """Make simulated agent ``agent`` ring ``ring_s`` seconds before answering, then talk ``talk_s``."""
    sim_agent_endpoint(agent)  # validates the id
    await client.set_global_var(f"SIM_RING_{agent}", f"{ring_s:g}")
    await client.set_global_var(f"SIM_TALK_{agent}", f"{talk_s:g}")


def acd_entry(router: QueueRouter) -> Callable[[Event], Awaitable[None]]:
    """An event handler for a Stasis app where simulated callers enter the ACD.

    Callers placed with ``app_args="caller,<queue>"`` (or ``"caller,<queue>,<priority>"``) are
    enqueued in that queue; holds of a conversation are recorded as the service's call tracker
    records them (``cti.calls.holds``); every other event goes to the router. Tests, benches and
    demos use it in place of an IVR.
    """
    holds = HoldRecorder(router, router.outbox)

    async def handle(event: Event) -> None:
        if await holds.handle(event):
            return
        if isinstance(event, StasisStart) and event.args[:1] == ("caller",) and len(event.args) > 1:
            priority = int(event.args[2]) if len(event.args) > 2 else 0
            await router.enqueue(event.channel, event.args[1], priority=priority)
        else:
            await router.handle(event)

    return handle
