"""The SQL store: SQLAlchemy 2 models, repositories and Alembic migrations."""

from cti.store.engine import database_version, make_engine

__all__ = ["database_version", "make_engine"]
