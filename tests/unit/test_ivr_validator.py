"""`cti flows check`'s rules: each class of error names the right file, line and node id."""

from pathlib import Path

import pytest

from cti.ivr import FlowError, Problem, load_flow, load_flows, parse_flow, validate_flows

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {"sales", "service", "roadside", "complaints", "vip", "general"}

BASE = """\
name: demo
entry: menu
languages: [zh, en]
nodes:
  menu:
    type: menu
    prompt: {zh: 请选择, en: Please choose}
    options:
      1: sales
      2: bye
    default: sales
  sales:
    type: queue
    queue: sales
  bye:
    type: hangup
"""


def edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


def add_nodes(text: str) -> str:
    return BASE + text


def with_collect(settings: str) -> str:
    """The base flow whose key 1 collects digits with ``settings`` (YAML lines under the node)."""
    node = "  ask:\n    type: collect\n    prompt: {zh: 请输入, en: Enter}\n    into: code\n    next: sales\n"
    return edit("1: sales", "1: ask") + node + settings


def line_of(text: str, marker: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if marker in line)


def check(tmp_path: Path, text: str, name: str = "demo.yaml") -> list[Problem]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return validate_flows([path], QUEUES)


def test_the_base_flow_of_these_tests_is_valid(tmp_path: Path) -> None:
    assert check(tmp_path, BASE) == []


def test_the_shipped_flows_are_valid() -> None:
    assert validate_flows(sorted((ROOT / "ivr_flows").glob("*.yaml")), QUEUES) == []


