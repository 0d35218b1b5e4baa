"""GET /api/customers/{id} and POST /api/customers over real HTTP, the demo CRM on SQLite."""

from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cti.crm.store import import_files
from cti.store import make_engine, schema
from tests.integration.web import Client, call, web_client

PROJECT = Path(__file__).resolve().parents[2]
DEMO = sorted((PROJECT / "config" / "crm-demo").glob("*.csv"))
AGENT = {"Authorization": "Bearer dev-agent-token"}
MANAGER = {"Authorization": "Bearer dev-manager-token"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
API = {"Authorization": "Bearer dev-api-token"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    loaded = await import_files(engine, [(p.name, p.read_bytes()) for p in DEMO], ZoneInfo("Asia/Shanghai"))
    assert loaded.problems == ()
    await engine.dispose()
    async with web_client(url) as test_client:
        yield test_client


async def test_the_card_for_an_agent_shows_numbers_and_only_the_last_six_of_a_vin(client: Client) -> None:
    status, card = await call(client, "GET", "/api/customers/12", AGENT)
    assert status == 200
    assert (card["name"], card["segment"], card["language"]) == ("孙涛", "regular", "zh")
    assert card["phone_numbers"] == ["02150001234", "13900000002", "13912345678"]
    assert card["vehicles"][0]["vin_last6"] == "100121"
    assert "LSVAU2180N2100121" not in str(card)


@pytest.mark.parametrize("viewer", [MANAGER, SUPERVISOR])
async def test_the_card_for_a_supervisor_or_manager_masks_numbers(
    client: Client, viewer: dict[str, str]
) -> None:
    status, card = await call(client, "GET", "/api/customers/12", viewer)
    assert status == 200
    assert card["phone_numbers"] == ["021****1234", "139****0002", "139****5678"]


async def test_a_card_with_vehicles_insurance_and_an_open_complaint(client: Client) -> None:
    _, card = await call(client, "GET", "/api/customers/2", AGENT)
    (vehicle,) = card["vehicles"]
    assert (vehicle["plate"], vehicle["insurance"]["insurer"], vehicle["last_service"]["kind"]) == (
        "沪A·12345",
        "太平洋产险",
        "repair",
    )
    assert [case["kind"] for case in card["cases"]] == ["complaint"]


async def test_errors_of_the_card_route(client: Client) -> None:
    assert (await call(client, "GET", "/api/customers/999", AGENT))[0] == 404
    status, body = await call(client, "GET", "/api/customers/abc", AGENT)
    assert (status, body["details"]) == (400, {"parameter": "id"})
    assert (await call(client, "GET", "/api/customers/1", {}))[0] == 401
    assert (await call(client, "GET", "/api/customers/1", API))[0] == 403
    assert (await call(client, "POST", "/api/customers", API, json={}))[0] == 403


async def test_a_new_customer_with_a_vehicle(client: Client) -> None:
    form = {
        "name": "马丽",
        "phone": "137 0000 0001",
        "segment": "vip",
        "language": "en",
        "plate": "沪a·55555",
    }
    status, body = await call(
        client,
        "POST",
        "/api/customers",
        AGENT,
        json={**form, "model": "蔚来 ET5", "vin": "lnbsc1wk5pz100001"},
    )
    assert status == 201
    _, card = await call(client, "GET", f"/api/customers/{body['id']}", AGENT)
    assert (card["name"], card["segment"], card["language"], card["phone_numbers"]) == (
        "马丽",
        "vip",
        "en",
        ["13700000001"],
    )
    assert [(v["plate"], v["model"], v["vin_last6"]) for v in card["vehicles"]] == [
        ("沪A·55555", "蔚来 ET5", "100001")
    ]
    status, body = await call(
        client, "POST", "/api/customers", SUPERVISOR, json={"name": "周杰", "phone": "13700000002"}
    )
    assert status == 201
    _, card = await call(client, "GET", f"/api/customers/{body['id']}", AGENT)
    assert (card["segment"], card["language"], card["vehicles"]) == ("regular", "zh", [])


async def test_a_bad_form_names_every_bad_field(client: Client) -> None:
    form = {
        "name": "",
        "phone": "12ab",
        "segment": "gold",
        "language": "fr",
        "plate": "沪A·1",
        "vin": "123",
        "age": 3,
    }
    status, body = await call(client, "POST", "/api/customers", AGENT, json=form)
    assert status == 400
    assert set(body["details"]["fields"]) == {"name", "phone", "segment", "language", "vin", "model", "age"}
    assert body["details"]["fields"]["model"] == "missing"
    assert "vin: '123' has 3 characters, a VIN has 17" in body["message"]
    status, body = await call(
        client, "POST", "/api/customers", AGENT, json={"name": 5, "phone": "13700000003"}
    )
    assert (status, body["details"]["fields"]) == (400, {"name": "must be text"})
    for bad in (b"not json", b"[1]"):
        assert (await call(client, "POST", "/api/customers", AGENT, data=bad))[0] == 400


async def test_a_number_or_vehicle_that_belongs_to_a_customer_is_a_conflict(client: Client) -> None:
    for phone in ("13800000001", "+8613800000001"):
        status, body = await call(
            client, "POST", "/api/customers", AGENT, json={"name": "李娜", "phone": phone}
        )
        assert (status, body["message"]) == (409, f"the number {phone} belongs to customer 2")
    taken = {"name": "新", "phone": "13700000004", "model": "x"}
    status, body = await call(
        client, "POST", "/api/customers", AGENT, json={**taken, "vin": "LSVAU2180N2100021"}
    )
    assert (status, body["message"]) == (409, "the VIN LSVAU2180N2100021 belongs to customer 2")
    status, body = await call(
        client,
        "POST",
        "/api/customers",
        AGENT,
        json={**taken, "vin": "LSVAU2180N2100999", "plate": "沪A·12345"},
    )
    assert (status, body["message"]) == (409, "the plate 沪A·12345 belongs to customer 2")
    assert (await call(client, "GET", "/api/customers/13", AGENT))[0] == 404  # nothing was stored
