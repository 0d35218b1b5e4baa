"""The HTTP API on a test server, with the project's settings and development tokens, on a
given store; and one request's status and JSON body."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from cti.settings import DatabaseSettings, WebSettings, load_settings
from cti.web import build_web_app

PROJECT = Path(__file__).resolve().parents[2]
Client = TestClient  # type: ignore[type-arg]


@contextlib.asynccontextmanager
async def web_client(database_url: str) -> AsyncIterator[Client]:
    base = load_settings(PROJECT / "config" / "cti.toml", {})
    settings = base.model_copy(
        update={
            "database": DatabaseSettings(url=database_url),
            "web": WebSettings(tokens_file=PROJECT / "config" / "web-tokens.dev"),
        }
    )
    async with TestClient(TestServer(build_web_app(settings), host="127.0.0.1")) as test_client:
        yield test_client


async def call(
    client: Client, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    """The status and the JSON body (None for a 204)."""
    response = await client.request(method, path, headers=headers, **kwargs)
    return response.status, (await response.json() if response.status != 204 else None)
