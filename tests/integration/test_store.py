"""The call-event store on SQLite and PostgreSQL: migrations, idempotent batches, reads."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.errors import SchemaOutdated
from cti.events import CallEvent, EventKind
from cti.store import count_events, events_between, insert_events, make_engine, schema
from cti.store.events import call_starts_between, events_of_leads
from tests.integration.conftest import reset_database
from tests.unit.kpi_events import T0, answered_call, ev


async def test_events_round_trip_exactly(store: AsyncEngine) -> None:
    events = answered_call("a", 14.999999, queue="vip")
    events.append(
        ev(EventKind.DISPOSITION, 100, "a", agent="1001", data={"code": "booked", "resolved": True})
    )
    await insert_events(store, events)
    stored = sorted(await events_between(store, None, None), key=lambda e: (e.at, e.kind))
    assert sorted(events, key=lambda e: (e.at, e.kind)) == stored


async def test_a_replayed_event_is_stored_once(store: AsyncEngine) -> None:
    events = answered_call("a", 3)
    await insert_events(store, events)
    await insert_events(store, [*events, *answered_call("b", 4)])
    assert await count_events(store) == 10


async def test_reads_by_period_lead_and_call_start(store: AsyncEngine) -> None:
    lead = [
        ev(EventKind.LEAD_CREATED, 0, lead_id="L1"),
        ev(EventKind.FUNNEL_STAGE, 30 * 86400, "x", lead_id="L1", data={"stage": "completed"}),
    ]
    await insert_events(store, [*answered_call("a", 3), *answered_call("b", 3, start=3600), *lead])
    window = await events_between(store, T0 + timedelta(seconds=3600), T0 + timedelta(seconds=3700))
    assert {e.call_id for e in window} == {"b"}
    assert {e.kind for e in await events_of_leads(store, ["L1"])} == {
        EventKind.LEAD_CREATED,
        EventKind.FUNNEL_STAGE,
    }
    assert {e.call_id for e in await call_starts_between(store, T0, None)} == {"a", "b"}


async def test_an_empty_sqlite_file_is_upgraded_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    schema.ensure_schema(url)
    engine = make_engine(url)
    await insert_events(engine, [CallEvent(EventKind.CALL_STARTED, T0, "c")])
    assert await count_events(engine) == 1
    await engine.dispose()


async def test_a_database_without_the_schema_is_refused_with_the_command_to_run(database_url: str) -> None:
    reset_database(database_url)
    if database_url.startswith("sqlite"):
        engine = create_engine(schema.sync_url(database_url))
        with engine.begin() as connection:
            connection.execute(text("create table unrelated (id integer)"))
        engine.dispose()
    expected = rf"without the cti schema, expected {schema.head_revision()}: run `cti db upgrade`"
    with pytest.raises(SchemaOutdated, match=expected):
        schema.ensure_schema(database_url)


def test_the_migrations_make_the_schema_the_models_declare(database_url: str) -> None:
    """Every table, column, index and unique constraint the models declare is what the
    migrations made: a model changed without its migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cti.store.models import Base

    reset_database(database_url)
    schema.upgrade(database_url)
    engine = create_engine(schema.sync_url(database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
