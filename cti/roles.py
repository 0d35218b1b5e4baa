"""The roles of whoever calls the service: people who sign in (agent, supervisor, manager) and
machine tokens (any role, usually api). Kept apart from the web layer so the users store
(``cti.desk.users``) can name them without importing the HTTP app."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    API = "api"


#: The roles a person can have; ``Role.API`` belongs to machine tokens only.
USER_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER)
