"""Creating the asyncio SQLAlchemy engine for SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cti.errors import ServiceUnavailable


def ensure_sqlite_folder(url: str) -> None:
    """Create a SQLite file's folder, so a fresh checkout just works (SQLite makes only the file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, pool_size: int | None = None) -> AsyncEngine:
    """An asyncio engine for ``url``; on a database server, one that keeps ``pool_size``
    connections open (``[database] pool_size``; None: SQLAlchemy's 5). SQLite keeps SQLAlchemy's
    own pool: a file has no server connections to keep."""
    ensure_sqlite_folder(url)
    parsed = make_url(url)
    if pool_size is None or parsed.get_backend_name() == "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True)
    return create_async_engine(parsed, pool_pre_ping=True, pool_size=pool_size)


async def database_version(url: str) -> str:
    """Connect to the database at ``url`` and return its server version."""
    parsed = make_url(url)
    engine = make_engine(url)
    query = "select sqlite_version()" if parsed.get_backend_name() == "sqlite" else "show server_version"
    try:
        async with engine.connect() as connection:
            version = (await connection.execute(text(query))).scalar_one()
        return f"{parsed.get_backend_name()} {version}"
    except (SQLAlchemyError, OSError) as exc:
        where = parsed.render_as_string(hide_password=True)
        raise ServiceUnavailable(f"database {where} did not answer: {exc}") from exc
    finally:
        await engine.dispose()
