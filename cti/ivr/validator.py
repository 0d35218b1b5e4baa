"""Whole-flow rules a flow writer can break, each reported with file, line and node id. Pure.

``check_flow`` never stops at the first problem: a writer fixing a flow wants the full list,
as ``cti flows check`` prints it. Rules: duplicate keys, unknown languages, dates both closed
and open, unknown node references, unreachable nodes, menus with no way out, cycles with no
exit, missing prompts, invalid DTMF keys, digit ranges their validation never accepts, unknown
queues, variables that no node stores, loops a silent caller never leaves.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterator, Mapping, Sequence

from cti.ivr.digits import LENGTHS
from cti.ivr.errors import Problem
from cti.ivr.model import (
    BUSINESS_HOURS,
    DTMF_KEYS,
    HOURS_CASES,
    IMMEDIATE_NODES,
    LANGUAGE,
    SUPPORTED_LANGUAGES,
    TERMINAL_NODES,
    BranchNode,
    CallbackNode,
    CollectNode,
    Flow,
    LookupNode,
    MenuNode,
    Node,
    QueueNode,
    Say,
    SayStationNode,
    SetLanguageNode,
    branch_variable,
)
from cti.ivr.source import SourceMap

STATION_FIELDS = frozenset({"city", "name", "address", "phone"})


class _Report:
    """Collects problems of one file, placing each on the line of the key it is about."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, node_id: str | None, path: Sequence[str], message: str) -> None:
        full = ("nodes", node_id, *path) if node_id is not None else tuple(path)
        self.problems.append(Problem(self.source.file, self.source.line(*full), node_id, message))


def check_flow(flow: Flow, source: SourceMap, known_queues: Collection[str] | None) -> list[Problem]:
    """Every problem of a flow that parsed; ``known_queues`` None skips the queue check."""
    report = _Report(source)
    _check_duplicates(source, report)
    _check_languages(flow, report)
    _check_dates(flow, report)
    _check_references(flow, report)
    _check_reachable(flow, report)
    _check_variables(flow, report)
    for node_id, node in flow.nodes.items():
        _check_node(flow, node_id, node, known_queues, report)
    _check_cycles(flow, report)
    _check_silence(flow, report)
    return sorted(report.problems, key=Problem.sort_key)


def _check_duplicates(source: SourceMap, report: _Report) -> None:
    for path, line, first in source.duplicates:
        node_id = path[1] if path[0] == "nodes" and len(path) > 1 else None
        if len(path) == 2 and node_id is not None:
            message = f"node id {node_id!r} is defined twice (first on line {first})"
        elif len(path) > 3 and path[2] == "options":
            message = f"menu key {path[-1]!r} appears twice (first on line {first})"
        else:
            message = f"key {path[-1]!r} appears twice (first on line {first})"
        report.problems.append(Problem(source.file, line, node_id, message))


def _check_languages(flow: Flow, report: _Report) -> None:
    for index, language in enumerate(flow.languages):
        if language not in SUPPORTED_LANGUAGES:
            voices = ", ".join(sorted(SUPPORTED_LANGUAGES))
            message = f"unknown language {language!r} (we have voices for {voices})"
            report.add(None, ("languages", str(index)), message)
        elif flow.languages.index(language) != index:
            report.add(None, ("languages", str(index)), f"language {language!r} is listed twice")


def _check_dates(flow: Flow, report: _Report) -> None:
    for day in sorted(flow.holidays & flow.workdays):
        report.add(None, ("workdays",), f"{day} is both a holiday and a workday of this flow")


def _check_references(flow: Flow, report: _Report) -> None:
    if flow.entry not in flow.nodes:
        report.add(None, ("entry",), f"entry node {flow.entry!r} does not exist")
    if flow.fallback is not None:
        fallback = flow.nodes.get(flow.fallback)
        if fallback is None:
            report.add(None, ("fallback",), f"fallback node {flow.fallback!r} does not exist")
        elif not isinstance(fallback, TERMINAL_NODES):
            report.add(None, ("fallback",), "fallback must be a queue, callback, transfer or hangup node")
    for node_id, node in flow.nodes.items():
        for path, target in node.edges():
            if target not in flow.nodes:
                report.add(node_id, path, f"{'.'.join(path)} refers to unknown node {target!r}")


