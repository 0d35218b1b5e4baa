"""The SQL store: SQLAlchemy 2 models, event reads and writes, Alembic migrations."""

from cti.store.engine import database_version, make_engine
from cti.store.events import count_events, events_between, insert_events
from cti.store.schema import ensure_schema, upgrade

__all__ = [
    "count_events",
    "database_version",
    "ensure_schema",
    "events_between",
    "insert_events",
    "make_engine",
    "upgrade",
]
