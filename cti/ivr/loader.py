"""Read flow files: YAML -> typed ``Flow`` -> whole-flow checks, every problem with its line.

The only I/O of the flow pipeline is reading the files; the parsing and the rules are pure
(``source``, ``model``, ``validator``), so the CLI check, the service start-up and the tests run
the same code. Pydantic's errors are mapped here, at the edge that meets them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cti.ivr.errors import FlowError, Problem
from cti.ivr.model import Flow
from cti.ivr.source import Document, parse_yaml
from cti.ivr.validator import check_flow


@dataclass(frozen=True)
class Parsed:
    """A flow file read as far as it could be: the flow (None if it failed) and its problems."""

    file: str
    flow: Flow | None
    problems: tuple[Problem, ...]
    name_line: int = 1


def _node_type(data: Any, node_id: str) -> Any:
    node = data.get("nodes", {}).get(node_id) if isinstance(data.get("nodes"), dict) else None
    return node.get("type") if isinstance(node, dict) else None


def _schema_problems(exc: ValidationError, document: Document) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 2 and loc[0] == "nodes" and loc[2] == _node_type(document.data, loc[1]):
            del loc[2]  # pydantic names the union member (the node's type); the writer never wrote it
        node_id = loc[1] if len(loc) > 1 and loc[0] == "nodes" else None
        field = ".".join(loc[2:] if node_id else loc)
        message = f"{field}: {error['msg']}" if field else error["msg"]
        problems.append(Problem(document.source.file, document.source.line(*loc), node_id, message))
    return problems


def parse_flow(text: str, file: str, known_queues: Collection[str] | None = None) -> Parsed:
    """Parse and check one flow's YAML text; ``file`` names it in problems."""
    document = parse_yaml(text, file)
    if document.problems:
        return Parsed(file, None, document.problems)
    if not isinstance(document.data, dict):
        problem = Problem(file, 1, None, "a flow file must hold a mapping (name, entry, nodes)")
        return Parsed(file, None, (problem,))
    try:
        flow = Flow.model_validate(document.data)
    except ValidationError as exc:
        return Parsed(file, None, tuple(sorted(_schema_problems(exc, document), key=Problem.sort_key)))
    problems = tuple(check_flow(flow, document.source, known_queues))
    return Parsed(file, flow, problems, document.source.line("name"))


def read_flow_bytes(data: bytes, file: str, known_queues: Collection[str] | None = None) -> Parsed:
    """Parse and check one flow file's bytes: text that is not UTF-8 is a problem on its line."""
    try:
        text = data.decode("utf-8-sig")  # an editor's byte order mark is no error
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        message = f"not UTF-8 text: byte {data[exc.start]:#04x} in column {column}"
        return Parsed(file, None, (Problem(file, line, None, message),))
    return parse_flow(text, file, known_queues)


def read_flow(path: Path, known_queues: Collection[str] | None = None) -> Parsed:
    """Read and check one flow file; an unreadable file is a problem, not an exception."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Parsed(str(path), None, (Problem(str(path), 0, None, f"cannot read the flow: {exc}"),))
    return read_flow_bytes(data, str(path), known_queues)


def flow_files(directory: Path) -> list[Path]:
    """The flow files of a directory (``*.yaml``, one per entry point) in name order."""
    return sorted(directory.glob("*.yaml"))


def read_flows(paths: Iterable[Path], known_queues: Collection[str] | None) -> list[Parsed]:
    """Read and check flow files together: names address flows, so a name already used by an
    earlier file is a problem of the later one."""
    results: list[Parsed] = []
    owners: dict[str, str] = {}
    for path in paths:
        parsed = read_flow(path, known_queues)
        if parsed.flow is not None and parsed.flow.name in owners:
            message = f"flow name {parsed.flow.name!r} is already used by {owners[parsed.flow.name]}"
            clash = Problem(parsed.file, parsed.name_line, None, message)
            parsed = replace(parsed, problems=tuple(sorted((*parsed.problems, clash), key=Problem.sort_key)))
        elif parsed.flow is not None:
            owners[parsed.flow.name] = parsed.file
        results.append(parsed)
    return results


def validate_flows(paths: Iterable[Path], known_queues: Collection[str] | None) -> list[Problem]:
    """Every problem of every file, plus flow names used by two files."""
    return [problem for parsed in read_flows(paths, known_queues) for problem in parsed.problems]


def load_flows(directory: Path, known_queues: Collection[str] | None) -> dict[str, Flow]:
    """Every flow of ``directory`` by name, or ``FlowError`` listing every problem of every file.

    The service calls this at start and refuses to start on any problem: a flow wrong in one
    place is wrong for every caller who reaches that place, so it is refused, not half used.
    """
    results = read_flows(flow_files(directory), known_queues)
    if not results:
        raise FlowError(f"no IVR flows: no *.yaml file in {directory}")
    problems = [problem for parsed in results for problem in parsed.problems]
    if problems:
        raise FlowError(f"invalid IVR flows in {directory}", problems)
    return {parsed.flow.name: parsed.flow for parsed in results if parsed.flow is not None}


def load_flow(path: Path, known_queues: Collection[str] | None = None) -> Flow:
    """The flow in ``path``, or ``FlowError`` listing every problem (the service refuses to start)."""
    parsed = read_flow(path, known_queues)
    if parsed.problems or parsed.flow is None:
        raise FlowError(f"invalid IVR flow {path}", parsed.problems)
    return parsed.flow
