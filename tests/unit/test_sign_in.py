"""The pure parts of people and sign-in: logins, passwords and bindings, sign-in tokens, who may
act for which agent, the throttle's waits, the user cache, the demo's users."""

import time

import jwt
import pytest

from cti.desk.demo import DemoUser, demo_logins, demo_table
from cti.desk.users import User, UserError, check_login, check_password, check_role
from cti.errors import ConfigError
from cti.roles import Role
from cti.web.principal import Principal, UserCache, may_act_for, still_valid
from cti.web.sessions import SignInTokens, TokenRefused
from cti.web.throttle import ADDRESS_FREE_FAILURES, LOGIN_FREE_FAILURES, MAX_WAIT_S, wait_after

KEY = "a-test-signing-key-of-at-least-32-bytes"
AGENTS = {"1001": "Wang Fang", "1002": "Li Wei"}


@pytest.mark.parametrize("login", ["a", "wang.fang", "agent_1001", "x-y", "z" * 64, "0.9"])
def test_good_logins(login: str) -> None:
    assert check_login(login) == login


@pytest.mark.parametrize("login", ["", "Wang", "wang fang", "wang@fang", "z" * 65, "王芳", "a/b"])
def test_bad_logins_say_the_rule(login: str) -> None:
    with pytest.raises(UserError, match=r"use 1 to 64 of a-z, 0-9"):
        check_login(login)


def test_a_password_needs_eight_characters() -> None:
    check_password("x", "12345678")
    with pytest.raises(UserError, match="user x: a password needs at least 8 characters"):
        check_password("x", "1234567")


@pytest.mark.parametrize(
    ("role", "agent", "says"),
    [
        ("agent", None, "an agent user needs --agent"),
        ("agent", "9999", "agent '9999' is not in the ACD configuration"),
        ("supervisor", "1001", "only an agent user is bound to an agent id, not a supervisor"),
        ("api", None, "role 'api' is not one of"),
        ("boss", None, "role 'boss' is not one of"),
    ],
)
def test_bad_roles_and_bindings_are_named(role: str, agent: str | None, says: str) -> None:
    with pytest.raises(UserError, match=says):
        check_role("x", role, agent, AGENTS)


def test_good_roles_and_bindings() -> None:
    assert check_role("x", "agent", "1001", AGENTS) is Role.AGENT
    assert check_role("x", "manager", None, AGENTS) is Role.MANAGER


def test_a_token_says_who_until_when() -> None:
    tokens = SignInTokens(KEY, 900, clock=lambda: 1_900_000_000.123456)
    token, claims = tokens.issue("wang.fang", Role.AGENT, "1001")
    assert (claims.issued_at_us, claims.expires_at) == (1_900_000_000_123_456, 1_900_000_900)
    payload = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert {k: payload[k] for k in ("sub", "role", "agent", "exp")} == {
        "sub": "wang.fang",
        "role": "agent",
        "agent": "1001",
        "exp": 1_900_000_900,
    }


def test_a_live_token_reads_back_with_microseconds() -> None:
    tokens = SignInTokens(KEY, 900)
    token, issued = tokens.issue("boss", Role.MANAGER, None)
    assert tokens.read(token) == issued
    assert abs(issued.issued_at_us - time.time() * 1e6) < 60e6


def test_an_expired_token_is_refused_saying_so() -> None:
    token, _ = SignInTokens(KEY, 60, clock=lambda: time.time() - 61).issue("boss", Role.MANAGER, None)
    with pytest.raises(TokenRefused, match="has expired: sign in again"):
        SignInTokens(KEY, 60).read(token)


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "x", "role": "api", "agent": None},  # no person has the api role
        {"sub": "x", "role": "agent", "agent": 1001},
        {"sub": 7, "role": "manager", "agent": None},
        {"role": "manager", "agent": None},  # no sub
    ],
)
def test_tokens_with_wrong_claims_are_refused(payload: dict[str, object]) -> None:
    now = time.time()
    token = jwt.encode({**payload, "iat": now, "exp": int(now) + 60, "jti": "j"}, KEY, algorithm="HS256")
    with pytest.raises(TokenRefused, match="not valid"):
        SignInTokens(KEY, 60).read(token)