CASES = [
    pytest.param(
        edit("      2: bye\n", "      2: [bye\n"),
        None,
        "    default: sales",
        "YAML syntax error",
        id="yaml-syntax",
    ),
    pytest.param(
        edit("type: hangup", "type: dance"),
        "bye",
        "  bye:",
        "does not match any of the expected tags",
        id="unknown-kind",
    ),
    pytest.param(
        edit("    queue: sales\n", ""), "sales", "  sales:", "queue: Field required", id="missing-field"
    ),
    pytest.param(
        edit("2: bye", "2: nowhere"), "menu", "2: nowhere", "unknown node 'nowhere'", id="unknown-reference"
    ),
    pytest.param(
        add_nodes("  orphan:\n    type: hangup\n"), "orphan", "  orphan:", "unreachable", id="unreachable"
    ),
    pytest.param(
        edit("    options:\n      1: sales\n      2: bye\n", "    options: {}\n"),
        "menu",
        "    options: {}",
        "menu has no way out: it has no options",
        id="menu-without-options",
    ),
    pytest.param(
        edit("      1: sales\n      2: bye\n    default: sales\n", "      1: menu\n    default: menu\n"),
        "menu",
        "    options:",
        "every key leads back to it",
        id="menu-looping-on-itself",
    ),
    pytest.param(
        edit("      2: bye\n", "      2: bye\n      3: loop_a\n")
        + "  loop_a:\n    type: prompt\n    prompt: {zh: 一, en: one}\n    next: loop_b\n"
        + "  loop_b:\n    type: prompt\n    prompt: {zh: 二, en: two}\n    next: loop_a\n",
        "loop_a",
        "  loop_a:",
        "cycle with no exit: loop_a, loop_b",
        id="cycle-without-exit",
    ),
    pytest.param(
        edit("      2: bye\n", "      2: bye\n      3: ask\n")
        + "  ask:\n    type: menu\n    prompt: {zh: 再选, en: again}\n    options: {1: info}\n"
        + "  info:\n    type: prompt\n    prompt: {zh: 信息, en: info}\n    next: ask\n",
        "ask",
        "  ask:",
        "cycle with no exit: ask, info",
        id="cycle-left-only-by-hanging-up",
    ),
    pytest.param(
        edit("default: sales", "default: again")
        + "  again:\n    type: prompt\n    prompt: {zh: 再说一遍, en: once more}\n    next: menu\n",
        "menu",
        "  menu:",
        "a caller who keys nothing may go round for ever: again, menu",
        id="silent-loop",
    ),
    pytest.param(
        edit("entry: menu", "entry: who") + "  who:\n    type: lookup\n    found: menu\n    not_found: who\n",
        "who",
        "  who:",
        "a caller who keys nothing may go round for ever: who",
        id="lookup-retried-for-ever",
    ),
    pytest.param(
        edit("      2: bye\n", "      2: bye\n      3: spin\n")
        + "  spin:\n    type: branch\n    on: language\n    cases: {en: sales}\n    default: spin_more\n"
        + "  spin_more:\n    type: set_language\n    language: zh\n    next: spin\n",
        "spin",
        "  spin:",
        "would spin",
        id="cycle-without-input",
    ),
    pytest.param(
        edit("{zh: 请选择, en: Please choose}", "{zh: 请选择}"),
        "menu",
        "    prompt:",
        "missing prompt: prompt has no 'en' text",
        id="missing-prompt",
    ),
    pytest.param(edit("2: bye", "A: bye"), "menu", "A: bye", "invalid menu key 'A'", id="invalid-key"),
    pytest.param(edit("2: bye", "12: bye"), "menu", "12: bye", "invalid menu key '12'", id="two-digit-key"),
    pytest.param(
        edit("2: bye", '"1": bye'),
        "menu",
        '"1": bye',
        "menu key '1' appears twice (first on line 9)",
        id="duplicate-key",
    ),
    pytest.param(
        edit("queue: sales", "queue: salse"),
        "sales",
        "queue: salse",
        "unknown queue 'salse'",
        id="unknown-queue",
    ),
    pytest.param(
        edit("[zh, en]", "[zh, en, fr]"),
        None,
        "languages:",
        "unknown language 'fr'",
        id="unknown-flow-language",
    ),
    pytest.param(
        edit("en: Please choose", "en: Please choose, de: Bitte"),
        "menu",
        "    prompt:",
        "unknown language 'de' in prompt",
        id="unknown-prompt-language",
    ),
    pytest.param(
        edit("1: sales", "1: lang") + "  lang:\n    type: set_language\n    language: ja\n    next: sales\n",
        "lang",
        "language: ja",
        "unknown language 'ja'",
        id="unknown-set-language",
    ),
    pytest.param(
        add_nodes("  bye:  # again\n    type: hangup\n"),
        "bye",
        "# again",
        "node id 'bye' is defined twice",
        id="duplicate-node",
    ),
    pytest.param(
        edit("entry: menu", "entry: start"),
        None,
        "entry: start",
        "entry node 'start' does not exist",
        id="unknown-entry",
    ),
    pytest.param(
        edit("entry: menu", "entry: menu\nfallback: menu"),
        None,
        "fallback: menu",
        "fallback must be",
        id="bad-fallback",
    ),
    pytest.param(
        edit("1: sales", "1: station")
        + "  station:\n    type: say_station\n    found: {zh: '{name}', en: '{town}'}\n"
        + "    not_found: {zh: 无, en: none}\n    next: sales\n",
        "station",
        "    found:",
        "unknown field {town}",
        id="station-template",
    ),
    pytest.param(
        edit("1: sales", "1: hours")
        + "  hours:\n    type: branch\n    on: business_hours\n"
        + "    cases: {opened: sales}\n    default: sales\n",
        "hours",
        "cases:",
        "case 'opened' can never match business_hours",
        id="impossible-case",
    ),
    pytest.param(
        edit("1: sales", "1: which")
        + "  which:\n    type: branch\n    on: segment\n    cases: {vip: sales}\n    default: sales\n",
        "which",
        "on: segment",
        "variable 'customer.segment' is never stored by a collect or lookup node",
        id="unknown-variable",
    ),
    pytest.param(
        edit("languages: [zh, en]", "languages: [zh, en]\nholidays: [2026-02-30]"),
        None,
        "holidays:",
        "YAML cannot read a value: '2026-02-30' is not a valid date (day is out of range for month)",
        id="impossible-date",
    ),
    pytest.param(
        edit("    default: sales\n", "    default: sales\n    retries: !!int two\n"),
        None,
        "retries:",
        "'two' is not a valid int",
        id="tag-that-does-not-fit",
    ),
    pytest.param(
        edit("    queue: sales\n", "    queue: &q [*q]\n"),
        None,
        "queue: &q",
        "YAML aliases: an alias inside this value refers to the value itself",
        id="recursive-alias",
    ),
    pytest.param(
        "laughs: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"l{n}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(5))
        + BASE,
        None,
        "l3:",  # 1 + 10 x 11,111 values: the first past the limit
        "YAML aliases: aliases expand this value past 100000 values",
        id="billion-laughs",
    ),
    pytest.param(
        edit("type: hangup", "type: hang\x07up"),
        None,
        "type: hang",
        "YAML syntax error: unacceptable character #x0007",
        id="control-character",
    ),
    pytest.param(
        edit("default: sales", "default: " + "[" * 2000),
        None,
        "default: [[",
        "YAML nested too deeply",
        id="nested-too-deeply",
    ),
    pytest.param(
        edit("languages: [zh, en]", "languages: [zh, en]\nholidays: [2026-02-14]\nworkdays: [2026-02-14]"),
        None,
        "workdays:",
        "2026-02-14 is both a holiday and a workday of this flow",
        id="date-both-closed-and-open",
    ),
    pytest.param(
        edit("languages: [zh, en]", "languages: [zh, en]\ncalendar: US"),
        None,
        "calendar: US",
        "calendar: Input should be 'CN'",
        id="unknown-calendar",
    ),
    pytest.param(
        with_collect("    validate: area_code\n    digits: {min: 1, max: 2}\n"),
        "ask",
        "    digits:",
        "digits 1-2 can never hold a valid area_code (3-4 digits): every caller would be refused",
        id="collect-too-short-for-its-validation",
    ),
    pytest.param(
        with_collect("    validate: vin_last6\n    digits: {min: 7, max: 9}\n"),
        "ask",
        "    digits:",
        "digits 7-9 can never hold a valid vin_last6 (6 digits)",
        id="collect-too-long-for-its-validation",
    ),
    pytest.param(
        with_collect("    digits: {min: 4, max: 3}\n"),
        "ask",
        "    digits:",
        "min 4 is above max 3",
        id="collect-min-above-max",
    ),
    pytest.param(
        with_collect("    terminator: '5'\n"),
        "ask",
        "    terminator:",
        "terminator '5' is a digit the caller may key",
        id="collect-terminator-a-digit",
    ),
    pytest.param(
        edit("entry: menu", "entry: menu\nbusiness_hours: {mon: ['8-20']}"),
        None,
        "business_hours:",
        "business_hours.mon.0",
        id="bad-hours",
    ),
]


