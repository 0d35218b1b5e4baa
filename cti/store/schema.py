"""Bringing the store's schema to the current migration (Alembic), and checking it is there.

``cti db upgrade`` applies the migrations anywhere, then recomputes the stored KPI facts
(``cti.store.projection``) if they were derived by another ``FACTS_VERSION`` than the code's, or
never (a store upgraded from 0001). A command that finds an *empty SQLite file* upgrades it itself
(a fresh checkout just works); a missing or outdated schema, or stale facts, elsewhere is an
error naming the command to run, because upgrading a production database is a decision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cti.errors import SchemaOutdated, ServiceUnavailable
from cti.kpi.facts import FACTS_VERSION
from cti.store.engine import ensure_sqlite_folder
from cti.store.projection import facts_version, rebuild

MIGRATIONS = Path(__file__).with_name("migrations")


def sync_url(url: str) -> str:
    """The synchronous twin of an asyncio URL (Alembic runs synchronously)."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


def _state(url: str) -> tuple[str | None, bool, str | None]:
    """(current revision, whether the database has any table at all, the stored facts' version)."""
    ensure_sqlite_folder(url)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
            version = facts_version(connection) if revision == head_revision() else None
            return revision, bool(inspect(connection).get_table_names()), version
    except SQLAlchemyError as exc:
        where = make_url(url).render_as_string(hide_password=True)
        raise ServiceUnavailable(f"database {where} did not answer: {exc}") from exc
    finally:
        engine.dispose()


def upgrade(url: str) -> str:
    """Apply every pending migration and bring the KPI facts up to date; return the revision."""
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            if facts_version(connection) != FACTS_VERSION:
                rebuild(connection)
    finally:
        engine.dispose()
    return head_revision()


def ensure_schema(url: str) -> None:
    """Upgrade an empty SQLite store; otherwise refuse a schema or facts that are not the current ones."""
    revision, has_tables, version = _state(url)
    head = head_revision()
    if revision == head and version == FACTS_VERSION:
        return
    if make_url(url).get_backend_name() == "sqlite" and not has_tables:
        upgrade(url)
        return
    where = make_url(url).render_as_string(hide_password=True)
    if revision == head:
        found = f"KPI facts of {version}" if version else "no KPI facts derived yet"
        raise SchemaOutdated(
            f"database {where} holds {found}, expected {FACTS_VERSION}: run `cti db upgrade`"
        )
    found = f"at revision {revision}" if revision else "without the cti schema"
    raise SchemaOutdated(f"database {where} is {found}, expected {head}: run `cti db upgrade`")
