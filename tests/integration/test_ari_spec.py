"""Every REST path and parameter the client uses exists in the installed Asterisk's own spec."""

import json
from pathlib import Path
from typing import Any

from cti.ari import routes
from tests.integration.conftest import AsteriskStack


def load_operations(rest_api_dir: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(method, path) -> {parameter name: paramType} from rest-api/*.json."""
    operations: dict[tuple[str, str], dict[str, str]] = {}
    for spec_file in sorted(rest_api_dir.glob("*.json")):
        spec: dict[str, Any] = json.loads(spec_file.read_text())
        for api in spec.get("apis", []):
            for op in api.get("operations", []):
                params = {p["name"]: p["paramType"] for p in op.get("parameters", [])}
                operations[(op["httpMethod"], api["path"])] = params
    return operations


def route_problems(route: routes.Route, operations: dict[tuple[str, str], dict[str, str]]) -> list[str]:
    params = operations.get((route.method, route.path))
    if params is None:
        return [f"{route.method} {route.path}: no such operation"]
    problems = []
    path_params = {name for name, kind in params.items() if kind == "path"}
    declared_path = {part[1:-1] for part in route.path.split("/") if part.startswith("{")}
    if declared_path != path_params:
        problems.append(f"{route.method} {route.path}: path parameters are {sorted(path_params)}")
    for names, kind in ((route.query, "query"), (route.body, "body")):
        problems += [
            f"{route.method} {route.path}: {kind} parameter {name!r} is {params.get(name)}"
            for name in sorted(names)
            if params.get(name) != kind
        ]
    return problems


def test_every_route_the_client_uses_is_in_asterisks_spec(asterisk: AsteriskStack) -> None:
    operations = load_operations(asterisk.rest_api_dir)
    assert len(operations) > 50, f"no ARI spec found in {asterisk.rest_api_dir}"
    assert [p for route in routes.ALL_ROUTES for p in route_problems(route, operations)] == []


def test_a_drifted_route_would_be_caught(asterisk: AsteriskStack) -> None:
    operations = load_operations(asterisk.rest_api_dir)
    renamed = routes.Route("POST", "/channels/{channelId}/dial", frozenset({"callerId"}))  # it is 'caller'
    assert route_problems(renamed, operations) == [
        "POST /channels/{channelId}/dial: query parameter 'callerId' is None"
    ]
    gone = routes.Route("POST", "/channels/{channelId}/ringing")
    assert route_problems(gone, operations) == ["POST /channels/{channelId}/ringing: no such operation"]
    moved = routes.Route("GET", "/channels/{id}")
    assert route_problems(moved, operations) == ["GET /channels/{id}: no such operation"]
