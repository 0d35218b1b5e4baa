"""The published KPI reports (``cti kpi publish``), for managers and supervisors.

``GET /reports`` lists them (newest first within day, week, month) with their links;
``GET /reports/{every}/{name}`` serves one page. Only names a publication writes are served:
anything else is 404, so no path reaches outside ``[kpi] publish_dir``. The pages run no
scripts; the Content-Security-Policy says so to the browser as well.
"""

from __future__ import annotations

from aiohttp import web

from cti.kpi.publish import published, report_file
from cti.web.auth import Role
from cti.web.kpi import PAGE_POLICY, SETTINGS
from cti.web.principal import require
from cti.web.problems import ApiError


@require(Role.MANAGER, Role.SUPERVISOR)
async def list_reports(request: web.Request) -> web.Response:
    directory = request.app[SETTINGS].kpi.publish_dir
    return web.json_response(
        {
            "reports": [
                {
                    "every": period.every,
                    "name": period.name,
                    "first_day": period.first.isoformat(),
                    "last_day": period.last.isoformat(),
                    "url": f"/reports/{period.every}/{period.name}",
                }
                for period in published(directory)
            ]
        }
    )


@require(Role.MANAGER, Role.SUPERVISOR)
async def get_report(request: web.Request) -> web.FileResponse:
    every, name = request.match_info["every"], request.match_info["name"]
    path = report_file(request.app[SETTINGS].kpi.publish_dir, every, name)
    if path is None:
        raise ApiError(404, f"no published {every} report {name!r}", {"every": every, "name": name})
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": PAGE_POLICY,
            "X-Content-Type-Options": "nosniff",
        },
    )


def add_report_routes(app: web.Application) -> None:
    app.router.add_get("/reports", list_reports)
    app.router.add_get("/reports/{every}/{name}", get_report)
