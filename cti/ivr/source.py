"""YAML text -> plain data plus a map of where every key was written. Pure (text in).

PyYAML's constructed dicts forget line numbers, so the document is composed first and each
mapping key's ``start_mark`` is recorded under its path (``("nodes", "main_menu", "options", "1")``);
problems found later on the typed model point back to the line a flow writer edits. Duplicate
keys, which PyYAML silently collapses to the last one, are recorded too.

Whatever the text holds, the answer is data or problems with a line, never an exception: PyYAML's
own errors carry a mark, the plain Python errors its constructors let out (``!!int x``,
``2026-13-45``) are given the mark of the value that raised them, and aliases that make a value
contain itself or expand past ``MAX_VALUES`` (the "billion laughs") are refused before anything
walks the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from cti.ivr.errors import Problem

KeyPath = tuple[str, ...]
MAX_VALUES = 100_000  # a flow has hundreds of values; aliases past this are an attack or a slip
Duplicate = tuple[KeyPath, int, int]  # (path, line, line of the first one)


class _FlowLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false.

    YAML 1.1 reads ``on``, ``off``, ``yes`` and ``no`` as booleans, which would turn a branch's
    ``on:`` key into ``True`` and a menu written ``no: hangup`` into ``False``.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML picks a type from a tag or a pattern, then its constructors trust the text to
        fit: ``!!bool x`` raises ``KeyError``, ``2026-02-30`` ``ValueError``. Give those the mark
        of the value, as PyYAML's own errors have."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            kind = _KINDS.get(node.tag, node.tag.rpartition(":")[2] or node.tag)
            shown = f"{node.value!r} " if isinstance(node, yaml.ScalarNode) else ""
            problem = f"{shown}is not a valid {kind} ({exc})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc


_FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


_KINDS = {"tag:yaml.org,2002:timestamp": "date", "tag:yaml.org,2002:bool": "boolean (true or false)"}


@dataclass(frozen=True)
class SourceMap:
    """Line of every mapping key of one YAML file, by key path."""

    file: str
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    duplicates: tuple[Duplicate, ...] = ()

    def line(self, *path: str) -> int:
        """Line of the deepest written key on ``path`` (1 when nothing on it was written)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


@dataclass(frozen=True)
class Document:
    data: Any
    source: SourceMap
    problems: tuple[Problem, ...] = ()


def _walk(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], dups: list[Duplicate], walked: set[int]
) -> None:
    """Record key lines under ``node``. An alias is its anchor's very node: its keys are walked
    once, where the anchor is written; a path through the alias stops at the alias's own key."""
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            _record_key(key_path, key_node.start_mark.line + 1, lines, dups)
            _walk(value_node, key_path, lines, dups, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, str(index))
            lines[item_path] = item.start_mark.line + 1
            _walk(item, item_path, lines, dups, walked)


def _record_key(key_path: KeyPath, line: int, lines: dict[KeyPath, int], dups: list[Duplicate]) -> None:
    if key_path in lines:
        # PyYAML keeps the last value: forget the first one's keys, so lines match the data.
        dups.append((key_path, line, lines[key_path]))
        for stale in [p for p in lines if p[: len(key_path)] == key_path]:
            del lines[stale]
    lines[key_path] = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _alias_problem(root: yaml.Node) -> tuple[int, str] | None:
    """(line, message) when aliases make a value contain itself or expand past ``MAX_VALUES``.

    Sizes are counted once per node (an alias reuses its anchor's count), so the count itself
    stays linear in the text however far the aliases would expand.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, children_done = todo.pop()
        if children_done:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_VALUES:
                return node.start_mark.line + 1, f"aliases expand this value past {MAX_VALUES} values"
        elif id(node) in on_path:
            return node.start_mark.line + 1, "an alias inside this value refers to the value itself"
        elif id(node) not in sizes:
            on_path.add(id(node))
            todo.append((node, True))
            todo.extend((child, False) for child in _children(node))
    return None


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    """1-based line of a YAML error: its mark, or for a reader error its character position."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    if isinstance(exc, yaml.reader.ReaderError):
        return text.count("\n", 0, exc.position) + 1
    return 1


def _compose(text: str, file: str) -> tuple[yaml.Node | None, Any, tuple[Problem, ...]]:
    """(root node, constructed data, problems) of one YAML document."""
    try:
        loader = _FlowLoader(text)  # the reader refuses control characters here already
    except yaml.YAMLError as exc:
        return None, None, (Problem(file, _error_line(exc, text), None, f"YAML syntax error: {exc}"),)
    try:
        root = loader.get_single_node()
        aliased = _alias_problem(root) if root is not None else None
        if aliased is not None:
            return None, None, (Problem(file, aliased[0], None, f"YAML aliases: {aliased[1]}"),)
        return root, loader.construct_document(root) if root is not None else None, ()
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc)
        what = "cannot read a value" if isinstance(exc, yaml.constructor.ConstructorError) else "syntax error"
        return None, None, (Problem(file, _error_line(exc, text), None, f"YAML {what}: {reason}"),)
    except RecursionError:
        line = loader.get_mark().line + 1
        return None, None, (Problem(file, line, None, "YAML nested too deeply"),)
    finally:
        loader.dispose()


def parse_yaml(text: str, file: str) -> Document:
    """Compose and construct one YAML document, keeping key lines; every error becomes a problem."""
    root, data, problems = _compose(text, file)
    if problems:
        return Document(None, SourceMap(file), problems)
    lines: dict[KeyPath, int] = {}
    dups: list[Duplicate] = []
    if root is not None:
        _walk(root, (), lines, dups, set())
    return Document(data, SourceMap(file, lines, tuple(dups)))
