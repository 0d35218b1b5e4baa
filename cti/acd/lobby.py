"""What a caller hears while waiting in the ACD: the imperative shell of ``announcements``.

Music on hold starts after a short grace (a caller with an idle agent is ringing within
milliseconds, and music for every caller would cost Asterisk a media stream per call: a burst
of 50 saturated this 2-core machine). Every ``announce_every_s`` the music pauses for the
caller's position and expected wait, spoken through TTS in the caller's language, with the
callback offer when the queue has a callback key (and the caller's number is one the dial guard
could call back at all); the music resumes when the announcement ends.
A caller who pressed the callback key hears the confirmation, then the line is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from cti.acd.announcements import (
    callback_confirmation,
    callback_refused,
    expected_wait_s,
    position_announcement,
    serving,
)
from cti.acd.model import AcdConfig, QueueConfig
from cti.acd.session import Waiting
from cti.ari.client import AriClient
from cti.ari.events import PlaybackFinished
from cti.errors import AriConflict, AriError, AriNotFound, CtiError
from cti.live.acd_state import AcdState
from cti.tts.renderer import Prompts

log = logging.getLogger(__name__)

MOH_GRACE_S = 0.5  # a caller still waiting after this hears music on hold
ANNOUNCE, CONFIRM = "announce", "confirm"

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


class Lobby:
    """Music, announcements and the callback confirmation for the callers of one router."""

    def __init__(
        self,
        ari: AriClient,
        state: AcdState,
        config: AcdConfig,
        prompts: Prompts | None,
        spawn: Spawn,
        callable_back: Callable[[str], bool],
    ) -> None:
        self.ari = ari
        self.state = state
        self.config = config
        self.prompts = prompts
        self._spawn = spawn
        self._callable_back = callable_back  # a number that could be called back at all
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}  # call id -> music, announcer
        self._music_on: set[str] = set()
        self._playing: dict[str, tuple[Waiting, str]] = {}  # playback id -> (session, purpose)

    def enter(self, session: Waiting, queue: QueueConfig) -> None:
        """The caller joined ``queue``: music after the grace, announcements now and then."""
        tasks = [self._spawn(self._music_after_grace(session, queue.moh_class))]
        if self.prompts is not None and queue.announce_every_s > 0:
            tasks.append(self._spawn(self._announce_every(session, queue)))
        self._tasks[session.entry.call_id] = tasks

    async def leave(self, session: Waiting) -> None:
        """The caller leaves the line (answered, overflowed, gone): silence the lobby."""
        call_id = session.entry.call_id
        for task in self._tasks.pop(call_id, []):
            if task is not asyncio.current_task():
                task.cancel()
        await self._quiet(call_id)

    async def confirm_callback(self, session: Waiting) -> None:
        """Say that the callback is booked, then clear the line (at once without a voice)."""
        await self.leave(session)
        if self.prompts is None or not await self._say(
            session, callback_confirmation(session.callback_number or "", session.language), CONFIRM
        ):
            await self.ari.hangup(session.entry.call_id, missing_ok=True)

    async def refuse_callback(self, session: Waiting) -> None:
        """Say that no callback is possible; the music resumes and the caller keeps waiting."""
        if self.prompts is not None:
            await self._say(session, callback_refused(session.language), ANNOUNCE)

    async def handle(self, event: PlaybackFinished) -> bool:
        """An announcement ended (music resumes) or the confirmation did (the line is cleared)."""
        playing = self._playing.pop(event.playback.id, None)
        if playing is None:
            return False
        session, purpose = playing
        if purpose == CONFIRM:
            await self.ari.hangup(session.entry.call_id, missing_ok=True)
        elif session.waiting and not session.serving_callback and session.entry.call_id in self._tasks:
            await self._music(session, self.config.queue(session.entry.queue).moh_class)
        return True

    # --- inside ------------------------------------------------------------------------------
    async def _music_after_grace(self, session: Waiting, moh_class: str) -> None:
        await asyncio.sleep(MOH_GRACE_S)
        if session.waiting and not self._speaking(session.entry.call_id):
            await self._music(session, moh_class)

    async def _music(self, session: Waiting, moh_class: str) -> None:
        self._music_on.add(session.entry.call_id)  # before the request: a leave meanwhile stops it
        with contextlib.suppress(AriNotFound, AriConflict):
            await self.ari.start_channel_moh(session.entry.call_id, moh_class)

    async def _announce_every(self, session: Waiting, queue: QueueConfig) -> None:
        while True:
            await asyncio.sleep(queue.announce_every_s)
            if not session.waiting:
                return  # answered, gone, or a callback now
            if session.ringing or self._speaking(session.entry.call_id):
                continue  # an agent is ringing: the call may be answered mid-sentence
            try:
                position = await self.state.position(session.entry)
            except KeyError:
                return  # no longer in line
            staffed, handle_s = serving(queue, await self.state.snapshots(self.config.agents))
            # No callback offered to a number the dial guard would never dial (none, forged, foreign).
            number = session.caller_number
            offer = queue.callback_key if number and self._callable_back(number) else None
            text = position_announcement(
                position, expected_wait_s(position, staffed, handle_s), session.language, offer
            )
            await self._say(session, text, ANNOUNCE)

    async def _say(self, session: Waiting, text: str, purpose: str) -> bool:
        """Pause the music and speak ``text`` to the caller; False if it cannot be played."""
        assert self.prompts is not None
        call_id = session.entry.call_id
        playback_id = f"acd-say-{uuid.uuid4().hex[:16]}"
        try:
            media = await self.prompts.sound_uri(text, session.language)
            await self._quiet(call_id)
            self._playing[playback_id] = (session, purpose)
            await self.ari.play(call_id, playback_id, media)
        except (CtiError, OSError, ValueError) as exc:
            self._playing.pop(playback_id, None)
            log.warning("acd: %s not played: %s", purpose, exc, extra={"channel": call_id})
            return False
        return True

    def _speaking(self, call_id: str) -> bool:
        return any(session.entry.call_id == call_id for session, _ in self._playing.values())

    async def _quiet(self, call_id: str) -> None:
        """Stop the music and any announcement on the caller's channel."""
        if call_id in self._music_on:
            self._music_on.discard(call_id)
            with contextlib.suppress(AriNotFound, AriConflict):  # gone, or left our app already
                await self.ari.stop_channel_moh(call_id)
        for playback_id, (session, purpose) in list(self._playing.items()):
            if session.entry.call_id == call_id and purpose == ANNOUNCE:
                self._playing.pop(playback_id, None)
                with contextlib.suppress(AriError):  # it may be ending on its own
                    await self.ari.stop_playback(playback_id)
