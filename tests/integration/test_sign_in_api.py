"""Sign-in over real HTTP: POST /api/login and /api/session/renew, the throttle in the real
Redis, and tokens (machine and sign-in) on every guarded route, on SQLite and PostgreSQL."""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from cti.desk.users import UserStore
from cti.roles import Role
from cti.settings import DatabaseSettings, RedisSettings, Settings
from cti.web import build_web_app
from cti.web.principal import SIGN_IN, authenticate, may_act_for
from cti.web.sessions import SignInTokens
from cti.web.throttle import ADDRESS_FREE_FAILURES, FIRST_WAIT_S, LOGIN_FREE_FAILURES
from tests.integration.conftest import DeskUser, MakeDeskUser

Client = TestClient  # type: ignore[type-arg]
GUARDED = [("GET", "/api/kpi"), ("GET", "/reports"), ("GET", "/reports/day/2026-11-30"), ("GET", "/metrics")]
GUARDED += [("POST", "/api/session/renew")]


@pytest.fixture
async def client(migrated_database: str, redis_url: str, settings: Settings) -> AsyncIterator[Client]:
    """The web app on the test's store, with its own Redis prefix (removed after the test)."""
    prefix = f"test-auth-{uuid.uuid4().hex[:10]}"
    app_settings = settings.model_copy(
        update={
            "database": DatabaseSettings(url=migrated_database),
            "redis": RedisSettings(url=redis_url),
            "acd": settings.acd.model_copy(update={"redis_prefix": prefix}),
        }
    )
    async with TestClient(TestServer(build_web_app(app_settings), host="127.0.0.1")) as test_client:
        yield test_client
    redis = aioredis.Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def _login(client: Client, login: str, password: str) -> Any:
    return await client.post("/api/login", json={"login": login, "password": password})


async def test_a_user_signs_in_and_the_token_opens_its_roles_routes(
    client: Client, desk_user: MakeDeskUser
) -> None:
    boss = await desk_user("boss", "manager")
    response = await _login(client, "Boss", boss.password)  # logins are lower case
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert {k: body[k] for k in ("user", "display_name", "role", "agent")} == {
        "user": "boss",
        "display_name": "boss",
        "role": "manager",
        "agent": None,
    }
    assert body["expires_at"] == pytest.approx(time.time() + 900, abs=60)
    kpi = await client.get("/api/kpi", headers={"Authorization": f"Bearer {body['token']}"})
    assert kpi.status == 200
    agent = await desk_user("wang.fang", "agent", agent="1001")
    forbidden = await client.get("/api/kpi", headers=agent.headers)
    assert forbidden.status == 403
    assert "agent role" in (await forbidden.json())["message"]


