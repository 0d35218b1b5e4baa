"""`cti flows check | simulate | graph`, driven as a flow writer types them (click's CliRunner)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cti.acd import load_acd_config
from cti.cli import CliState
from cti.ivr import load_flow
from cti.ivr.commands import flows
from cti.ivr.simulator import HANGUP, TIMEOUT, parse_keys
from cti.settings import AcdSettings, IvrSettings, Settings
from tests.unit.test_ivr_validator import BASE, CASES, QUEUES, line_of

ROOT = Path(__file__).resolve().parents[2]
OPEN = "2026-11-23T10:00"  # a Monday morning in Asia/Shanghai, the hotline's timezone
AFTER_HOURS = "2026-11-23T22:30"
NATIONAL_DAY = "2026-10-01T10:00"
HOTLINE = load_flow(ROOT / "ivr_flows" / "hotline.yaml")


@dataclass(frozen=True)
class State:
    """What ``@click.pass_obj`` hands the commands: ``cti.cli.CliState``'s settings, no file read."""

    settings: Settings

    def queue_names(self) -> set[str]:
        return {queue.name for queue in load_acd_config(self.settings.acd.config_file).queues}


def acd_file(tmp_path: Path, queues: set[str]) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text("".join(f'[[queues]]\nname = "{name}"\n' for name in sorted(queues)), encoding="utf-8")
    return path


def state(acd: Path = ROOT / "config" / "acd.toml", flows_dir: Path = ROOT / "ivr_flows") -> State:
    ivr = IvrSettings(flows_dir=flows_dir, stations_file=ROOT / "config" / "stations.csv")
    return State(Settings(acd=AcdSettings(config_file=acd), ivr=ivr))


def run(*args: str, obj: State | None = None) -> Result:
    return CliRunner().invoke(flows, list(args), obj=obj or state(), prog_name="cti flows")


# --- check -------------------------------------------------------------------------------------


def test_given_the_shipped_flows_then_check_prints_one_ok_line_and_exits_0() -> None:
    result = run("check")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{ROOT / 'ivr_flows' / 'hotline.yaml'}: OK: flow hotline, 28 nodes, languages zh, en, "
        "queues complaints, general, roadside, sales, service, vip\n"
    )


@pytest.mark.parametrize(("text", "node_id", "marker", "message"), CASES)
def test_given_a_flow_error_then_check_names_file_line_and_node_and_exits_1(
    tmp_path: Path, text: str, node_id: str | None, marker: str, message: str
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("check", str(path), obj=state(acd=acd_file(tmp_path, QUEUES)))
    assert result.exit_code == 1
    where = f"{path}:{line_of(text, marker)}: " + (f"node {node_id}: " if node_id else "")
    assert any(line.startswith(where) and message in line for line in result.output.splitlines()), (
        result.output
    )
    assert result.output.splitlines()[-1].endswith("problem(s) in 1 of 1 flow file(s)")


def test_given_a_queue_missing_from_the_settings_acd_file_then_check_names_it(tmp_path: Path) -> None:
    result = run("check", obj=state(acd=acd_file(tmp_path, QUEUES - {"vip"})))
    assert result.exit_code == 1
    hotline = ROOT / "ivr_flows" / "hotline.yaml"
    line = line_of(hotline.read_text(encoding="utf-8"), "queue: vip")
    assert f"{hotline}:{line}: node vip_queue: unknown queue 'vip' (known: complaints," in result.output


def test_given_a_settings_file_then_its_acd_file_names_the_queues(tmp_path: Path) -> None:
    settings = tmp_path / "cti.toml"
    settings.write_text(f"[acd]\nconfig_file = '{acd_file(tmp_path, {'sales'})}'\n", encoding="utf-8")
    text = BASE.replace("queue: sales", "queue: service")
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(flows, ["check", str(tmp_path)], obj=CliState(settings, log_json=None))
    where = f"{tmp_path / 'demo.yaml'}:{line_of(text, 'queue: service')}"
    assert f"{where}: node sales: unknown queue 'service' (known: sales)" in result.output


def test_given_a_directory_then_every_file_is_checked_good_ones_ok_bad_ones_listed(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(BASE.replace("name: demo", "name: other").replace("2: bye", "2: x"))
    result = run("check", str(tmp_path), obj=state(acd=acd_file(tmp_path, QUEUES)))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    where = f"{tmp_path / 'bad.yaml'}:{line_of(BASE, '2: bye')}"
    assert lines[0].startswith(f"{where}: node menu: options.2 refers to unknown node 'x'")
    assert f"{tmp_path / 'good.yaml'}: OK: flow demo, 3 nodes, languages zh, en, queues sales" in lines
    assert lines[-1] == "Error: 2 problem(s) in 1 of 2 flow file(s)"


def test_given_no_flow_files_then_check_says_so(tmp_path: Path) -> None:
    result = run("check", obj=state(flows_dir=tmp_path))
    assert result.exit_code == 1
    assert f"Error: no flow files (*.yaml) in {tmp_path}" in result.output


def test_given_a_missing_acd_file_then_check_names_it(tmp_path: Path) -> None:
    result = run("check", obj=state(acd=tmp_path / "none.toml"))
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'none.toml'}: (file): no such file" in result.output


# --- simulate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("2,1", ["2", "1"]),
        ("21", ["2", "1"]),
        (" 3 , 010# ", ["3", "0", "1", "0", "#"]),
        ("t,T,timeout,1", [TIMEOUT, TIMEOUT, TIMEOUT, "1"]),
        ("9,h", ["9", HANGUP]),
        ("*,#", ["*", "#"]),
        ("", []),
    ],
)
def test_written_keys(text: str, keys: list[str]) -> None:
    assert parse_keys(text) == keys


