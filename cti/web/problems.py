"""Errors as JSON bodies ``{error_id, message, details}``; the error_id is in the log line too."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from cti.errors import CtiError, ServiceUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses: an HTTP status, a message for the caller, optional details."""

    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def _body(
    status: int, message: str, details: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    error_id = uuid.uuid4().hex[:12]
    log.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "HTTP %s: %s",
        status,
        message,
        extra={"error_id": error_id},
    )
    body = {"error_id": error_id, "message": message, "details": details}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return _body(exc.status, exc.message, exc.details, exc.headers)
    except web.HTTPException as exc:  # aiohttp's own 404, 405...
        return _body(exc.status, exc.reason, {})
    except ServiceUnavailable as exc:
        return _body(503, str(exc), {})
    except CtiError as exc:
        return _body(500, str(exc), {})


async def json_object(
    request: web.Request, *, shape: str = "a JSON object", empty_ok: bool = False
) -> dict[str, Any]:
    """The request's body as a JSON object, else a 400 saying what it must be (``shape``); an
    empty body is an empty object where ``empty_ok`` (a command with no options)."""
    if empty_ok and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be {shape}")
    return body
