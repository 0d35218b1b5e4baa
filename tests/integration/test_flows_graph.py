"""`cti flows graph` through Debian's real Graphviz (`scripts/services.sh up graphviz`)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.ivr import load_flow
from cti.ivr.commands import flows
from tests.conftest import service_missing
from tests.unit.test_ivr_commands import state

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", autouse=True)
def dot_installed() -> None:
    if shutil.which("dot") is None:
        service_missing("Graphviz's dot is not installed")


def test_the_hotline_becomes_an_svg_with_every_node(tmp_path: Path) -> None:
    output = tmp_path / "hotline.svg"
    result = CliRunner().invoke(flows, ["graph", "hotline", "-o", str(output)], obj=state())
    assert result.exit_code == 0, result.output
    titles = {title.text for title in ET.parse(output).iter(f"{SVG}title")}
    assert set(load_flow(ROOT / "ivr_flows" / "hotline.yaml").nodes) <= titles
    assert {"call->identify", "main_menu->service_menu", "service_menu->main_menu"} <= titles


def test_the_hotline_becomes_a_png(tmp_path: Path) -> None:
    output = tmp_path / "hotline.png"
    result = CliRunner().invoke(
        flows, ["graph", "hotline", "--format", "png", "-o", str(output)], obj=state()
    )
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
