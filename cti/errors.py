"""The one exception tree of hotline-cti.

Third-party errors (aiohttp, redis, SQLAlchemy, pydantic) are mapped at the edge that meets
them, with ``raise ... from exc``, so callers catch ours only. Domain errors carry no HTTP
status; only ``AriError`` does, because it reports what Asterisk answered.

    CtiError
    ├── ConfigError               a setting is missing or wrong: names the key and where it came from
    ├── FlowError                 an IVR flow is invalid: every problem with file, line, node (cti.ivr)
    ├── SchemaOutdated            the SQL store lacks the current migration: run `cti db upgrade`
    ├── AppInUse                  another running instance holds our ARI app name (cti.live.lease)
    ├── ServiceUnavailable        Redis, the SQL database or Asterisk cannot be reached
    │   ├── AriUnavailable        ARI did not answer (connection refused, timeout, broken socket)
    │   └── TtsUnavailable        a prompt cannot be rendered: espeak-ng or a voice is missing (cti.tts)
    ├── AriProtocolError          ARI answered something we cannot read (not JSON, wrong shape)
    └── AriError                  ARI answered with an error status
        ├── AriBadRequest         400: a parameter is wrong
        ├── AriAuthError          401/403: credentials refused
        ├── AriNotFound           404: no such channel, bridge, playback or application
        ├── AriConflict           409: wrong state (e.g. dial before StasisStart)
        ├── AriUnprocessable      422: a referenced resource is missing (e.g. unknown endpoint)
        ├── AriServerError        5xx
        └── ApplicationReplaced   another connection took our Stasis application name
"""

from __future__ import annotations


class CtiError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(CtiError):
    """A setting is missing or invalid; ``source`` is the file or environment variable."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


class SchemaOutdated(CtiError):
    """The SQL store is missing the schema or is at an older migration."""


class AppInUse(CtiError):
    """Another instance, alive (its heartbeat is fresh), serves the same ARI app name.

    Starting anyway would make Asterisk hand the app to us and send the other one
    ``ApplicationReplaced``: two services would fight over the same calls.
    """

    def __init__(self, app: str, holder: str) -> None:
        self.app = app
        self.holder = holder
        super().__init__(
            f"ARI app {app!r} is already served by a running instance ({holder}); "
            "stop it first, or give this one its own [ari] app"
        )


class ServiceUnavailable(CtiError):
    """A service the CTI depends on cannot be reached."""


class AriUnavailable(ServiceUnavailable):
    """ARI could not be reached at all (no HTTP answer)."""


class TtsUnavailable(ServiceUnavailable):
    """Prompt text cannot be turned into sound: espeak-ng or a voice is missing, or it failed.

    The message says how to fix it (the install command when espeak-ng is missing); callers
    can go on without the prompt rather than drop the call.
    """


class AriProtocolError(CtiError):
    """ARI answered with a body we cannot read: a bug on one side, or a version drift."""


class AriError(CtiError):
    """ARI answered a request with an error status.

    The message never includes credentials: only the method, the path (ids, no query
    string) and Asterisk's own message.
    """

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f" {method} {path}" if method else ""
        super().__init__(f"ARI{where} -> {status}: {message}")


class AriBadRequest(AriError):
    """400: a parameter is missing or malformed."""


class AriAuthError(AriError):
    """401 or 403: ARI refused our credentials."""


class AriNotFound(AriError):
    """404: the channel, bridge, playback or application does not exist (any more)."""


class AriConflict(AriError):
    """409: the resource is in the wrong state for the request."""


class AriUnprocessable(AriError):
    """422: a resource named in the request (endpoint, bridge, channel) is missing."""


class AriServerError(AriError):
    """5xx: Asterisk failed internally."""


class ApplicationReplaced(AriError):
    """Another websocket subscribed to our Stasis application name and took its events.

    Two CTI instances must not share one ARI application name: events would go to only one of
    them. The event stream stops instead of reconnecting (which would steal the name back and
    forth).
    """

    def __init__(self, app: str) -> None:
        super().__init__(
            409,
            f"Stasis application {app!r} was taken over by another connection; "
            "each service instance needs its own [ari] app name",
        )
        self.app = app


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriAuthError,
    403: AriAuthError,
    404: AriNotFound,
    409: AriConflict,
    422: AriUnprocessable,
}


def ari_error_for(status: int, message: str, method: str, path: str) -> AriError:
    """The typed error for an ARI error status."""
    cls = _BY_STATUS.get(status, AriServerError if status >= 500 else AriError)
    return cls(status, message, method, path)
