"""The agent desktop and wallboard page: ``GET /`` and its static files, no token needed.

The page is plain HTML, CSS and native ES modules under ``cti/web/static/`` (no build step).
Its files are served under ``/static/<version>/`` where the version is a hash of their
content, so a browser may keep them for a year (``immutable``) and still gets the new ones the
moment a release changes any: ``GET /`` is never cached and names the current version. The
page's own calls (``/api/...``, the websocket) carry the signed-in user's token.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from aiohttp import web

STATIC = Path(str(files("cti.web") / "static"))
VERSION_MARK = "{{version}}"  # in index.html, replaced by the static files' version
#: The page runs its own modules only and talks to its own origin; the KPI page it shows in a
#: sandboxed frame has inline styles (a srcdoc frame inherits this policy).
PAGE_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
STATIC_CACHE = "public, max-age=31536000, immutable"


def static_version(root: Path) -> str:
    """A short hash of every file's path and content under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def add_desktop_routes(app: web.Application, root: Path = STATIC) -> None:
    """``GET /`` (the page) and ``GET /static/<version>/...`` (its files, cached for long)."""
    version = static_version(root)
    prefix = f"/static/{version}"
    page = (root / "index.html").read_text(encoding="utf-8").replace(VERSION_MARK, version)

    async def index(request: web.Request) -> web.Response:
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": PAGE_POLICY,
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def cache_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith(prefix + "/") and response.status == 200:
            response.headers["Cache-Control"] = STATIC_CACHE
            response.headers["X-Content-Type-Options"] = "nosniff"

    app.router.add_get("/", index)
    app.router.add_static(prefix, root)
    app.on_response_prepare.append(cache_headers)
