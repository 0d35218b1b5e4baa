"""The campaign managers' API over real HTTP, on SQLite and PostgreSQL: create, list, read with
progress, start/pause/stop, upload a call list (CSV and XLSX, mapping, dry run, strict), and
the roles: managers run campaigns, supervisors read them, agents neither."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook

from tests.integration.web import Client, call, web_client

MANAGER = {"Authorization": "Bearer dev-manager-token"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
AGENT = {"Authorization": "Bearer dev-agent-token"}
CAMPAIGN = {"name": "renewals", "title": "续保 12 月", "kind": "insurance_renewal", "queue": "sales"}
LIST = "客户,联系方式,到期日\n李娜,13800000001,2027-01-31\n张伟,110,\n王芳,13800000002,\n"


@pytest.fixture
async def client(migrated_database: str) -> AsyncIterator[Client]:
    async with web_client(migrated_database) as test_client:
        yield test_client


def upload(name: str, data: bytes, **fields: str | list[str]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, values in fields.items():
        for value in [values] if isinstance(values, str) else values:
            form.add_field(key, value)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def test_a_manager_creates_uploads_starts_and_watches_a_campaign(client: Client) -> None:
    status, body = await call(client, "POST", "/api/campaigns", MANAGER, json=CAMPAIGN)
    assert status == 201, body
    assert (body["status"], body["dial_mode"], body["settings"]["max_attempts"]) == (
        "draft",
        "progressive",
        5,
    )

    form = upload("回访.csv", LIST.encode("gbk"), map="phone=联系方式", dry_run="true")
    status, report = await call(client, "POST", "/api/campaigns/renewals/lists", MANAGER, data=form)
    assert status == 200, report
    assert (report["dry_run"], report["accepted"], report["stored"]) == (True, 2, 0)
    form = upload("回访.csv", LIST.encode("gbk"), map="phone=联系方式", strict="1")
    status, report = await call(client, "POST", "/api/campaigns/renewals/lists", MANAGER, data=form)
    assert (status, report["strict_refused"], report["stored"]) == (200, True, 0)
    form = upload("回访.csv", LIST.encode("gbk"), map=["phone=联系方式", "name=客户"])
    status, report = await call(client, "POST", "/api/campaigns/renewals/lists", MANAGER, data=form)
    assert status == 201, report
    assert (report["lines"], report["accepted"], report["rejected"], report["stored"]) == (3, 2, 1, 2)
    assert report["report"][1] == {
        "line": 3,
        "phone": "110",
        "name": "张伟",
        "verdict": "emergency",
        "reason": "an emergency number",
    }

    status, body = await call(client, "POST", "/api/campaigns/renewals/start", MANAGER)
    assert (status, body["status"], body["progress"]["lines"]) == (200, "running", 2)
    status, body = await call(client, "GET", "/api/campaigns/renewals", SUPERVISOR)
    assert status == 200
    assert body["progress"]["by_status"] == {"new": 2}
    assert body["progress"]["abandon_rate"] is None
    status, body = await call(client, "GET", "/api/campaigns", SUPERVISOR)
    assert [(c["name"], c["status"]) for c in body["campaigns"]] == [("renewals", "running")]
    assert (await call(client, "POST", "/api/campaigns/renewals/pause", MANAGER))[1]["status"] == "paused"
    assert (await call(client, "POST", "/api/campaigns/renewals/stop", MANAGER))[1]["status"] == "stopped"


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_an_xlsx_list_is_uploaded_with_its_columns_found_by_name(client: Client) -> None:
    await call(client, "POST", "/api/campaigns", MANAGER, json=CAMPAIGN)
    data = xlsx([["姓名", "手机号", "车牌"], ["李娜", 13800000001, "沪A·12345"], ["张伟", 13800000001, ""]])
    status, report = await call(
        client, "POST", "/api/campaigns/renewals/lists", MANAGER, data=upload("l.xlsx", data)
    )
    assert status == 201, report
    assert [(r["line"], r["verdict"]) for r in report["report"]] == [(2, "ok"), (3, "duplicate")]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/campaigns", {**CAMPAIGN, "queue": "nope"}, 400, "queue: 'nope' is not a queue of the ACD"),
        ("/api/campaigns", {**CAMPAIGN, "settings": {"abandon_cap": 0.1}}, 400, "above the center's cap"),
        ("/api/campaigns", [1], 400, "the body must be a JSON object"),
        ("/api/campaigns", CAMPAIGN, 409, "exists already"),
        ("/api/campaigns/renewals/pause", None, 409, "is draft: it cannot be paused"),
        ("/api/campaigns/nope/start", None, 404, "no campaign 'nope'"),
        ("/api/campaigns/renewals/restart", None, 404, "no such command 'restart'"),
    ],
)
async def test_bad_requests_say_what_is_wrong(
    client: Client, path: str, body: Any, status: int, says: str
) -> None:
    assert (await call(client, "POST", "/api/campaigns", MANAGER, json=CAMPAIGN))[0] == 201
    got, answer = await call(client, "POST", path, MANAGER, json=body)
    assert got == status
    assert says in answer["message"]
    if path == "/api/campaigns" and status == 400 and isinstance(body, dict):
        assert answer["details"]["fields"]


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        (upload("l.csv", "姓名\n李娜\n".encode()), 400, "no phone column"),
        (upload("l.csv", LIST.encode(), map="phone=手机"), 400, "has no column '手机'"),
        (
            upload("l.csv", LIST.encode(), map="phone=联系方式", dry_run="maybe"),
            400,
            "'maybe' is not true or false",
        ),
        (aiohttp.FormData({"map": "phone=联系方式"}, default_to_multipart=True), 400, "no file"),
    ],
)
async def test_an_upload_that_cannot_be_used_is_refused_whole(
    client: Client, form: aiohttp.FormData, status: int, says: str
) -> None:
    await call(client, "POST", "/api/campaigns", MANAGER, json=CAMPAIGN)
    got, answer = await call(client, "POST", "/api/campaigns/renewals/lists", MANAGER, data=form)
    assert (got, says in answer["message"]) == (status, True), answer


async def test_a_list_for_an_unknown_campaign_or_not_multipart(client: Client) -> None:
    got, answer = await call(
        client, "POST", "/api/campaigns/nope/lists", MANAGER, data=upload("l.csv", b"phone\n1\n")
    )
    assert (got, answer["message"]) == (404, "no campaign 'nope'")
    got, answer = await call(client, "POST", "/api/campaigns/nope/lists", MANAGER, json={})
    assert got == 400
    assert "multipart/form-data" in answer["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/campaigns", AGENT, 403),
        ("GET", "/api/campaigns", {}, 401),
        ("POST", "/api/campaigns", SUPERVISOR, 403),
        ("POST", "/api/campaigns/renewals/start", SUPERVISOR, 403),
        ("POST", "/api/campaigns/renewals/lists", SUPERVISOR, 403),
        ("GET", "/api/campaigns/renewals", AGENT, 403),
    ],
)
async def test_managers_run_campaigns_and_supervisors_read_them(
    client: Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    assert (await call(client, method, path, headers))[0] == status