@pytest.mark.parametrize("text", ["x", "1,2a", "A"])
def test_written_keys_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is neither DTMF keys"):
        parse_keys(text)


def said(node_id: str, language: str = "zh", field: str = "prompt") -> str:
    """How the simulation prints a node's prompt, from the shipped flow's own text."""
    prompt = dict(HOTLINE.nodes[node_id].prompts())[(field,)]
    return f"    ({language}) {prompt.text[language]}"


def test_given_2_1_in_open_hours_then_service_booking_and_every_prompt_printed() -> None:
    result = run("simulate", "hotline", "--digits", "2,1", "--at", OPEN)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "hotline: 13800138000 calls on Mon 2026-11-23 10:00 Asia/Shanghai (open hours)",
        "identify [lookup by caller_number]",
        "    lookup caller_number 13800138000",
        "    not found",
        "opening_hours [branch on business_hours]",
        "welcome [prompt]",
        said("welcome"),
        "main_menu [menu]",
        said("main_menu"),
        "    keys 2",
        "service_menu [menu]",
        said("service_menu"),
        "    keys 1",
        "service_booking [queue service, priority 0]",
        said("service_booking"),
        "path: identify → opening_hours → welcome → main_menu → service_menu → service_booking",
        "outcome: queue service, priority 0",
    ]


@pytest.mark.parametrize(("at", "hours"), [(AFTER_HOURS, "after hours"), (NATIONAL_DAY, "holiday")])
def test_given_after_hours_or_a_holiday_then_a_callback_request(at: str, hours: str) -> None:
    result = run("simulate", "hotline", "--digits", "2", "--at", at)
    assert result.exit_code == 0, result.output
    assert f"Asia/Shanghai ({hours})" in result.output
    assert "我们的人工服务时间为周一至周五8点30分至20点" in result.output
    assert result.output.endswith("outcome: callback request, queue service\n")


@pytest.mark.parametrize(
    ("at", "header", "outcome"),
    [
        (
            "2026-02-14T08:45",
            "hotline: 13800138000 calls on Sat 2026-02-14 08:45 Asia/Shanghai "
            "(open hours, a working day: weekday hours)",
            "outcome: queue sales, priority 0",
        ),
        (
            "2026-02-16T10:00",
            "hotline: 13800138000 calls on Mon 2026-02-16 10:00 Asia/Shanghai (holiday)",
            "outcome: callback request, queue sales",
        ),
    ],
    ids=["make-up-working-saturday", "spring-festival-monday"],
)
def test_given_the_cn_calendar_then_simulate_opens_on_make_up_days_and_closes_on_holidays(
    at: str, header: str, outcome: str
) -> None:
    lines = run("simulate", "hotline", "--digits", "1", "--at", at).output.splitlines()
    assert (lines[0], lines[-1]) == (header, outcome)


def test_given_an_offset_then_the_moment_is_taken_as_written() -> None:
    result = run("simulate", "hotline", "--digits", "1", "--at", "2026-11-23T14:30+00:00")  # 22:30 there
    assert "Mon 2026-11-23 22:30 Asia/Shanghai (after hours)" in result.output


@pytest.mark.parametrize("flag", [["--vip"], ["--segment", "vip"]])
def test_given_a_vip_caller_then_the_vip_queue_without_menu(flag: list[str]) -> None:
    result = run("simulate", "hotline", *flag, "--caller", "13900000001", "--at", OPEN)
    assert result.exit_code == 0, result.output
    assert "    found: segment=vip" in result.output
    assert "path: identify → vip_check → vip_hours → vip_queue\n" in result.output
    assert said("vip_queue") in result.output
    assert result.output.endswith("outcome: queue vip, priority 10\n")


