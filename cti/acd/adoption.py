"""After a reconnect or a restart, what Asterisk holds is the truth: the ACD's reconciliation.

The events the websocket did not deliver while it was away are caught up from the channels
and bridges the ``Resynced`` notice lists; the calls this app held before a restart are
adopted from their records (``OwnedCalls``) or closed with the events they missed. A channel
in a bridge is never sent anywhere: a conversation whose two legs are there is followed to its
end. This module is the router's own (it reads and drives ``QueueRouter``'s rooms); it
lives apart so the router's routing code stays readable.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cti.acd.agents import Command
from cti.acd.model import AgentState, QueueConfig
from cti.acd.session import AGENT_LEG, CUSTOMER_LEG, Waiting
from cti.ari.events import Resynced
from cti.ari.models import Channel
from cti.events import EventKind, fit_caller_number
from cti.live.owned import Reconciled

if TYPE_CHECKING:
    from cti.acd.router import QueueRouter

log = logging.getLogger("cti.acd.router")


async def reconcile(router: QueueRouter, notice: Resynced) -> Reconciled:
    """Catch up with what happened while the events were away, and adopt the calls this app
    held before a restart; never take a channel out of a bridge.

    Each call in hand is compared with the channels Asterisk reports (``_catch_up``); each
    record of a call this app owned that is not in hand is adopted or closed (``_adopt``);
    agent and customer legs nobody holds are hung up, and agents left ringing or talking
    for a call of ours that is over are freed. Returns the channels the ACD owns.
    """
    alive = {channel.id: channel for channel in notice.channels}
    ended: set[str] = set()
    for session in list(router.calls.values()):
        ended |= await _catch_up(router, session, alive)
    records = await router.owned.load()
    for call_id, record in records.items():
        if call_id not in router.calls:
            ended |= await _adopt(router, call_id, record, notice, alive)
    await _hang_up_strays(router, alive)
    await _free_agents(router, set(records) | set(alive))
    router.books.spawn(router.dispatch())
    callers = frozenset(c for c, s in router.calls.items() if not s.serving_callback and c in alive)
    legs = frozenset(router.legs) | frozenset(router.customer_legs)
    return Reconciled(callers=callers, legs=legs, ended=frozenset(ended))


async def _catch_up(router: QueueRouter, session: Waiting, alive: dict[str, Channel]) -> set[str]:
    """The events of one call in hand that the outage hid: legs that entered our app,
    answered or ended, and a caller who hung up."""
    for channel_id in list(session.ringing):
        channel = alive.get(channel_id)
        if channel is None and channel_id in router.books.in_stasis:
            await router.outcomes.leg_gone(channel_id)
        elif channel is not None and channel_id not in router.books.in_stasis:
            router.books.in_stasis.add(channel_id)  # its StasisStart was missed: it was never dialled
            router.books.spawn(router.routing.dial(channel_id))
        elif channel is not None and channel.state == "Up":
            await router.outcomes.answered(channel_id)
    if session.agent_channel and session.agent_channel not in alive and not session.done:
        await router.outcomes.leg_gone(session.agent_channel)
    customer = session.customer_channel
    if customer and customer in router.books.in_stasis and customer not in alive and not session.done:
        async with session.lock:
            router.customer_legs.pop(customer, None)
            session.customer_channel = None
            await router.outcomes.finish(
                session, by="customer" if session.customer_answered else "customer_no_answer"
            )
    if not session.serving_callback and session.entry.call_id not in alive:
        await router.outcomes.caller_gone(session.entry.call_id)
        return {session.entry.call_id}
    return set()


async def _adopt(
    router: QueueRouter, call_id: str, record: dict[str, Any], notice: Resynced, alive: dict[str, Channel]
) -> set[str]:
    """A call this app held before it restarted: take it up again, or close it.

    Bridged conversations whose two legs are still there are followed to their end; a
    conversation that lost a leg is ended for the other. A waiting caller goes back in line
    at its place (the entry keeps its arrival time). A callback being served is given back
    to the line. Returns the call id if the caller is gone (its end was missed).
    """
    try:
        session = Waiting.from_record(call_id, record)
    except ValueError as exc:
        log.error("acd: %s; dropped", exc)
        await router.owned.drop(call_id)
        return set()
    queue = router.queues.get(session.entry.queue)
    caller = alive.get(call_id)
    if queue is None:
        log.error("acd: adopted call in unknown queue %s; dropped", session.entry.queue)
        await router.owned.drop(call_id)
        return set() if caller else {call_id}
    if caller is not None:
        session.caller_number = fit_caller_number(caller.caller.number) or session.caller_number
    if session.agent is not None:
        await _adopt_talk(router, session, notice, alive)
    elif session.serving_callback:
        await router.books.forget(session)
        await router.state.release_callback(call_id)
    elif caller is None and session.callback_number is not None:  # booked, then hung up
        await router.books.forget(session)
        await router.callbacks.publish(call_id)
    elif caller is None:
        await router.books.forget(session)
        await router.state.dequeue(session.entry)
        await router.books.record(
            EventKind.ABANDONED, session, data={"wait_s": session.entry.wait_s(router.clock())}
        )
    elif session.callback_number is not None:  # hung up on while hearing the confirmation:
        router.calls[call_id] = session  # held, so the call's end is recorded, and its hang-up
        await router.ari.hangup(call_id, missing_ok=True)  # publishes the callback (caller_gone)
    else:
        await _back_in_line(router, session, queue)
    return set() if caller is not None or session.serving_callback else {call_id}


async def _adopt_talk(
    router: QueueRouter, session: Waiting, notice: Resynced, alive: dict[str, Channel]
) -> None:
    call_id, agent_channel = session.entry.call_id, session.agent_channel or ""
    other = session.customer_channel if session.serving_callback else call_id
    router.calls[call_id] = session
    router.legs[agent_channel] = call_id
    router.books.in_stasis.add(agent_channel)
    if session.serving_callback and other:
        router.customer_legs[other] = call_id
        router.books.in_stasis.add(other)
    bridge = notice.bridge_of(agent_channel)
    if bridge is not None:
        session.bridge_id = bridge.id
    if agent_channel in alive and other in alive:
        log.warning(
            "acd: conversation adopted",
            extra={"channel": call_id, "agent": session.agent, "bridge": session.bridge_id},
        )
        return
    async with session.lock:
        await router.outcomes.finish(session, by="agent" if other in alive else "caller")


async def _back_in_line(router: QueueRouter, session: Waiting, queue: QueueConfig) -> None:
    """An adopted waiting caller: in line again with its own arrival time, so its place."""
    log.warning("acd: waiting caller adopted", extra={"channel": session.entry.call_id, "queue": queue.name})
    router.calls[session.entry.call_id] = session
    session.position = await router.state.enqueue(session.entry, owner=router.app)
    router.lobby.enter(session, queue)
    router.line.start_timers(session, queue)


async def _hang_up_strays(router: QueueRouter, alive: dict[str, Channel]) -> None:
    """Agent and customer legs of our app that no call in hand owns (their call ended, or
    they rang for a caller now back in line): hang them up, they ring for nobody."""
    for channel in alive.values():
        args = channel.stasis_args or ()
        stray_agent = args[:1] == (AGENT_LEG,) and channel.id not in router.legs
        stray_customer = args[:1] == (CUSTOMER_LEG,) and channel.id not in router.customer_legs
        if stray_agent or stray_customer:
            log.warning("acd: leg of no call hung up", extra={"channel": channel.id})
            await router.ari.hangup(channel.id, missing_ok=True)


async def _free_agents(router: QueueRouter, ours: set[str]) -> None:
    """Agents Redis shows ringing or talking for a call of ours that no session holds any
    more (it ended while nobody watched): ringing is cancelled, a conversation ends in
    wrap-up, so nobody sits 'on call' with no call."""
    held = {
        agent_id: session.entry.call_id
        for session in router.calls.values()
        for agent_id in [*session.ringing.values(), *([session.agent] if session.agent else [])]
    }
    for agent_id in router.agents:
        status, _ = await router.state.agent(agent_id)
        call_id = status.call_id or ""
        if call_id not in ours or held.get(agent_id) == call_id:
            continue
        if status.state is AgentState.RINGING:
            await router.books.agent(agent_id, Command.CANCEL, router.clock())
        elif status.state is AgentState.ON_CALL:
            await router.books.agent(agent_id, Command.HANG_UP, router.clock())
            await router.books.agent(agent_id, Command.WRAPUP_DONE, router.clock())
