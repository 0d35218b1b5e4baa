"""Redis and the SQL database answer through our adapters (SQLite, and PostgreSQL in CI)."""

from cti.live import redis_version
from cti.store import database_version


async def test_redis_answers(redis_url: str) -> None:
    assert (await redis_version(redis_url)).count(".") == 2


async def test_database_answers(database_url: str) -> None:
    version = await database_version(database_url)
    assert version.split()[0] in {"sqlite", "postgresql"}