def test_given_another_segment_then_the_menu() -> None:
    result = run("simulate", "hotline", "--segment", "regular", "--digits", "4", "--at", OPEN)
    assert (
        "path: identify → vip_check → opening_hours → welcome → main_menu → complaints_queue" in result.output
    )


def test_given_english_then_english_prompts() -> None:
    result = run("simulate", "hotline", "--language", "en", "--digits", "0", "--at", OPEN)
    assert said("welcome", "en") in result.output
    assert said("agent", "en") in result.output


def test_given_timeouts_and_an_area_code_then_each_is_shown_and_the_station_spoken() -> None:
    result = run("simulate", "hotline", "--digits", "t,3,021#", "--at", AFTER_HOURS)
    lines = result.output.splitlines()
    timeout = lines.index("    (no key before the timeout)")
    assert lines[timeout + 1] == said("closed_menu", field="timeout_prompt")
    assert "    keys 021#" in lines
    assert any("上海浦东道路救援服务站" in line for line in lines)
    assert lines[-1] == "outcome: queue roadside, priority 5"


def test_given_a_hangup_then_the_call_ends_there() -> None:
    result = run("simulate", "hotline", "--digits", "h", "--at", OPEN)
    assert result.output.endswith(
        "    (the caller hangs up)\npath: identify → opening_hours → welcome → main_menu\n"
        "outcome: hang up (caller)\n"
    )


def test_given_more_keys_than_the_call_takes_then_the_unused_ones_are_named() -> None:
    result = run("simulate", "hotline", "--digits", "1,2,t", "--at", OPEN)
    assert result.output.endswith(
        "outcome: queue sales, priority 0\nunused keys (the IVR had ended): 2,timeout\n"
    )


def test_given_an_anonymous_caller_then_no_lookup() -> None:
    result = run("simulate", "hotline", "--caller", "", "--digits", "1", "--at", OPEN)
    assert result.output.startswith("hotline: an anonymous caller calls on Mon 2026-11-23 10:00")
    assert "lookup caller_number" not in result.output


def test_given_a_flow_file_then_it_is_simulated(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(BASE, encoding="utf-8")
    result = run("simulate", str(path), "--digits", "2", obj=state(acd=acd_file(tmp_path, QUEUES)))
    assert result.exit_code == 0, result.output
    assert result.output.endswith("path: menu → bye\noutcome: hang up (hangup)\n")


def test_given_a_flow_name_that_differs_from_its_file_name_then_it_is_found(tmp_path: Path) -> None:
    (tmp_path / "renamed.yaml").write_text(BASE, encoding="utf-8")
    obj = state(acd=acd_file(tmp_path, QUEUES), flows_dir=tmp_path)
    assert run("simulate", "demo", "--digits", "1", obj=obj).output.endswith(
        "outcome: queue sales, priority 0\n"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nope"], "Error: no flow named 'nope' in"),
        (["hotline", "--digits", "2,x"], "Invalid value for --digits: 'x' is neither DTMF keys"),
        (["hotline", "--language", "fr"], "Invalid value for --language: flow hotline speaks zh, en"),
        (["hotline", "--at", "tonight"], "Invalid value for --at: 'tonight' is not an ISO 8601"),
        (["hotline", "--vip", "--caller", ""], "Invalid value for --segment: an anonymous caller"),
    ],
)
def test_given_a_bad_simulation_request_then_a_clear_error(args: list[str], error: str) -> None:
    result = run("simulate", *args)
    assert result.exit_code in (1, 2)
    assert error in result.output


def test_given_an_invalid_flow_then_simulate_refuses_it_with_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(BASE.replace("2: bye", "2: x"), encoding="utf-8")
    result = run("simulate", str(path), obj=state(acd=acd_file(tmp_path, QUEUES)))
    assert result.exit_code == 1
    assert (
        f"{path}:{line_of(BASE, '2: bye')}: node menu: options.2 refers to unknown node 'x'" in result.output
    )


# --- graph (the picture itself: tests/integration/test_flows_graph.py) --------------------------


def test_given_format_dot_then_the_graphviz_source_is_written(tmp_path: Path) -> None:
    output = tmp_path / "hotline.dot"
    result = run("graph", "hotline", "--format", "dot", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {output}\n"
    assert output.read_text(encoding="utf-8").startswith('digraph "hotline" {')


def test_given_no_dot_command_then_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        flows, ["graph", "hotline", "-o", str(tmp_path / "x.svg")], obj=state(), env={"PATH": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "dot command is not installed: apt-get install graphviz" in result.output
    assert not (tmp_path / "x.svg").exists()