def _graph(flow: Flow) -> dict[str, list[str]]:
    """Edges between existing nodes (unknown references are reported on their own)."""
    return {
        node_id: [target for _, target in node.edges() if target in flow.nodes]
        for node_id, node in flow.nodes.items()
    }


def _check_reachable(flow: Flow, report: _Report) -> None:
    if flow.entry not in flow.nodes:
        return  # already reported; everything would look unreachable
    graph = _graph(flow)
    roots = [root for root in (flow.entry, flow.fallback) if root is not None and root in flow.nodes]
    seen = set(roots)
    todo = list(roots)
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for node_id in flow.nodes:
        if node_id not in seen:
            report.add(node_id, (), f"node {node_id!r} is unreachable from entry {flow.entry!r}")


def _check_variables(flow: Flow, report: _Report) -> None:
    """Variables read must be stored by a collect node or be a field of a lookup's record: a
    misspelt one is empty on every call, so the flow would silently always take its default."""
    collected = {node.into for node in flow.nodes.values() if isinstance(node, CollectNode)}
    records = {node.into for node in flow.nodes.values() if isinstance(node, LookupNode)}
    for node_id, node in flow.nodes.items():
        read = _variable_read(node)
        if read is None:
            continue
        field, name = read
        record, dot, _ = name.partition(".")
        if name not in collected and not (dot and record in records):
            report.add(node_id, (field,), f"variable {name!r} is never stored by a collect or lookup node")


def _variable_read(node: Node) -> tuple[str, str] | None:
    """(field, variable) of the variable a node reads, if it reads one."""
    if isinstance(node, BranchNode) and node.on not in (BUSINESS_HOURS, LANGUAGE):
        return "on", branch_variable(node.on)
    if isinstance(node, LookupNode) and node.by != "caller_number":
        return "by", node.by
    if isinstance(node, SayStationNode):
        return "area_code_var", node.area_code_var
    return None


def _check_node(
    flow: Flow, node_id: str, node: Node, known_queues: Collection[str] | None, report: _Report
) -> None:
    for path, say in node.prompts():
        _check_say(flow, node_id, path, say, report)
    if isinstance(node, MenuNode):
        _check_menu(node_id, node, report)
    elif isinstance(node, CollectNode):
        _check_collect(node_id, node, report)
    elif isinstance(node, BranchNode):
        _check_branch(flow, node_id, node, report)
    elif isinstance(node, SetLanguageNode) and node.language not in flow.languages:
        report.add(node_id, ("language",), f"unknown language {node.language!r}: not in the flow's languages")
    elif isinstance(node, QueueNode | CallbackNode) and known_queues is not None:
        if node.queue not in known_queues:
            known = ", ".join(sorted(known_queues))
            report.add(node_id, ("queue",), f"unknown queue {node.queue!r} (known: {known})")
    elif isinstance(node, SayStationNode):
        for language, text in node.found.text.items():
            _check_template(node_id, ("found", language), text, report)


def _check_say(flow: Flow, node_id: str, path: tuple[str, ...], say: Say, report: _Report) -> None:
    if say.sound is not None:
        return  # a recording serves every language
    for language in flow.languages:
        if language in SUPPORTED_LANGUAGES and language not in say.text:  # others: reported once
            report.add(node_id, path, f"missing prompt: {'.'.join(path)} has no {language!r} text")
    for language in say.text:
        if language not in flow.languages:
            report.add(node_id, (*path, language), f"unknown language {language!r} in {'.'.join(path)}")


def _check_menu(node_id: str, node: MenuNode, report: _Report) -> None:
    for key in node.options:
        if key not in DTMF_KEYS:
            report.add(node_id, ("options", key), f"invalid menu key {key!r}: use one of 0-9, * or #")
    if not node.options:
        report.add(node_id, ("options",), "menu has no way out: it has no options")
    elif all(target == node_id for _, target in node.edges()):
        report.add(node_id, ("options",), "menu has no way out: every key leads back to it")


