"""The `cti` commands that need no running service: help, settings, reports, imports, migrations."""

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import cli
from cti.kpi.definitions import DEFINITIONS_VERSION
from cti.store import schema

COMMANDS = [
    [],
    ["run"],
    ["call"],
    ["doctor"],
    ["config", "show"],
    ["db", "upgrade"],
    ["kpi", "report"],
    ["kpi", "import-queue-log"],
    ["flows", "check"],
    ["flows", "simulate"],
    ["flows", "graph"],
    ["tts", "build"],
    ["users", "add"],
    ["users", "list"],
    ["users", "disable"],
    ["users", "enable"],
    ["users", "set-password"],
    ["users", "demo"],
    ["crm", "import"],
    *(["campaign", verb] for verb in ("create", "list", "show", "import", "start", "pause", "stop")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "cti")
def test_every_command_has_help_even_with_a_broken_config(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], prog_name="cti", env={"CTI_LOG_LEVEL": "LOUD"})
    assert result.exit_code == 0, result.output
    assert "Usage: cti" in result.output


def test_a_bad_setting_is_refused_with_key_and_source() -> None:
    result = CliRunner().invoke(cli, ["config", "show"], env={"CTI_ARI_URL": "ftp://pbx"})
    assert result.exit_code == 1
    assert "Error: CTI_ARI_URL: ari.url:" in result.output


def test_config_show_masks_every_secret() -> None:
    env = {
        "CTI_ARI_PASSWORD": "ari-secret",
        "CTI_DATABASE_URL": "postgresql+psycopg://cti:db-secret@127.0.0.1/cti",
    }
    result = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert result.exit_code == 0
    assert "secret" not in result.output
    assert json.loads(result.stdout)["database"]["url"] == "postgresql+psycopg://cti:***@127.0.0.1/cti"


def test_given_an_invalid_flow_then_run_prints_file_line_and_exits_1_before_any_service(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.yaml").write_bytes(b"name: broken\nentry: start\nholidays: [2026-02-30]\n")
    env = {
        "CTI_IVR_FLOWS_DIR": str(tmp_path),
        "CTI_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there: the start stops first
        "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never' / 'cti.sqlite3'}",
    }
    result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code == 1
    assert f"{tmp_path / 'broken.yaml'}:3: YAML cannot read a value: '2026-02-30' is not a valid date" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert not (tmp_path / "never").exists()


def test_given_a_year_the_calendar_does_not_know_then_doctor_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FarFuture(date):
        @classmethod
        def today(cls) -> "FarFuture":
            return cls(2999, 1, 1)

    monkeypatch.setattr("cti.cli.date", FarFuture)
    env = {
        "CTI_ARI_URL": "http://127.0.0.1:1/ari",  # services away: the warning comes all the same
        "CTI_REDIS_URL": "redis://127.0.0.1:1/0",
        "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}",
    }
    result = CliRunner().invoke(cli, ["doctor"], env=env)
    assert "warning calendar CN does not know 2999 (chinese-calendar " in " ".join(result.output.split())


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    return {"CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new' / 'cti.sqlite3'}"}


def test_import_and_report_on_a_fresh_sqlite_file(tmp_path: Path, store_env: dict[str, str]) -> None:
    log = tmp_path / "queue_log"
    log.write_text(
        "1795440879|c1|sales|NONE|ENTERQUEUE||13800138000|1\n"
        "1795440883|c1|sales|Agent 1102|CONNECT|4|x|2\n"
        "not a line\n"
        "1795440884|c2|sales|NONE|ENTERQUEUE||13900000000|2\n"
        "1795440904|c2|sales|NONE|ABANDON|2|2|20\n"
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["kpi", "import-queue-log", str(log)], env=store_env)
    assert first.exit_code == 0, first.output
    assert "5 lines read, 7 events derived, 7 new events stored" in first.output
    assert "line 3: expected at least 5 '|'-separated fields, found 1: not a line" in first.output
    again = runner.invoke(cli, ["kpi", "import-queue-log", str(log)], env=store_env)
    assert "0 new events stored" in again.output

    report = runner.invoke(cli, ["kpi", "report", "--format", "json", "--by", "day"], env=store_env)
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert (data["overall"]["offered"], data["overall"]["three_ring_rate"]) == (2, 0.5)
    assert data["groups"][0]["key"] == "2026-11-23"  # in Asia/Shanghai

    for fmt, marker in (("csv", "key,definitions_version,offered"), ("table", "3 rings"), ("html", "<svg")):
        out = runner.invoke(cli, ["kpi", "report", "--format", fmt], env=store_env)
        assert out.exit_code == 0, out.output
        assert marker in out.output
    table = runner.invoke(cli, ["kpi", "report"], env=store_env)
    assert f"definitions {DEFINITIONS_VERSION} (docs/kpi.md)" in table.output  # what the figures mean


def test_report_refuses_a_bad_period(store_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["kpi", "report", "--from", "2026-12-01", "--to", "2026-11-01"], env=store_env
    )
    assert result.exit_code == 2
    assert "the period is empty" in result.output


def test_db_upgrade_names_the_revision(store_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=store_env)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"is at revision {schema.head_revision()}")
