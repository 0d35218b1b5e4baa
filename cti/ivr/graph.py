"""A flow as a Graphviz DOT picture a manager can read. Pure (flow in, text out).

``cti flows graph`` pipes this text through Graphviz's ``dot``. Each node shows its id, its
kind and the start of what the caller hears; each edge the key, case or outcome that takes
it. Where the call ends (queue, callback, transfer, hang-up) is drawn bold, rounded and
coloured by kind, so the ways out stand apart from the menus that lead to them. Labels are
Graphviz HTML-like labels: escaped text, never markup from the flow.
"""

from __future__ import annotations

import html
import unicodedata

from cti.ivr.model import (
    TERMINAL_NODES,
    BranchNode,
    CallbackNode,
    CollectNode,
    Flow,
    HangupNode,
    LookupNode,
    MenuNode,
    Node,
    QueueNode,
    TransferNode,
)

#: Prompt excerpts in display columns: a CJK character takes two, as on screen.
PROMPT_COLUMNS = 36
_FONT = "WenQuanYi Micro Hei,Noto Sans CJK SC,sans-serif"  # CJK first: prompts are Chinese
_ENDS = {QueueNode: "#c8e6c9", CallbackNode: "#bbdefb", TransferNode: "#ffe0b2", HangupNode: "#e0e0e0"}
_ASKS = "#fff9c4"  # menus and digit collection: the caller acts
_DECIDES = "#f3e5f5"  # lookups and branches: the system decides


def to_dot(flow: Flow, language: str | None = None) -> str:
    """DOT text of ``flow``, prompts in ``language`` (default: the flow's first language)."""
    language = language or flow.default_language
    start = _unused_id(flow, "call")
    title = f"IVR flow {flow.name} ({language})"
    if flow.fallback is not None:
        title += f" · fallback if the flow loops: {flow.fallback}"
    lines = [
        f"digraph {_quote(flow.name)} {{",
        f'  graph [label={_quote(title)}, labelloc=t, fontname="{_FONT}", rankdir=LR];',
        f'  node [fontname="{_FONT}", fontsize=11, shape=box, style=filled, fillcolor=white];',
        f'  edge [fontname="{_FONT}", fontsize=10];',
        f"  {_quote(start)} [label=call, shape=circle, fillcolor=black, fontcolor=white];",
        f"  {_quote(start)} -> {_quote(flow.entry)};",
    ]
    lines += [
        f"  {_quote(node_id)} [{_node_attributes(node_id, node, language)}];"
        for node_id, node in flow.nodes.items()
    ]
    for node_id, node in flow.nodes.items():
        for path, target in node.edges():
            if target in flow.nodes:  # a dangling reference is the validator's to report, not to draw
                lines.append(f"  {_quote(node_id)} -> {_quote(target)} [{_edge_attributes(node, path)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_attributes(node_id: str, node: Node, language: str) -> str:
    rows = [f"<b>{html.escape(node_id)}</b>", f'<font point-size="9">{html.escape(node.summary())}</font>']
    excerpt = _excerpt(node, language)
    if excerpt:
        rows.append(f"<i>{html.escape(excerpt)}</i>")
    label = f"label=<{'<br/>'.join(rows)}>"
    if isinstance(node, TERMINAL_NODES):
        return f'{label}, style="rounded,filled,bold", penwidth=2, fillcolor="{_ENDS[type(node)]}"'
    if isinstance(node, MenuNode | CollectNode):
        return f'{label}, fillcolor="{_ASKS}"'
    if isinstance(node, LookupNode | BranchNode):
        return f'{label}, shape=hexagon, fillcolor="{_DECIDES}"'
    return label


def _excerpt(node: Node, language: str) -> str:
    """The start of the node's first prompt, cut to ``PROMPT_COLUMNS`` display columns."""
    said = node.prompts()
    if not said:
        return ""
    say = said[0][1]
    if say.sound is not None:
        return f"<sound {say.sound}>"
    text = say.text.get(language) or next(iter(say.text.values()), "")
    kept, columns = "", 0
    for char in text:
        columns += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if columns > PROMPT_COLUMNS:
            return kept + "…"
        kept += char
    return kept


def _edge_attributes(node: Node, path: tuple[str, ...]) -> str:
    """What takes this way: a key, a case, an outcome; the way taken when nothing else fits is dashed."""
    field = path[0]
    if field in ("options", "cases"):
        return f"label={_quote(path[1])}"
    if field == "default":
        otherwise = {MenuNode: "no valid key", CollectNode: "no valid entry"}.get(type(node), "otherwise")
        return f"label={_quote(otherwise)}, style=dashed"
    if field == "not_found":
        return 'label="not found", style=dashed'
    if field == "found":
        return 'label="found"'
    if isinstance(node, CollectNode):
        return 'label="entered"'
    return ""


def _unused_id(flow: Flow, wanted: str) -> str:
    """A DOT node name for the call's start that no flow node already uses."""
    while wanted in flow.nodes:
        wanted += "_"
    return wanted


def _quote(text: str) -> str:
    """A DOT quoted string: only the double quote and the backslash need escaping."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