def test_a_token_of_another_key_or_algorithm_or_tampered_is_refused() -> None:
    token, _ = SignInTokens("another-signing-key-of-at-least-32-bytes", 60).issue("x", Role.MANAGER, None)
    now = time.time()
    claims = {"sub": "x", "role": "manager", "iat": now, "exp": now + 60, "jti": "j"}
    unsigned = jwt.encode(claims, None, "none")
    good, _ = SignInTokens(KEY, 60).issue("x", Role.SUPERVISOR, None)
    head, body, signature = good.split(".")
    for bad in (token, unsigned, f"{head}.{body}.{signature[:-2]}xx", "not-a-jwt"):
        with pytest.raises(TokenRefused, match="not valid"):
            SignInTokens(KEY, 60).read(bad)


def test_a_short_signing_key_stops_the_start() -> None:
    with pytest.raises(ConfigError, match=r"web\.signing_key: use at least 32 bytes"):
        SignInTokens("short", 60)


def _user(**changes: object) -> User:
    fields: dict[str, object] = {
        "login": "wang.fang",
        "display_name": "Wang Fang",
        "role": Role.AGENT,
        "agent": "1001",
        "disabled": False,
        "created_at_us": 0,
        "tokens_valid_after_us": 1_000,
    }
    return User(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_token_is_valid_while_its_user_is_as_it_says() -> None:
    _, claims = SignInTokens(KEY, 60, clock=lambda: 0.001).issue("wang.fang", Role.AGENT, "1001")
    assert claims.issued_at_us == 1_000
    assert still_valid(claims, _user())
    assert not still_valid(claims, None)  # no such user
    assert not still_valid(claims, _user(disabled=True))
    assert not still_valid(claims, _user(tokens_valid_after_us=1_001))  # new password a microsecond later
    assert not still_valid(claims, _user(agent="1002"))
    assert not still_valid(claims, _user(role=Role.SUPERVISOR, agent=None))


def test_an_agent_acts_only_for_its_own_agent() -> None:
    agent = Principal("wang.fang", Role.AGENT, "1001", 0.0)
    assert may_act_for(agent, "1001")
    assert not may_act_for(agent, "1002")
    assert not may_act_for(Principal("token:agent", Role.AGENT, None, None), "1001")
    for role in (Role.SUPERVISOR, Role.MANAGER, Role.API):
        assert may_act_for(Principal("x", role, None, None), "1002")


def test_the_wait_grows_after_the_free_failures() -> None:
    waits = [wait_after(n, LOGIN_FREE_FAILURES) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert wait_after(ADDRESS_FREE_FAILURES - 1, ADDRESS_FREE_FAILURES) == 0
    assert wait_after(10**9, LOGIN_FREE_FAILURES) == MAX_WAIT_S


class _Users:
    def __init__(self) -> None:
        self.user: User | None = _user()
        self.reads = 0

    async def find(self, login: str) -> User | None:
        self.reads += 1
        return self.user


async def test_the_user_cache_holds_at_most_its_ttl() -> None:
    users, now = _Users(), [100.0]
    cache = UserCache(users, ttl_s=5, clock=lambda: now[0])  # type: ignore[arg-type]
    assert await cache.get("wang.fang") == _user()
    users.user = _user(disabled=True)
    now[0] = 104.9
    assert not (await cache.get("wang.fang")).disabled  # type: ignore[union-attr]
    now[0] = 105.0
    assert (await cache.get("wang.fang")).disabled  # type: ignore[union-attr]
    assert users.reads == 2


def test_the_demo_users_follow_the_acd_agents() -> None:
    assert demo_logins({"1001": "A", "X 1": "B"}) == [
        ("agent1001", Role.AGENT, "1001"),
        ("supervisor", Role.SUPERVISOR, None),
        ("manager", Role.MANAGER, None),
    ]
    table = demo_table(
        [
            DemoUser("agent1001", "agent1001-demo", Role.AGENT, "1001", "created"),
            DemoUser("manager", "manager-demo", Role.MANAGER, None, "kept, password changed"),
        ]
    ).splitlines()
    assert table[0].split() == ["login", "password", "role", "agent"]
    assert table[1].split() == ["agent1001", "agent1001-demo", "agent", "1001", "created"]
    assert table[2].split() == ["manager", "-", "manager", "-", "kept,", "password", "changed"]
