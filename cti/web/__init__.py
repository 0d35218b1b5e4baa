"""The HTTP API (aiohttp): bearer tokens with roles, JSON errors, the KPI report."""

from cti.web.app import build_web_app

__all__ = ["build_web_app"]