@pytest.mark.parametrize(("text", "node_id", "marker", "message"), CASES)
def test_given_a_flow_error_then_the_problem_names_file_line_and_node(
    tmp_path: Path, text: str, node_id: str | None, marker: str, message: str
) -> None:
    problems = check(tmp_path, text)
    matching = [p for p in problems if message in p.message]
    assert matching, problems
    assert matching[0].file == str(tmp_path / "demo.yaml")
    assert matching[0].line == line_of(text, marker)
    assert matching[0].node_id == node_id


@pytest.mark.parametrize(
    "settings", ["    validate: phone\n    digits: {min: 11, max: 20}\n", "    digits: {min: 1, max: 32}\n"]
)
def test_given_a_collect_range_that_holds_some_valid_entries_then_it_is_accepted(
    tmp_path: Path, settings: str
) -> None:
    assert check(tmp_path, with_collect(settings)) == []


def test_given_bytes_that_are_not_utf8_then_a_problem_on_their_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(BASE.encode("utf-8").replace(b"type: hangup", b"type: hang\xffup"))
    (problem,) = validate_flows([path], QUEUES)
    assert str(problem) == f"{path}:{line_of(BASE, 'type: hangup')}: not UTF-8 text: byte 0xff in column 15"


def test_given_several_errors_then_every_one_is_reported_in_line_order(tmp_path: Path) -> None:
    text = (
        edit("2: bye", "2: nowhere").replace("queue: sales", "queue: salse") + "  orphan:\n    type: hangup\n"
    )
    problems = check(tmp_path, text)
    assert [p.node_id for p in problems] == ["menu", "sales", "bye", "orphan"]  # bye is now unreachable too
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_given_two_files_with_one_flow_name_then_the_second_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE, encoding="utf-8")
    problems = validate_flows([tmp_path / "a.yaml", tmp_path / "b.yaml"], QUEUES)
    assert problems == [
        Problem(
            str(tmp_path / "b.yaml"), 1, None, f"flow name 'demo' is already used by {tmp_path / 'a.yaml'}"
        )
    ]


