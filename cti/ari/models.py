"""ARI resources as typed, immutable models (the subset of fields the CTI reads).

Unknown fields are ignored, so a newer Asterisk that adds fields does not break parsing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AriModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallerId(AriModel):
    name: str = ""
    number: str = ""


class DialplanCEP(AriModel):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    dialplan: DialplanCEP = DialplanCEP()
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None

    @property
    def stasis_args(self) -> tuple[str, ...] | None:
        """The Stasis arguments of a channel in a Stasis app (``app_data`` is ``app,arg1,...``);
        None for a channel running anything else (the far half of a Local channel, say)."""
        if self.dialplan.app_name != "Stasis":
            return None
        return tuple(self.dialplan.app_data.split(",")[1:])


class Bridge(AriModel):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()
    creationtime: str = ""


class Playback(AriModel):
    id: str
    media_uri: str = ""
    next_media_uri: str = ""
    target_uri: str = ""
    language: str = ""
    state: str = ""


class StatusInfo(AriModel):
    startup_time: str
    last_reload_time: str = ""


class SystemInfo(AriModel):
    version: str = ""
    entity_id: str = ""


class AsteriskInfo(AriModel):
    """GET /asterisk/info. ``status.startup_time`` changes when Asterisk restarts."""

    status: StatusInfo
    system: SystemInfo = SystemInfo()


class Application(AriModel):
    """GET /applications/{name}: what our Stasis app is subscribed to right now."""

    name: str
    channel_ids: tuple[str, ...] = ()
    bridge_ids: tuple[str, ...] = ()
    endpoint_ids: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()


class Variable(AriModel):
    value: str = ""
