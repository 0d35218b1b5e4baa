"""The DOT text of a flow (pure): every node and edge, labels a manager reads, ends stand apart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cti.ivr import Flow, load_flow
from cti.ivr.graph import PROMPT_COLUMNS, to_dot

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = load_flow(ROOT / "ivr_flows" / "hotline.yaml")
NODE = re.compile(r'^  "(?P<id>[^"]+)" \[(?P<attributes>label=.*)\];$', re.M)
EDGE = re.compile(r'^  "(?P<source>[^"]+)" -> "(?P<target>[^"]+)"(?: \[(?P<attributes>.*)\])?;$', re.M)


def nodes(dot: str) -> dict[str, str]:
    return {match["id"]: match["attributes"] for match in NODE.finditer(dot)}


def edges(dot: str) -> dict[tuple[str, str, str], str]:
    """(source, target, label) -> attributes; the label is "" when the edge has none."""
    found = {}
    for match in EDGE.finditer(dot):
        attributes = match["attributes"] or ""
        label = re.search(r'label="([^"]*)"', attributes)
        found[(match["source"], match["target"], label[1] if label else "")] = attributes
    return found


def small(nodes: dict[str, Any]) -> Flow:
    return Flow.model_validate(
        {"name": "t", "entry": next(iter(nodes)), "languages": ["zh", "en"], "nodes": nodes}
    )


def test_every_node_of_the_hotline_is_drawn_with_its_kind() -> None:
    drawn = nodes(to_dot(HOTLINE))
    assert set(drawn) == {*HOTLINE.nodes, "call"}
    assert "<b>main_menu</b>" in drawn["main_menu"]
    assert "queue service, priority 2" in drawn["service_repair"]
    assert "branch on business_hours" in drawn["opening_hours"]


def test_every_edge_of_the_hotline_is_drawn_with_its_key_or_case() -> None:
    drawn = edges(to_dot(HOTLINE))
    assert ("call", "identify", "") in drawn
    expected = {
        ("main_menu", "service_menu", "2"),
        ("main_menu", "agent", "0"),
        ("main_menu", "agent", "no valid key"),
        ("service_menu", "main_menu", "*"),
        ("vip_hours", "vip_queue", "open"),
        ("vip_hours", "closed_welcome", "otherwise"),
        ("identify", "vip_check", "found"),
        ("identify", "opening_hours", "not found"),
        ("roadside_area", "roadside_station", "entered"),
        ("roadside_area", "roadside_queue", "no valid entry"),
        ("welcome", "main_menu", ""),
    }
    assert expected <= set(drawn)
    assert len(drawn) == 1 + sum(len(node.edges()) for node in HOTLINE.nodes.values())
    assert "style=dashed" in drawn[("main_menu", "agent", "no valid key")]
    assert "style=dashed" not in drawn[("main_menu", "agent", "0")]


@pytest.mark.parametrize("node_id", ["sales_queue", "general_callback"])
def test_terminal_nodes_are_bold_rounded_and_coloured(node_id: str) -> None:
    attributes = nodes(to_dot(HOTLINE))[node_id]
    assert 'style="rounded,filled,bold"' in attributes
    assert "penwidth=2" in attributes


def test_terminal_kinds_have_their_own_colours_and_other_nodes_are_not_bold() -> None:
    drawn = nodes(to_dot(HOTLINE))
    fill = {node_id: re.search(r'fillcolor="([^"]+)"', attributes) for node_id, attributes in drawn.items()}
    assert fill["sales_queue"] != fill["sales_callback"]
    assert all("bold" not in drawn[node_id] for node_id in ("main_menu", "welcome", "identify"))


@pytest.mark.parametrize(
    ("language", "text", "shown"),
    [
        ("zh", "一二三四五六七八九十" * 2, "一二三四五六七八九十一二三四五六七八…"),  # 2 columns each
        ("zh", "保养预约请按1" * 4, "保养预约请按1保养预约请按1保养预约请…"),  # 13 + 13 + 10 columns
        ("en", "x" * 40, "x" * PROMPT_COLUMNS + "…"),
        ("en", "Short.", "Short."),
    ],
)
def test_prompts_are_cut_by_display_width_in_the_chosen_language(
    language: str, text: str, shown: str
) -> None:
    flow = small(
        {"hello": {"type": "queue", "queue": "q", "prompt": {"zh": "中", "en": "en", language: text}}}
    )
    assert f"<i>{shown}</i>" in nodes(to_dot(flow, language))["hello"]


def test_text_from_the_flow_is_escaped_never_markup() -> None:
    flow = small(
        {
            'say "hi"': {"type": "prompt", "prompt": {"zh": "<b>&", "en": "x"}, "next": "bye"},
            "bye": {"type": "hangup"},
        }
    )
    dot = to_dot(flow)
    assert '  "say \\"hi\\"" [label=<<b>say &quot;hi&quot;</b>' in dot
    assert "<i>&lt;b&gt;&amp;</i>" in dot


def test_a_node_called_call_does_not_clash_with_the_start() -> None:
    dot = to_dot(small({"call": {"type": "hangup"}}))
    assert '  "call_" -> "call";' in dot
