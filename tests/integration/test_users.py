"""The users store, `cti users` and the demo's users, on SQLite and PostgreSQL."""

import json
import logging
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.cli import cli
from cti.desk.demo import announce_demo_users, ensure_demo_users
from cti.desk.users import UserError, UserStore
from cti.roles import Role
from cti.store.models import UserRow

PROJECT = Path(__file__).resolve().parents[2]
AGENTS = {"1001": "Wang Fang", "1002": "Li Wei"}
STDIN = "--password-stdin"


async def _hash_of(store: AsyncEngine, login: str) -> str:
    async with store.connect() as connection:
        query = select(UserRow.password_hash).where(UserRow.login == login)
        found: str = (await connection.execute(query)).scalar_one()
        return found


async def test_a_user_is_added_found_and_listed_without_its_hash(store: AsyncEngine) -> None:
    users = UserStore(store, clock=lambda: 1_900_000_000.5)
    added = await users.add("wang.fang", "agent", "first-password", agents=AGENTS, agent="1001")
    assert (added.display_name, added.role, added.agent) == ("Wang Fang", Role.AGENT, "1001")
    assert not added.disabled
    assert added.created_at_us == 1_900_000_000_500_000
    await users.add("boss", "manager", "boss-password", agents=AGENTS, display_name="The Boss")
    assert await users.find("wang.fang") == added
    assert [(u.login, u.display_name) for u in await users.all_users()] == [
        ("boss", "The Boss"),
        ("wang.fang", "Wang Fang"),
    ]
    stored = await _hash_of(store, "wang.fang")
    assert stored.startswith("$argon2id$")
    assert "first-password" not in stored
    assert await users.find("nobody") is None


async def test_a_second_user_of_a_login_or_an_agent_is_refused(store: AsyncEngine) -> None:
    users = UserStore(store)
    await users.add("wang.fang", "agent", "first-password", agents=AGENTS, agent="1001")
    with pytest.raises(UserError, match=r"user wang\.fang already exists"):
        await users.add("wang.fang", "supervisor", "first-password", agents=AGENTS)
    with pytest.raises(UserError, match=r"agent 1001 is already bound to user wang\.fang"):
        await users.add("li.wei", "agent", "first-password", agents=AGENTS, agent="1001")
    assert [u.login for u in await users.all_users()] == ["wang.fang"]


async def test_a_password_is_checked_and_an_unknown_login_is_none(store: AsyncEngine) -> None:
    users = UserStore(store)
    await users.add("boss", "manager", "boss-password", agents=AGENTS)
    assert (await users.verify("boss", "boss-password")).login == "boss"  # type: ignore[union-attr]
    assert await users.verify("boss", "Boss-password") is None
    assert await users.verify("nobody", "boss-password") is None


async def test_disabling_and_a_new_password_cut_the_tokens_off(store: AsyncEngine) -> None:
    now = [1_900_000_000.0]
    users = UserStore(store, clock=lambda: now[0])
    await users.add("boss", "manager", "boss-password", agents=AGENTS)
    now[0] += 10
    disabled = await users.set_disabled("boss", True)
    assert (disabled.disabled, disabled.tokens_valid_after_us) == (True, 1_900_000_010_000_000)
    assert (await users.verify("boss", "boss-password")).disabled  # type: ignore[union-attr]
    now[0] += 10
    enabled = await users.set_disabled("boss", False)
    assert (enabled.disabled, enabled.tokens_valid_after_us) == (False, 1_900_000_010_000_000)
    now[0] += 10
    changed = await users.set_password("boss", "a-new-password")
    assert changed.tokens_valid_after_us == 1_900_000_030_000_000
    assert await users.verify("boss", "boss-password") is None
    assert await users.verify("boss", "a-new-password") is not None
    with pytest.raises(UserError, match="a password needs at least 8"):
        await users.set_password("boss", "short")
    with pytest.raises(UserError, match="no user 'nobody'"):
        await users.set_disabled("nobody", True)


async def test_a_hash_of_older_parameters_is_renewed_at_a_good_sign_in(store: AsyncEngine) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    await UserStore(store, hasher=cheap).add("boss", "manager", "boss-password", agents=AGENTS)
    old = await _hash_of(store, "boss")
    users = UserStore(store)  # today's parameters
    assert await users.verify("boss", "wrong-password") is None
    assert await _hash_of(store, "boss") == old  # only a good password renews it
    assert await users.verify("boss", "boss-password") is not None
    renewed = await _hash_of(store, "boss")
    assert renewed != old
    assert not PasswordHasher().check_needs_rehash(renewed)
    assert await users.verify("boss", "boss-password") is not None