def test_given_an_unreadable_file_then_a_problem_without_line(tmp_path: Path) -> None:
    (problem,) = validate_flows([tmp_path / "missing.yaml"], QUEUES)
    assert (problem.line, problem.node_id) == (0, None)
    assert "cannot read the flow" in problem.message


def test_given_a_file_that_is_not_a_mapping_then_one_problem() -> None:
    assert [p.message for p in parse_flow("- a\n- b\n", "x.yaml").problems] == [
        "a flow file must hold a mapping (name, entry, nodes)"
    ]


def test_given_yaml_on_and_no_keys_then_they_stay_text_not_booleans() -> None:
    text = edit("1: sales", "1: hours").replace("2: bye", "no: bye")
    text += (
        "  hours:\n    type: branch\n    on: business_hours\n    cases: {open: sales}\n    default: sales\n"
    )
    problems = parse_flow(text, "x.yaml", QUEUES).problems
    assert [p.message for p in problems] == ["invalid menu key 'no': use one of 0-9, * or #"]


def test_given_no_known_queues_then_queue_names_are_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(edit("queue: sales", "queue: anything"), encoding="utf-8")
    assert validate_flows([path], None) == []


def test_given_an_invalid_flow_when_loading_then_flow_error_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(edit("2: bye", "2: nowhere").replace("queue: sales", "queue: salse"), encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path, QUEUES)
    assert len(caught.value.problems) == 3
    assert f"{path}:10: node menu: options.2 refers to unknown node 'nowhere'" in str(caught.value)


def test_given_a_valid_flow_when_loading_then_the_typed_flow() -> None:
    flow = load_flow(ROOT / "ivr_flows" / "hotline.yaml", QUEUES)
    assert flow.name == "hotline"
    assert flow.default_language == "zh"
    assert flow.nodes[flow.entry].type == "lookup"


def test_given_the_shipped_directory_when_the_service_loads_it_then_every_flow_by_name() -> None:
    flows = load_flows(ROOT / "ivr_flows", QUEUES)
    assert sorted(flows) == ["hotline"]


def test_given_invalid_flows_when_the_service_loads_them_then_one_error_lists_every_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text(edit("2: bye", "2: nowhere"), encoding="utf-8")
    second = edit("queue: sales", "queue: salse")
    (tmp_path / "b.yaml").write_text(second, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path, QUEUES)
    assert [(Path(p.file).name, p.node_id) for p in caught.value.problems] == [
        ("a.yaml", "menu"),
        ("a.yaml", "bye"),  # only reached through the broken key
        ("b.yaml", None),  # the same flow name as a.yaml
        ("b.yaml", "sales"),
    ]
    where = f"{tmp_path / 'b.yaml'}:{line_of(second, 'queue: salse')}"
    assert f"{where}: node sales: unknown queue 'salse'" in str(caught.value)


def test_given_a_directory_without_flows_when_the_service_loads_it_then_flow_error(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r"no IVR flows: no \*\.yaml file in"):
        load_flows(tmp_path, QUEUES)
