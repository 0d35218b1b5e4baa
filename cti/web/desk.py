"""What the desktop's routes act through, built once by ``cti.app`` (or a test) with the live
state, the outbox and the store: ``build_web_app(settings, desk=...)`` adds the routes."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from cti.desk.agent_control import AgentControl
from cti.desk.disposing import DispositionDesk
from cti.desk.dispositions import Dispositions


@dataclass(frozen=True)
class Desk:
    control: AgentControl
    dispositions: Dispositions
    recorder: DispositionDesk


DESK: web.AppKey[Desk] = web.AppKey("desk", Desk)
