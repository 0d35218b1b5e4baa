"""Drives the pure IVR state machine over ARI, one session per caller.

The interpreter (``cti.ivr.interpreter.step``) decides; this module only translates: Asterisk
events become machine events (a key, a finished prompt, the caller gone), and machine actions
become ARI requests (play, stop, hang up), timers, customer lookups and call events. The
contract it honours is in ``cti.ivr.messages``.

Every call's steps run under that call's lock, because besides the ARI events (already in order
per channel) timers and lookups feed the machine from their own tasks. A timer carries a
generation number, so one that fires just as a key arrives is dropped instead of counting as a
timeout. Prompts are sent to Asterisk as they come: Asterisk plays a channel's playbacks in
turn, so a step's prompts follow each other without a round trip in between, and a barge-in
stops the playing one and every queued one.

A prompt that cannot be rendered or played is logged and counted as heard (the machine gets its
``PromptFinished`` at once), so a broken voice or sound file never leaves a caller in silence
waiting for a prompt that will not end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from cti.ari.client import AriClient
from cti.ari.events import ChannelDestroyed, ChannelDtmfReceived, PlaybackFinished, Resynced, StasisEnd
from cti.ari.events import Event as AriEvent
from cti.ari.models import Channel
from cti.errors import AriError, AriNotFound, CtiError
from cti.events import EventKind
from cti.ivr.call_events import call_event, journey_event
from cti.ivr.hours import next_opening
from cti.ivr.interpreter import step
from cti.ivr.messages import (
    Action,
    CallState,
    Digit,
    Event,
    FlowContext,
    HangUp,
    Hangup,
    Journey,
    Lookup,
    LookupResult,
    OfferCallback,
    Phase,
    Play,
    PromptFinished,
    Resumed,
    Route,
    Started,
    StartTimer,
    StopPlayback,
    Timeout,
    Transfer,
)
from cti.ivr.model import Flow
from cti.live.outbox import EventOutbox
from cti.live.owned import OwnedCalls, Reconciled
from cti.outbound.intake import LeadIntake
from cti.tts.renderer import Prompts

log = logging.getLogger(__name__)
PROMPT_CHECK_S = 10.0  # how often a prompt still playing is looked up (``_watch_prompt``)

#: Where a ``transfer`` node sends the caller: the dialplan dials ``CTI_TRANSFER_TARGET`` there.
TRANSFER_CONTEXT = "cti-transfer"
TRANSFER_VARIABLE = "CTI_TRANSFER_TARGET"
#: Hang-up reasons that mean the flow itself is wrong (logged as warnings with the call id).
FLOW_DEFECTS = frozenset({"loop", "step_limit", "unknown_node"})


CustomerLookup = Callable[[str, str], Awaitable[Mapping[str, str] | None]]
#: queue, priority, language, and the hand-over context {"flow", "values"} for the screen-pop
RouteToQueue = Callable[[Channel, str, int, str, Mapping[str, Any]], Awaitable[None]]


@dataclass
class IvrCall:
    """One caller in the IVR: the machine's state and what the runner holds for it."""

    channel: Channel
    flow: Flow
    state: CallState = field(default_factory=CallState)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    playbacks: dict[str, str] = field(default_factory=dict)  # playback id -> prompt id, in order
    timer: asyncio.TimerHandle | None = None
    timer_generation: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class IvrRunner:
    """Runs the flows for the callers of one Stasis app."""

    def __init__(
        self,
        ari: AriClient,
        outbox: EventOutbox,
        prompts: Prompts,
        find_customer: CustomerLookup,
        route: RouteToQueue,
        *,
        context: FlowContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lookup_timeout_s: float = 2.0,
        checkpoints: OwnedCalls | None = None,
        leads: LeadIntake | None = None,
    ) -> None:
        self.ari = ari
        self.outbox = outbox
        self.prompts = prompts
        self.find_customer = find_customer
        self.route = route
        self.context = context or FlowContext()
        self.clock = clock
        self.lookup_timeout_s = lookup_timeout_s
        self.checkpoints = checkpoints  # where each caller is, for the next start to resume
        self.leads = leads  # where callback requests become leads; None: events only (tests)
        self.calls: dict[str, IvrCall] = {}
        self._playback_owner: dict[str, str] = {}  # playback id -> channel id

    async def start(self, channel: Channel, flow: Flow) -> None:
        """Run ``flow`` for a caller already answered in our app."""
        call = IvrCall(channel, flow)
        self.calls[channel.id] = call
        await self._feed(call, Started(channel.caller.number, self.clock()))

    async def reconcile(
        self, notice: Resynced, flows: Mapping[str, Flow], taken: frozenset[str]
    ) -> Reconciled:
        """After a (re)connect: close the callers who left while the events were away, finish
        the prompts that ended unseen, and take up again the callers of our last run (a
        restart) at the node they were at. ``taken`` are channels another part owns."""
        alive = {channel.id: channel for channel in notice.channels}
        ended: set[str] = set()
        for channel_id, call in list(self.calls.items()):
            if channel_id not in alive:
                ended.add(channel_id)
                await self._feed(call, Hangup())
            else:
                await self._finish_unseen_prompts(call)
        for channel_id, record in (await self._checkpoints()).items():
            channel, flow = alive.get(channel_id), flows.get(str(record.get("flow")))
            if channel_id in self.calls:
                continue
            if channel is None or flow is None or channel_id in taken or notice.bridge_of(channel_id):
                ended |= {channel_id} if channel is None else set()
                await self._drop_checkpoint(channel_id)
                continue
            await self.resume(channel, flow, record)
        return Reconciled(callers=frozenset(self.calls), ended=frozenset(ended))

    async def resume(self, channel: Channel, flow: Flow, record: Mapping[str, object]) -> None:
        """Take a caller up again at the node the checkpoint names (its prompt plays again)."""
        log.warning("ivr: resuming a caller at %s", record.get("node"), extra={"channel": channel.id})
        call = IvrCall(channel, flow)
        self.calls[channel.id] = call
        started = record.get("started_at")
        variables = record.get("variables")
        await self._feed(
            call,
            Resumed(
                str(record.get("node", flow.entry)),
                channel.caller.number,
                str(record.get("language", "")),
                datetime.fromisoformat(started) if isinstance(started, str) else None,
                {str(k): str(v) for k, v in variables.items()} if isinstance(variables, dict) else {},
            ),
        )

    async def _finish_unseen_prompts(self, call: IvrCall) -> None:
        """A prompt that ended while the events were away would leave the caller in silence,
        the machine waiting for its end: ask Asterisk which are over."""
        for playback_id in list(call.playbacks):
            await self._unless_playing(call, playback_id)

    async def _unless_playing(self, call: IvrCall, playback_id: str) -> bool:
        """Finish the prompt if Asterisk no longer has its playback; True if it still does."""
        try:
            await self.ari.get_playback(playback_id)
            return True
        except AriNotFound:
            if playback_id in call.playbacks:
                log.warning("ivr: a prompt ended unseen", extra={"channel": call.channel.id})
                self._playback_owner.pop(playback_id, None)
                await self._feed(call, PromptFinished(call.playbacks.pop(playback_id, "")))
            return False

    async def _watch_prompt(self, call: IvrCall, playback_id: str) -> None:
        """A prompt whose PlaybackFinished is lost (without a reconnect: Asterisk dropped it, a
        bug) would leave the caller in silence for good, the machine waiting: look now and then
        whether Asterisk still plays it. Most prompts end before the first look."""
        while playback_id in call.playbacks:
            await asyncio.sleep(PROMPT_CHECK_S)
            if playback_id in call.playbacks and not await self._unless_playing(call, playback_id):
                return

    async def handle(self, event: AriEvent) -> bool:
        """Feed an ARI event to the call it concerns; True if it was an IVR caller's."""
        if isinstance(event, ChannelDtmfReceived) and event.channel.id in self.calls:
            await self._feed(self.calls[event.channel.id], Digit(event.digit))
        elif isinstance(event, PlaybackFinished) and event.playback.id in self._playback_owner:
            call = self.calls.get(self._playback_owner.pop(event.playback.id))
            if call is not None:
                prompt_id = call.playbacks.pop(event.playback.id, "")
                await self._feed(call, PromptFinished(prompt_id))
        elif isinstance(event, StasisEnd | ChannelDestroyed) and event.channel.id in self.calls:
            await self._feed(self.calls[event.channel.id], Hangup())
        else:
            return False
        return True

    async def hand_over(self) -> list[str]:
        """The service is stopping: let go of every caller still in a flow (their timers,
        lookups, checkpoints) and return their channels, for the caller to send elsewhere."""
        channels = list(self.calls)
        for call in list(self.calls.values()):
            self._forget(call)
            await self._drop_checkpoint(call.channel.id)
        return channels

    async def aclose(self) -> None:
        """Stop timers and lookups; the checkpoints stay, for the next start to resume."""
        for call in list(self.calls.values()):
            self._forget(call)

    # --- feeding the machine -----------------------------------------------------------------

    async def _feed(self, call: IvrCall, event: Event, timer_generation: int | None = None) -> None:
        async with call.lock:
            if timer_generation is not None and timer_generation != call.timer_generation:
                return  # a timer that fired as another event arrived: no longer the wait we are in
            pending: list[Event] = [event]
            while pending and call.state.phase is not Phase.DONE:
                call.state, actions = step(call.flow, call.state, pending.pop(0), self.context)
                if actions:
                    self._cancel_timer(call)
                pending.extend(await self._carry_out(call, actions))
            if call.state.phase is Phase.DONE:
                self._forget(call)
                await self._drop_checkpoint(call.channel.id)

    async def _carry_out(self, call: IvrCall, actions: tuple[Action, ...]) -> list[Event]:
        """Carry out one step's actions in order; returns events to feed next (skipped prompts)."""
        follow_ups: list[Event] = []
        # The journey is recorded first: it is what happened, whatever becomes of the requests.
        journey = [
            journey_event(call.channel, call.flow, call.state.language, action)
            for action in actions
            if isinstance(action, Journey)
        ]
        if journey:
            await self.outbox.try_record(*journey)
            await self._checkpoint(call)
            for event in journey:  # the journey in the service log: what `cti call` shows
                what = f"key {event.data['key']} at" if "key" in event.data else "node"
                log.info("ivr: %s %s", what, event.data["node"], extra={"channel": call.channel.id})
        for action in actions:
            if isinstance(action, Play):
                if not await self._play(call, action):
                    follow_ups.append(PromptFinished(action.prompt_id))
            elif isinstance(action, StopPlayback):
                await self._stop_prompts(call)
            elif isinstance(action, StartTimer):
                self._start_timer(call, action.seconds)
            elif isinstance(action, Lookup):
                self._spawn(call, self._lookup(call, action))
            elif not isinstance(action, Journey):
                await self._finish(call, action)
        return follow_ups

    # --- actions -----------------------------------------------------------------------------

    async def _play(self, call: IvrCall, action: Play) -> bool:
        """Start (or queue, behind the playing prompt) one prompt; False if it cannot be played."""
        playback_id = f"ivr-{uuid.uuid4().hex}"
        try:
            media = await self._media(action)
            call.playbacks[playback_id] = action.prompt_id
            self._playback_owner[playback_id] = call.channel.id
            await self.ari.play(call.channel.id, playback_id, media)
            self._spawn(call, self._watch_prompt(call, playback_id))
        except AriNotFound:
            return True  # the caller hung up: the Hangup event follows, nothing more to play
        except (CtiError, OSError, ValueError) as exc:  # no voice, no file, nothing to say
            call.playbacks.pop(playback_id, None)
            self._playback_owner.pop(playback_id, None)
            log.error(
                "prompt %s not played: %s",
                action.prompt_id,
                exc,
                extra={"channel": call.channel.id, "flow": call.flow.name},
            )
            return False
        return True

    async def _media(self, action: Play) -> str:
        if action.sound is None:
            return await self.prompts.sound_uri(action.text, action.language)
        return action.sound if ":" in action.sound else f"sound:{action.sound}"

    async def _stop_prompts(self, call: IvrCall) -> None:
        """Barge-in: stop the playing prompt and every queued one.

        A prompt that ends as we stop it makes Asterisk answer 404 or 500 ("Could not stop
        playback"); either way it is over, and the machine no longer waits for it.
        """
        for playback_id in list(call.playbacks):
            self._playback_owner.pop(playback_id, None)
            try:
                await self.ari.stop_playback(playback_id)
            except AriError as exc:
                log.debug("prompt not stopped: %s", exc, extra={"channel": call.channel.id})
        call.playbacks.clear()

    def _start_timer(self, call: IvrCall, seconds: float) -> None:
        generation = call.timer_generation
        call.timer = asyncio.get_running_loop().call_later(
            seconds, lambda: self._spawn(call, self._feed(call, Timeout(), generation))
        )

    def _cancel_timer(self, call: IvrCall) -> None:
        call.timer_generation += 1
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    async def _lookup(self, call: IvrCall, action: Lookup) -> None:
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                fields = await self.find_customer(action.by, action.value)
        except Exception as exc:  # any failure means "not found": the call goes on without the CRM
            log.error("customer lookup by %s failed: %r", action.by, exc, extra={"channel": call.channel.id})
            fields = None
        result = LookupResult(found=False) if fields is None else LookupResult(found=True, fields=fields)
        await self._feed(call, result)

    async def _finish(self, call: IvrCall, action: Action) -> None:
        """The call leaves the IVR: to a queue, a callback request, a transfer or a hang-up."""
        channel = call.channel
        extra = {"channel": channel.id, "flow": call.flow.name, "node": call.state.node}
        if isinstance(action, Route):
            log.info("ivr: to queue %s", action.queue, extra={**extra, "priority": action.priority})
            context = {"flow": call.flow.name, "values": dict(call.state.variables)}
            await self.route(channel, action.queue, action.priority, call.state.language, context)
        elif isinstance(action, OfferCallback):
            await self._callback_requested(call, action.queue)
            await self.ari.hangup(channel.id, missing_ok=True)
        elif isinstance(action, Transfer):
            log.info("ivr: transfer to %s", action.target, extra=extra)
            await self.outbox.try_record(
                call_event(call.channel, EventKind.TRANSFERRED, {"target": action.target, "from": "ivr"})
            )
            with contextlib.suppress(AriNotFound):
                await self.ari.set_variable(channel.id, TRANSFER_VARIABLE, action.target)
                await self.ari.continue_in_dialplan(channel.id, context=TRANSFER_CONTEXT, extension="s")
        elif isinstance(action, HangUp) and action.reason != "caller":
            if action.reason in FLOW_DEFECTS:
                log.warning("ivr: flow defect %s, hanging up", action.reason, extra=extra)
            else:
                log.info("ivr: hang up (%s)", action.reason, extra=extra)
            await self.ari.hangup(channel.id, missing_ok=True)

    async def _callback_requested(self, call: IvrCall, queue: str) -> None:
        """A callback request is a lead (source ``ivr_callback``): the one-minute KPI counts it,
        and it is stored and put in the hopper, due when the center opens."""
        lead_id, channel = uuid.uuid4().hex, call.channel
        log.info("ivr: callback requested for queue %s", queue, extra={"channel": channel.id})
        said: dict[str, object] = {}
        if self.leads is not None:
            now = self.clock()
            opens = next_opening(call.flow, now, self.context.calendar(call.flow))
            said = await self.leads.ivr_callback(
                channel.caller.number, lead_id, channel.id, queue, call.state.language, now=now, due_at=opens
            )
        await self.outbox.try_record(
            call_event(channel, EventKind.CALLBACK_REQUESTED, {"from": "ivr"}, queue=queue, lead_id=lead_id),
            call_event(
                channel,
                EventKind.LEAD_CREATED,
                {"source": "ivr_callback", "language": call.state.language, **said},
                queue=queue,
                lead_id=lead_id,
            ),
        )

    # --- bookkeeping -------------------------------------------------------------------------

    async def _checkpoints(self) -> dict[str, dict[str, object]]:
        if self.checkpoints is None:
            return {}
        try:
            return dict(await self.checkpoints.load())
        except (RedisError, OSError) as exc:
            log.warning("ivr: checkpoints not read: %s", exc)
            return {}

    async def _checkpoint(self, call: IvrCall) -> None:
        """Where the caller is now, so that a restart resumes there (best effort: a call goes on
        without it)."""
        if self.checkpoints is None or call.state.phase is Phase.DONE:
            return
        state = call.state
        record = {
            "flow": call.flow.name,
            "node": state.node,
            "language": state.language,
            "variables": dict(state.variables),
            "started_at": state.started_at.isoformat() if state.started_at else None,
        }
        try:
            await self.checkpoints.save(call.channel.id, record)
        except (RedisError, OSError) as exc:
            log.warning("ivr: checkpoint not saved: %s", exc, extra={"channel": call.channel.id})

    async def _drop_checkpoint(self, channel_id: str) -> None:
        if self.checkpoints is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.checkpoints.drop(channel_id)

    def _spawn(self, call: IvrCall, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except AriError as exc:
                log.error("ivr: %s", exc, extra={"channel": call.channel.id})

        task = asyncio.create_task(run())
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    def _forget(self, call: IvrCall) -> None:
        """The call left the IVR: drop its timers, lookups and playback bookkeeping."""
        self._cancel_timer(call)
        for task in call.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for playback_id in call.playbacks:
            self._playback_owner.pop(playback_id, None)
        self.calls.pop(call.channel.id, None)
