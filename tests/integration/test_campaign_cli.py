"""``cti campaign`` on SQLite and PostgreSQL: create, list, show, import a GBK call list with a
mapping and a CSV report, dry runs and strict imports, start, pause, stop, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cti.cli import cli

PROJECT = Path(__file__).resolve().parents[2]
LIST = "客户,联系方式,车型\n李娜,13800000001,A6L\n张伟,110,Q5\n王芳,13800000002,A4L\n"


def cti(url: str, *args: str) -> tuple[int, str]:
    env = {
        "CTI_DATABASE_URL": url,
        "CTI_ACD_CONFIG_FILE": str(PROJECT / "config" / "acd.demo.toml"),
        "COLUMNS": "200",  # a wide terminal: rich cuts table cells to fit
    }
    config = ["--config", str(PROJECT / "config" / "cti.toml")]
    result = CliRunner().invoke(cli, [*config, "campaign", *args], env=env)
    # stdout on success (the log lines, saying who did what, are on stderr); both on failure
    return result.exit_code, result.output if result.exit_code else result.stdout


def created(url: str, name: str = "survey-12", *extra: str) -> None:
    args = ["create", name, "--title", "满意度回访", "--kind", "survey", "--queue", "service", *extra]
    code, out = cti(url, *args)
    assert (code, out) == (0, f"created campaign {name} (survey, queue service, progressive): a draft\n")


def test_a_campaign_from_creation_to_stop(migrated_database: str, tmp_path: Path) -> None:
    url = migrated_database
    created(
        url, "survey-12", "--calling-hours", "09:00-20:00", "--retry", "busy=300:2", "--retry", "machine=off"
    )
    listed: list[dict[str, Any]] = json.loads(cti(url, "list", "--json")[1])
    assert [(c["name"], c["status"], c["progress"]["lines"]) for c in listed] == [("survey-12", "draft", 0)]
    settings = listed[0]["settings"]
    assert settings["calling_hours"] == "09:00-20:00"
    assert settings["retries"]["busy"] == {"after_s": 300, "max_attempts": 2}
    assert settings["retries"]["machine"] is None

    path = tmp_path / "回访名单.csv"
    path.write_bytes(LIST.encode("gbk"))
    report = tmp_path / "report.csv"
    args = ["import", str(path), "--campaign", "survey-12", "--map", "phone=联系方式"]
    code, out = cti(url, *args, "--dry-run")
    assert code == 0, out
    assert "dry run: nothing stored (2 lines would be)" in out
    code, out = cti(url, *args, "--strict")
    assert code == 1
    assert "--strict: 1 line(s) rejected, nothing stored" in out
    code, out = cti(url, *args, "--report", str(report))
    assert code == 0, out
    assert "emergency" in out
    assert "3 lines: emergency 1, ok 2" in out
    assert "stored 2 lines in campaign survey-12" in out
    assert (
        report.read_text(encoding="utf-8-sig").splitlines()[2] == "3,110,张伟,emergency,an emergency number"
    )
    code, out = cti(url, *args)
    assert "stored 0 lines" in out
    assert "in_campaign 2" in out

    for verb, status in [
        ("start", "running"),
        ("pause", "paused"),
        ("start", "running"),
        ("stop", "stopped"),
    ]:
        assert cti(url, verb, "survey-12") == (0, f"campaign survey-12 is {status}\n")
    shown = json.loads(cti(url, "show", "survey-12")[1])
    assert shown["status"] == "stopped"
    assert shown["progress"]["by_status"] == {"stopped": 2}
    assert shown["progress"]["right_party"] == 0
    code, out = cti(url, "start", "survey-12")
    assert code == 1
    assert "stopped, which is final" in out
    code, out = cti(url, "list")
    assert "survey-12" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "x", "--title", "t", "--kind", "cold", "--queue", "sales"], "'cold' is not one of"),
        (
            ["create", "x", "--title", "t", "--kind", "survey", "--queue", "nope"],
            "queue: 'nope' is not a queue",
        ),
        (
            [
                "create",
                "x",
                "--title",
                "t",
                "--kind",
                "survey",
                "--queue",
                "sales",
                "--calling-hours",
                "07:00-22:00",
            ],
            "settings.calling_hours: 07:00-22:00 is wider than the center's 08:00-21:00",
        ),
        (
            ["create", "x", "--title", "t", "--kind", "survey", "--queue", "sales", "--weekdays", "1,mon"],
            "settings.schedule.weekdays",
        ),
        (
            ["create", "x", "--title", "t", "--kind", "survey", "--queue", "sales", "--retry", "busy=soon"],
            "busy=600:3",
        ),
        (["show", "nope"], "no campaign 'nope'"),
        (["pause", "nope"], "no campaign 'nope'"),
    ],
)
def test_bad_input_is_refused_saying_what(migrated_database: str, args: list[str], says: str) -> None:
    code, out = cti(migrated_database, *args)
    assert code != 0
    assert says in out


def test_a_list_that_cannot_be_read_is_refused_whole(migrated_database: str, tmp_path: Path) -> None:
    created(migrated_database)
    path = tmp_path / "list.csv"
    path.write_text("客户,联系方式\n李娜,13800000001\n", encoding="utf-8")
    code, out = cti(migrated_database, "import", str(path), "--campaign", "survey-12", "--map", "phone=手机")
    assert code == 1
    assert "list.csv has no column '手机' (its columns: 客户, 联系方式)" in out
    code, out = cti(migrated_database, "import", str(path), "--campaign", "survey-12", "--map", "phone")
    assert "write it field=column" in out