def _check_collect(node_id: str, node: CollectNode, report: _Report) -> None:
    """A digit range that misses every length its validation accepts refuses every caller."""
    if node.validate_as is None:
        return
    shortest, longest = LENGTHS[node.validate_as]
    if node.digits.max < shortest or node.digits.min > longest:
        valid = f"{shortest}" if shortest == longest else f"{shortest}-{longest}"
        message = (
            f"digits {node.digits.min}-{node.digits.max} can never hold a valid {node.validate_as} "
            f"({valid} digits): every caller would be refused"
        )
        report.add(node_id, ("digits",), message)


def _check_branch(flow: Flow, node_id: str, node: BranchNode, report: _Report) -> None:
    allowed: Collection[str] | None = None
    if node.on == BUSINESS_HOURS:
        allowed = HOURS_CASES
    elif node.on == LANGUAGE:
        allowed = flow.languages
    for case in node.cases:
        if allowed is not None and case not in allowed:
            message = f"case {case!r} can never match {node.on} ({', '.join(sorted(allowed))})"
            report.add(node_id, ("cases", case), message)


def _check_template(node_id: str, path: tuple[str, ...], text: str, report: _Report) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        report.add(node_id, path, f"station template is malformed: {exc}")
        return
    for name in sorted(fields - STATION_FIELDS):
        known = ", ".join(sorted(STATION_FIELDS))
        report.add(node_id, path, f"station template uses unknown field {{{name}}} (known: {known})")


def _check_cycles(flow: Flow, report: _Report) -> None:
    """Loops no caller can leave, whatever they key."""
    for component in _cycles(_graph(flow)):
        if len(component) == 1 and isinstance(flow.nodes[component[0]], MenuNode):
            continue  # a menu looping on itself: the menu rule reports it
        if not _exits(flow, component):
            _report_cycle(component, "cycle with no exit", report)


def _check_silence(flow: Flow, report: _Report) -> None:
    """Loops a caller who keys nothing may never leave: a menu whose default leads back to it,
    a lookup retried on a miss, branches and language switches feeding each other. Such a
    caller (or a dead line) goes round until the interpreter's loop guard cuts in. Loops with
    no exit at all are the cycle rule's."""
    silent = {
        node_id: [target for target in _silent_targets(node) if target in flow.nodes]
        for node_id, node in flow.nodes.items()
    }
    for component in _cycles(silent):
        if not _exits(flow, component):
            continue
        if all(isinstance(flow.nodes[node_id], IMMEDIATE_NODES) for node_id in component):
            _report_cycle(component, "cycle without a prompt or caller input would spin", report)
        else:
            _report_cycle(component, "a caller who keys nothing may go round for ever", report)


def _silent_targets(node: Node) -> list[str]:
    """Where a call goes on without a key: everywhere but a menu's or a collection's keyed ways."""
    if isinstance(node, MenuNode | CollectNode):
        return [node.default] if node.default is not None else []
    return [target for _, target in node.edges()]


def _cycles(graph: Mapping[str, Sequence[str]]) -> Iterator[list[str]]:
    """Strongly connected components that hold a cycle (one node alone: only with an edge to itself)."""
    for component in _strongly_connected(graph):
        if len(component) > 1 or component[0] in graph[component[0]]:
            yield component


def _exits(flow: Flow, component: Sequence[str]) -> bool:
    """Whether any node of the loop has a way out of it.

    Hanging up when a caller's retries run out is no exit: a caller who keys what the
    prompts ask for would go round for ever, as the menu rule already says of one menu.
    """
    members = set(component)
    return any(target not in members for node_id in component for _, target in flow.nodes[node_id].edges())


def _report_cycle(component: Sequence[str], message: str, report: _Report) -> None:
    """One problem per loop, on the node written first, naming every node of the loop."""
    first = min(component, key=lambda node_id: report.source.line("nodes", node_id))
    report.add(first, (), f"{message}: {', '.join(sorted(component))}")


def _strongly_connected(graph: Mapping[str, Sequence[str]]) -> Iterator[list[str]]:
    """Tarjan's strongly connected components, iterative (flows may be long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    yield _pop_component(stack, node)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(graph[child])))
            elif child in stack:
                low[node] = min(low[node], index[child])


def _pop_component(stack: list[str], root: str) -> list[str]:
    component: list[str] = []
    while not component or component[-1] != root:
        component.append(stack.pop())
    return component
