"""Alembic environment: runs the migrations on a synchronous connection to the store."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from cti.store.models import Base


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations alter tables on SQLite (copy-and-move).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


run_migrations_online()