async def test_an_unknown_login_and_a_wrong_password_get_the_same_401(
    client: Client, desk_user: MakeDeskUser
) -> None:
    boss = await desk_user("boss", "manager")
    wrong = await _login(client, "boss", boss.password + "x")
    unknown = await _login(client, "nobody", boss.password)
    for response in (wrong, unknown):
        assert response.status == 401
        body = await response.json()
        assert body["message"] == "wrong login or password"
        assert body["details"] == {}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json", "the body must be JSON"),
        ("", "the body must be JSON"),
        ('["boss", "pw"]', "the body must be a JSON object"),
        ('{"password": "pw-pw-pw-pw"}', "login is required"),
        ('{"login": "boss"}', "password is required"),
        ('{"login": 7, "password": "pw-pw-pw-pw"}', "login must be a string"),
        ('{"login": "boss", "password": null}', "password must be a string"),
    ],
)
async def test_a_malformed_body_is_400_naming_the_field(client: Client, body: str, says: str) -> None:
    response = await client.post("/api/login", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["message"].startswith(says)


async def test_repeated_failures_are_told_to_wait_and_a_success_starts_the_login_afresh(
    client: Client, desk_user: MakeDeskUser
) -> None:
    boss = await desk_user("boss", "manager")
    for _ in range(LOGIN_FREE_FAILURES - 1):
        assert (await _login(client, "boss", "not-the-password")).status == 401
    assert (await _login(client, "boss", boss.password)).status == 200  # clears the count
    for _ in range(LOGIN_FREE_FAILURES):
        assert (await _login(client, "boss", "not-the-password")).status == 401
    throttled = await _login(client, "boss", boss.password)  # even the right password waits
    assert throttled.status == 429
    wait = int(throttled.headers["Retry-After"])
    assert FIRST_WAIT_S - 2 <= wait <= FIRST_WAIT_S
    body = await throttled.json()
    assert body["details"] == {"retry_after_s": wait}
    assert "too many failed sign-ins" in body["message"]
    other = await desk_user("other", "supervisor")  # another login from the same address is not held up
    assert (await _login(client, "other", other.password)).status == 200


async def test_a_disabled_user_can_neither_sign_in_nor_use_its_token(
    client: Client, desk_user: MakeDeskUser, store: Any
) -> None:
    boss = await desk_user("boss", "manager")
    await UserStore(store).set_disabled("boss", True)
    refused = await client.get("/api/kpi", headers=boss.headers)
    assert refused.status == 401
    assert "revoked" in (await refused.json())["message"]
    response = await _login(client, "boss", boss.password)
    assert response.status == 403
    assert "user boss is disabled" in (await response.json())["message"]


async def test_a_new_password_kills_the_tokens_issued_before(
    client: Client, desk_user: MakeDeskUser, store: Any
) -> None:
    boss = await desk_user("boss", "manager")
    await UserStore(store).set_password("boss", "the-new-password")
    assert (await client.get("/api/kpi", headers=boss.headers)).status == 401
    assert (await _login(client, "boss", boss.password)).status == 401
    fresh = await (await _login(client, "boss", "the-new-password")).json()
    assert (await client.get("/api/kpi", headers={"Authorization": f"Bearer {fresh['token']}"})).status == 200


async def test_renewal_gives_a_fresh_token(client: Client, desk_user: MakeDeskUser) -> None:
    agent = await desk_user("wang.fang", "agent", agent="1001")
    response = await client.post("/api/session/renew", headers=agent.headers)
    assert response.status == 200
    body = await response.json()
    assert body["token"] != agent.token
    assert (body["user"], body["role"], body["agent"], body["display_name"]) == (
        "wang.fang",
        "agent",
        "1001",
        "Agent 1001",
    )
    again = await client.post("/api/session/renew", headers={"Authorization": f"Bearer {body['token']}"})
    assert again.status == 200
    machine = await client.post("/api/session/renew", headers={"Authorization": "Bearer dev-manager-token"})
    assert machine.status == 403
    assert "machine token" in (await machine.json())["message"]


async def test_an_expired_token_is_refused(
    client: Client, desk_user: MakeDeskUser, settings: Settings
) -> None:
    await desk_user("boss", "manager")
    past = SignInTokens(settings.web.signing_key.get_secret_value(), 60, clock=lambda: time.time() - 61)
    token, _ = past.issue("boss", Role.MANAGER, None)
    for method, path in [("GET", "/api/kpi"), ("POST", "/api/session/renew")]:
        response = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401
        assert "expired" in (await response.json())["message"]
    assert await authenticate(client.app, token) is None


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize("token", [None, "not-a-real-token", "a.b.c", "dev-manager-tokenX"])
async def test_a_missing_or_wrong_token_is_401_json_on_every_guarded_route(
    client: Client, method: str, path: str, token: str | None
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.request(method, path, headers=headers)
    assert response.status == 401
    assert response.content_type == "application/json"
    assert set(await response.json()) == {"error_id", "message", "details"}


async def test_machine_tokens_keep_working(client: Client) -> None:
    assert (await client.get("/api/kpi", headers={"Authorization": "Bearer dev-api-token"})).status == 200
    assert (await client.get("/metrics", headers={"Authorization": "Bearer dev-api-token"})).status == 200
    agent = await authenticate(client.app, "dev-agent-token")
    assert agent is not None
    assert (agent.user, agent.role, agent.agent, agent.expires_at) == ("token:agent", Role.AGENT, None, None)


async def test_an_agent_token_acts_only_for_its_own_agent(client: Client, desk_user: MakeDeskUser) -> None:
    agent: DeskUser = await desk_user("wang.fang", "agent", agent="1001")
    supervisor = await desk_user("sup", "supervisor")
    principal = await authenticate(client.app, agent.token)
    assert principal is not None
    assert (principal.user, principal.role, principal.agent) == ("wang.fang", Role.AGENT, "1001")
    assert may_act_for(principal, "1001")
    assert not may_act_for(principal, "1002")
    boss = await authenticate(client.app, supervisor.token)
    assert boss is not None
    assert may_act_for(boss, "1002")
    assert client.app[SIGN_IN].tokens.read(agent.token).agent == "1001"


async def test_neither_a_password_nor_a_token_is_logged(
    client: Client, desk_user: MakeDeskUser, caplog: pytest.LogCaptureFixture
) -> None:
    boss = await desk_user("boss", "manager")
    with caplog.at_level(logging.DEBUG):
        await _login(client, "boss", "a-wrong-password")
        token = (await (await _login(client, "boss", boss.password)).json())["token"]
        await client.post("/api/session/renew", headers={"Authorization": f"Bearer {token}"})
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "signed in" in logged
    assert "sign-in refused" in logged
    for secret in ("a-wrong-password", boss.password, token, token.split(".")[1]):
        assert secret not in logged


async def test_an_address_that_fails_with_many_logins_is_told_to_wait(client: Client) -> None:
    for number in range(ADDRESS_FREE_FAILURES):
        assert (await _login(client, f"guess{number}", "not-the-password")).status == 401
    response = await _login(client, "somebody.else", "not-the-password")
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
