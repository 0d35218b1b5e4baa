"""A thin, typed asyncio client for ARI's REST side, on aiohttp.

We write our own because the ARI libraries on PyPI are synchronous (ari-py) or never
reconnect their websocket, and build their API from a live Asterisk. Each method maps to one
declared ``Route`` (``cti.ari.routes``), which a test checks against Asterisk's own spec.

Credentials travel in the Authorization header, never in a URL, so neither logs nor error
messages can leak them. Every failure becomes a ``cti.errors`` exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError

from cti.ari import routes
from cti.ari.models import Application, AsteriskInfo, Bridge, Channel, Playback, Variable
from cti.errors import AriNotFound, AriProtocolError, AriUnavailable, ari_error_for

ModelT = TypeVar("ModelT", bound=BaseModel)
QueryValue = str | int | float | bool | Sequence[str] | None


def _query_pairs(route: routes.Route, query: Mapping[str, QueryValue]) -> list[tuple[str, str]]:
    unknown = set(query) - route.query
    if unknown:
        raise ValueError(f"{route.method} {route.path}: no such query parameter {sorted(unknown)}")
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            pairs.append((name, str(value)))
        else:
            # allowMultiple parameters (media, channel) are one comma-separated value: Asterisk's
            # generated handlers split it on commas, and a repeated parameter overwrites the last.
            pairs.append((name, ",".join(value)))
    return pairs


def _variables(variables: Mapping[str, str] | None) -> dict[str, Any] | None:
    return {"variables": dict(variables)} if variables else None


class AriClient:
    """REST calls to one Asterisk. Create it inside a running event loop; close it after."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Sent as a header on every request and on the websocket upgrade: never in a URL.
        self.auth_headers = {"Authorization": aiohttp.encode_basic_auth(username, password)}
        self._session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._session

    async def close(self) -> None:
        if self._owns_session:
            await self._session.close()

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def request(
        self,
        route: routes.Route,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one declared operation; return the decoded JSON (None for 204)."""
        path = route.path.format(**{k: quote(v, safe="") for k, v in (path_params or {}).items()})
        if body and not set(body) <= route.body:
            raise ValueError(f"{route.method} {route.path}: no such body parameter {sorted(set(body))}")
        try:
            async with self._session.request(
                route.method,
                self.base_url + path,
                params=_query_pairs(route, query or {}),
                json=dict(body) if body else None,
                headers=self.auth_headers,
            ) as response:
                if response.status >= 400:
                    raise ari_error_for(response.status, await _error_message(response), route.method, path)
                if response.status == 204 or response.content_length == 0:
                    return None
                try:
                    return await response.json(content_type=None)
                except ValueError as exc:
                    raise AriProtocolError(f"ARI {route.method} {path}: the answer is not JSON") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise AriUnavailable(
                f"ARI at {self.base_url} did not answer {route.method} {path}: {exc!r}"
            ) from exc

    async def _get(self, model: type[ModelT], route: routes.Route, **kwargs: Any) -> ModelT:
        data = await self.request(route, **kwargs)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise AriProtocolError(
                f"ARI {route.method} {route.path}: unexpected {model.__name__}: {exc}"
            ) from exc

    async def _list(self, model: type[ModelT], route: routes.Route) -> list[ModelT]:
        data = await self.request(route)
        try:
            return [model.model_validate(item) for item in data]
        except (ValidationError, TypeError) as exc:
            raise AriProtocolError(
                f"ARI {route.method} {route.path}: unexpected list of {model.__name__}"
            ) from exc

    # --- asterisk -------------------------------------------------------------------------
    async def asterisk_info(self) -> AsteriskInfo:
        return await self._get(AsteriskInfo, routes.ASTERISK_INFO)

    async def set_global_var(self, variable: str, value: str) -> None:
        await self.request(routes.SET_GLOBAL_VAR, query={"variable": variable, "value": value})

    # --- channels -------------------------------------------------------------------------
    async def list_channels(self) -> list[Channel]:
        return await self._list(Channel, routes.CHANNELS_LIST)

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._get(Channel, routes.CHANNEL_GET, path_params={"channelId": channel_id})

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        other_channel_id: str | None = None,
        app: str | None = None,
        app_args: str | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        caller_id: str | None = None,
        timeout_s: int | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Place a call to ``endpoint``; on answer it enters ``app`` or the dialplan location."""
        query: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "app": app,
            "appArgs": app_args,
            "context": context,
            "extension": extension,
            "priority": priority,
            "callerId": caller_id,
            "timeout": timeout_s,
        }
        return await self._get(Channel, routes.CHANNEL_ORIGINATE, query=query, body=_variables(variables))

    async def create_channel(
        self,
        endpoint: str,
        *,
        app: str,
        channel_id: str,
        other_channel_id: str | None = None,
        app_args: str | None = None,
        originator: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Create a channel without dialling it: wait for its StasisStart, then ``dial``."""
        query: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
        }
        return await self._get(Channel, routes.CHANNEL_CREATE, query=query, body=_variables(variables))

    async def dial(self, channel_id: str, *, caller: str | None = None, timeout_s: int | None = None) -> None:
        await self.request(
            routes.CHANNEL_DIAL,
            path_params={"channelId": channel_id},
            query={"caller": caller, "timeout": timeout_s},
        )

    async def answer(self, channel_id: str) -> None:
        await self.request(routes.CHANNEL_ANSWER, path_params={"channelId": channel_id})

    async def play(
        self, channel_id: str, playback_id: str, media: str | Sequence[str], *, lang: str | None = None
    ) -> Playback:
        """Play one media URI, or several in turn (``sound:x``, ``sound:/abs/path``, ``tone:ring``)."""
        return await self._get(
            Playback,
            routes.CHANNEL_PLAY,
            path_params={"channelId": channel_id, "playbackId": playback_id},
            query={"media": media, "lang": lang},
        )

    async def send_dtmf(self, channel_id: str, digits: str, *, duration_ms: int | None = None) -> None:
        """Key ``digits`` on a channel (towards its peer: a simulated caller pressing keys)."""
        await self.request(
            routes.CHANNEL_DTMF,
            path_params={"channelId": channel_id},
            query={"dtmf": digits, "duration": duration_ms},
        )

    async def hangup(self, channel_id: str, reason: str = "normal", *, missing_ok: bool = False) -> None:
        """Hang up with a reason Asterisk maps to a cause (normal, busy, congestion, no_answer...).

        ``missing_ok``: a channel already gone is fine (the far end hung up first), not an error.
        """
        try:
            await self.request(
                routes.CHANNEL_HANGUP, path_params={"channelId": channel_id}, query={"reason": reason}
            )
        except AriNotFound:
            if not missing_ok:
                raise

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        await self.request(
            routes.CHANNEL_CONTINUE,
            path_params={"channelId": channel_id},
            query={"context": context, "extension": extension, "priority": priority, "label": label},
        )

    async def start_channel_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        """Music on hold to one channel (a caller waiting in a queue)."""
        await self.request(
            routes.CHANNEL_MOH_START, path_params={"channelId": channel_id}, query={"mohClass": moh_class}
        )

    async def stop_channel_moh(self, channel_id: str) -> None:
        await self.request(routes.CHANNEL_MOH_STOP, path_params={"channelId": channel_id})

    async def get_variable(self, channel_id: str, variable: str) -> str:
        found = await self._get(
            Variable,
            routes.CHANNEL_GET_VAR,
            path_params={"channelId": channel_id},
            query={"variable": variable},
        )
        return found.value

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request(
            routes.CHANNEL_SET_VAR,
            path_params={"channelId": channel_id},
            query={"variable": variable, "value": value},
        )

    # --- bridges --------------------------------------------------------------------------
    async def list_bridges(self) -> list[Bridge]:
        return await self._list(Bridge, routes.BRIDGES_LIST)

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return await self._get(Bridge, routes.BRIDGE_GET, path_params={"bridgeId": bridge_id})

    async def create_bridge(
        self, bridge_id: str, *, bridge_type: str = "mixing", name: str | None = None
    ) -> Bridge:
        return await self._get(
            Bridge,
            routes.BRIDGE_CREATE,
            path_params={"bridgeId": bridge_id},
            query={"type": bridge_type, "name": name},
        )

    async def add_channel(
        self, bridge_id: str, channel_ids: str | Sequence[str], *, role: str | None = None
    ) -> None:
        channels = channel_ids if isinstance(channel_ids, str) else ",".join(channel_ids)
        await self.request(
            routes.BRIDGE_ADD_CHANNEL,
            path_params={"bridgeId": bridge_id},
            query={"channel": channels, "role": role},
        )

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request(
            routes.BRIDGE_REMOVE_CHANNEL, path_params={"bridgeId": bridge_id}, query={"channel": channel_id}
        )

    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request(
            routes.BRIDGE_MOH_START, path_params={"bridgeId": bridge_id}, query={"mohClass": moh_class}
        )

    async def stop_moh(self, bridge_id: str) -> None:
        await self.request(routes.BRIDGE_MOH_STOP, path_params={"bridgeId": bridge_id})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request(routes.BRIDGE_DESTROY, path_params={"bridgeId": bridge_id})

    # --- applications and playbacks -------------------------------------------------------
    async def get_application(self, name: str) -> Application:
        return await self._get(Application, routes.APPLICATION_GET, path_params={"applicationName": name})

    async def subscribe(self, name: str, event_source: str) -> Application:
        """Subscribe our app to a resource's events (``channel:<id>``, ``bridge:<id>``...)."""
        return await self._get(
            Application,
            routes.APPLICATION_SUBSCRIBE,
            path_params={"applicationName": name},
            query={"eventSource": event_source},
        )

    async def get_playback(self, playback_id: str) -> Playback:
        """A playback still queued or playing; ``AriNotFound`` once it is over."""
        return await self._get(Playback, routes.PLAYBACK_GET, path_params={"playbackId": playback_id})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request(routes.PLAYBACK_STOP, path_params={"playbackId": playback_id})

    # --- events websocket -----------------------------------------------------------------
    def events_url(self, app: str) -> str:
        """The websocket URL for ``app`` (no credentials in it: they go in the header)."""
        ws_base = "ws" + self.base_url.removeprefix("http")
        return f"{ws_base}{routes.EVENTS_WEBSOCKET.path}?app={quote(app)}&subscribeAll=false"


async def _error_message(response: aiohttp.ClientResponse) -> str:
    text = await response.text()
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return text.strip() or response.reason or ""
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return text.strip()
