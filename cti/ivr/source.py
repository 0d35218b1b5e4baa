"""YAML text -> plain data plus a map of where every key was written. Pure (text in).

PyYAML's constructed dicts forget line numbers, so the document is composed first and each
mapping key's ``start_mark`` is recorded under its path (``("nodes", "main_menu", "options", "1")``);
problems found later on the typed model point back to the line a flow writer edits. Duplicate
keys, which PyYAML silently collapses to the last one, are recorded too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from cti.ivr.errors import Problem

KeyPath = tuple[str, ...]
Duplicate = tuple[KeyPath, int, int]  # (path, line, line of the first one)


class _FlowLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false.

    YAML 1.1 reads ``on``, ``off``, ``yes`` and ``no`` as booleans, which would turn a branch's
    ``on:`` key into ``True`` and a menu written ``no: hangup`` into ``False``.
    """


_FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], dups: list[Duplicate]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key_path in lines:
                # PyYAML keeps the last value: forget the first one's keys, so lines match the data.
                dups.append((key_path, line, lines[key_path]))
                for stale in [p for p in lines if p[: len(key_path)] == key_path]:
                    del lines[stale]
            lines[key_path] = line
            _walk(value_node, key_path, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, str(index))
            lines[item_path] = item.start_mark.line + 1
            _walk(item, item_path, lines, dups)


def parse_yaml(text: str, file: str) -> Document:
    """Compose and construct one YAML document, keeping key lines; syntax errors become problems."""
    loader = _FlowLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        return Document(None, SourceMap(file), (Problem(file, line, None, f"YAML syntax error: {reason}"),))
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    dups: list[Duplicate] = []
    if root is not None:
        _walk(root, (), lines, dups)
    return Document(data, SourceMap(file, lines, tuple(dups)))