async def test_the_demo_users_are_made_once_and_a_changed_password_is_kept(store: AsyncEngine) -> None:
    users = UserStore(store)
    await users.add("li.wei", "agent", "li-wei-password", agents=AGENTS, agent="1002")
    first = {u.login: u.status for u in await ensure_demo_users(users, AGENTS)}
    assert first == {
        "agent1001": "created",
        "agent1002": "skipped: agent 1002 is li.wei's",
        "supervisor": "created",
        "manager": "created",
    }
    await users.set_password("manager", "not-the-demo-one")
    await users.set_disabled("supervisor", True)
    second = {u.login: u.status for u in await ensure_demo_users(users, AGENTS)}
    assert second["agent1001"] == "kept"
    assert second["manager"] == "kept, password changed"
    assert second["supervisor"] == "kept, disabled"
    assert await users.verify("manager", "not-the-demo-one") is not None
    assert await users.verify("agent1001", "agent1001-demo") is not None


async def test_the_service_logs_the_demo_users_at_start(
    migrated_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cti.desk.demo"):
        await announce_demo_users(migrated_database, AGENTS, "http://127.0.0.1:8080/")
    (message,) = [r.getMessage() for r in caplog.records if r.name == "cti.desk.demo"]
    assert message.startswith("demo users: sign in at http://127.0.0.1:8080/")
    assert "agent1001   agent1001-demo   agent       1001   created" in message
    assert "manager     manager-demo     manager     -      created" in message


def _cti(database_url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {"CTI_DATABASE_URL": database_url, "CTI_ACD_CONFIG_FILE": str(PROJECT / "config" / "acd.demo.toml")}
    result = CliRunner().invoke(
        cli, ["--config", str(PROJECT / "config" / "cti.toml"), "users", *args], input=stdin, env=env
    )
    return result.exit_code, result.output


def test_cti_users_adds_lists_disables_and_sets_passwords(migrated_database: str) -> None:
    url = migrated_database
    code, out = _cti(url, "add", "wang.fang", "--role", "agent", "--agent", "1001", STDIN, stdin="s3cret-p\n")
    assert (code, out) == (0, "added wang.fang (Wang Fang): agent, agent 1001\n")
    code, out = _cti(url, "add", "boss", "--role", "manager", "--name", "Boss", stdin="boss-pass\n" * 2)
    assert code == 0, out
    assert "boss-pass" not in out  # the prompt hides it
    code, out = _cti(url, "disable", "wang.fang")
    assert (code, out) == (0, "disabled wang.fang: its tokens are refused from now on\n")
    code, out = _cti(url, "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(u["login"], u["role"], u["agent"], u["disabled"]) for u in listed] == [
        ("boss", "manager", None, False),
        ("wang.fang", "agent", "1001", True),
    ]
    assert set(listed[0]) == {"login", "name", "role", "agent", "disabled", "created_at"}
    code, out = _cti(url, "list")
    assert code == 0
    assert "wang.fang" in out
    assert "disabled" in out
    assert "$argon2" not in out
    code, out = _cti(url, "enable", "wang.fang")
    assert code == 0
    code, out = _cti(url, "set-password", "wang.fang", STDIN, stdin="an0ther-pw\n")
    assert (code, out) == (0, "new password set for wang.fang: its earlier tokens are refused from now on\n")
    code, out = _cti(url, "demo")
    assert code == 0
    assert "agent1001" in out
    assert "skipped: agent 1001 is wang.fang's" in out


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["add", "Wang!", "--role", "manager", STDIN], "long-enough\n", "login 'Wang!': use 1 to 64"),
        (["add", "x", "--role", "agent", STDIN], "long-enough\n", "an agent user needs --agent"),
        (["add", "x", "--role", "agent", "--agent", "77", STDIN], "long-enough\n", "agent '77' is not"),
        (["add", "x", "--role", "manager", STDIN], "short\n", "at least 8 characters"),
        (["add", "x", "--role", "api", STDIN], "long-enough\n", "'api' is not one of"),
        (["add", "x", "--role", "manager"], "long-enough\nother-one\n", "entered values do not match"),
        (["disable", "nobody"], None, "no user 'nobody'"),
        (["set-password", "nobody", STDIN], "long-enough\n", "no user 'nobody'"),
    ],
)
def test_cti_users_refuses_bad_input_saying_what(
    migrated_database: str, args: list[str], stdin: str | None, says: str
) -> None:
    code, out = _cti(migrated_database, *args, stdin=stdin)
    assert code != 0
    assert says in out
