"""The do-not-call list on SQLite and PostgreSQL: `cti dnc` (import, add, remove, list, check)
and GET/POST/DELETE /api/dnc over real HTTP, for the manager and api roles only."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cti.cli import cli
from tests.integration.web import Client, call, web_client

PROJECT = Path(__file__).resolve().parents[2]
MANAGER = {"Authorization": "Bearer dev-manager-token"}
API = {"Authorization": "Bearer dev-api-token"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
AGENT = {"Authorization": "Bearer dev-agent-token"}


def cti_dnc(database_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        ["--config", str(PROJECT / "config" / "cti.toml"), "dnc", *args],
        env={"CTI_DATABASE_URL": database_url},
    )
    return result.exit_code, result.stdout, result.stderr


def test_cti_dnc_imports_a_file_once_and_reports_its_refused_lines(
    migrated_database: str, tmp_path: Path
) -> None:
    listing = tmp_path / "dnc.csv"
    listing.write_text("姓名,手机\n王芳,138 0013 8000\n李伟,110\n周杰,+8613800138000\n孙涛,13900000002\n")
    code, out, err = cti_dnc(migrated_database, "import", str(listing))
    assert code == 0, err
    assert out.strip() == f"{listing}: 2 numbers: 2 added, 0 already listed; 1 lines refused"
    assert err.strip() == f"{listing}:3: emergency: an emergency number"
    code, out, _ = cti_dnc(migrated_database, "import", str(listing))  # again: nothing new
    assert out.strip() == f"{listing}: 2 numbers: 0 added, 2 already listed; 1 lines refused"
    code, out, _ = cti_dnc(migrated_database, "list", "--json")
    assert sorted((e["number"], e["source"]) for e in json.loads(out)) == [
        ("+8613800138000", "import"),
        ("+8613900000002", "import"),
    ]


def test_a_file_that_cannot_be_read_writes_nothing(migrated_database: str, tmp_path: Path) -> None:
    listing = tmp_path / "dnc.csv"
    listing.write_bytes("13800138000\n电话\n".encode("gbk"))
    code, _, err = cti_dnc(migrated_database, "import", str(listing))
    assert code == 1
    assert "line 2: not UTF-8" in err
    assert "nothing was written" in err
    assert json.loads(cti_dnc(migrated_database, "list", "--json")[1]) == []


def test_cti_dnc_adds_checks_and_removes_a_number(migrated_database: str) -> None:
    assert cti_dnc(migrated_database, "add", "138 0013 8000", "--note", "asked twice")[:2] == (
        0,
        "added +8613800138000\n",
    )
    assert (
        cti_dnc(migrated_database, "add", "+8613800138000")[1] == "+8613800138000 was on the list already\n"
    )
    code, out, _ = cti_dnc(migrated_database, "check", "13800138000")
    assert code == 1
    assert out.startswith("+8613800138000 is on the do-not-call list since ")
    assert out.strip().endswith("by cli (asked twice)")
    assert cti_dnc(migrated_database, "remove", "13800138000")[:2] == (0, "removed +8613800138000\n")
    assert cti_dnc(migrated_database, "check", "13800138000")[:2] == (
        0,
        "+8613800138000 is not on the do-not-call list\n",
    )
    code, _, err = cti_dnc(migrated_database, "remove", "13800138000")
    assert (code, err.strip()) == (1, "Error: +8613800138000 is not on the list")
    code, _, err = cti_dnc(migrated_database, "add", "120")
    assert (code, err.strip()) == (
        1,
        "Error: '120' is no number for the list: emergency: an emergency number",
    )


# --- HTTP ---------------------------------------------------------------------------------------
@pytest.fixture
async def client(migrated_database: str) -> AsyncIterator[Client]:
    async with web_client(migrated_database) as test_client:
        yield test_client


async def test_a_number_is_added_read_and_removed_over_http(client: Client) -> None:
    status, entry = await call(
        client, "POST", "/api/dnc", API, json={"number": "138 0013 8000", "note": "CRM"}
    )
    assert status == 201
    assert (entry["number"], entry["source"], entry["note"], entry["added_by"]) == (
        "+8613800138000",
        "api",
        "CRM",
        "token:api",
    )
    status, again = await call(client, "POST", "/api/dnc", MANAGER, json={"number": "+8613800138000"})
    assert (status, again) == (200, entry)  # listed already: unchanged
    assert await call(client, "GET", "/api/dnc/13800138000", MANAGER) == (200, entry)
    assert await call(client, "GET", "/api/dnc/+8613800138000", API) == (200, entry)
    assert await call(client, "DELETE", "/api/dnc/13800138000", MANAGER) == (204, None)
    status, body = await call(client, "GET", "/api/dnc/13800138000", API)
    assert (status, body["message"], body["details"]) == (
        404,
        "the number is not on the do-not-call list",
        {"number": "+8613800138000"},
    )
    assert (await call(client, "DELETE", "/api/dnc/13800138000", API))[0] == 404


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"number": "110"}, {"field": "number", "rule": "emergency"}),
        ({"number": "abc"}, {"field": "number", "rule": "bad_number"}),
        ({}, {"fields": {"number": "missing"}}),
        ({"number": 13800138000}, {"fields": {"number": "must be text"}}),
        ({"number": "13800138000", "vip": True}, {"fields": {"vip": "not a field (number, note)"}}),
        ({"number": "13800138000", "note": "x" * 201}, {"fields": {"note": "at most 200 characters"}}),
    ],
)
async def test_a_bad_entry_gets_a_400_naming_what(client: Client, body: dict[str, Any], details: Any) -> None:
    status, problem = await call(client, "POST", "/api/dnc", API, json=body)
    assert (status, problem["details"]) == (400, details)


async def test_only_managers_and_the_api_role_reach_the_list(client: Client) -> None:
    for viewer in (AGENT, SUPERVISOR):
        assert (await call(client, "GET", "/api/dnc/13800138000", viewer))[0] == 403
        assert (await call(client, "POST", "/api/dnc", viewer, json={"number": "13800138000"}))[0] == 403
        assert (await call(client, "DELETE", "/api/dnc/13800138000", viewer))[0] == 403
    assert (await call(client, "GET", "/api/dnc/13800138000", {}))[0] == 401
    status, problem = await call(client, "GET", "/api/dnc/110", API)
    assert (status, problem["details"]) == (400, {"parameter": "number", "rule": "emergency"})
