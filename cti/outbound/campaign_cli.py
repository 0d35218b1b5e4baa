"""``cti campaign``: create, list, show, import a call list into, start, pause and stop the
outbound campaigns of the store in [database] url. A thin shell over ``campaign_store`` and
``list_import``; the center's limits are [outbound]'s, the queues the ACD's ([acd] config_file),
the right-party codes [acd] dispositions_file's. ``cti.cli`` registers the group; its helpers are
imported when a command runs, because ``cti.cli`` imports this module.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from cti.desk.dispositions import load_dispositions
from cti.errors import CtiError
from cti.outbound.call_lists import Report, parse_mapping, read_list
from cti.outbound.campaign_checks import new_campaign
from cti.outbound.campaign_store import CampaignStore
from cti.outbound.campaigns import RETRY_RESULTS, CampaignKind, CampaignStatus, CenterLimits, DialMode
from cti.outbound.list_import import ListImport, import_list
from cti.outbound.numbers import NumberPolicy
from cti.store import make_engine

if TYPE_CHECKING:
    from cti.cli import CliState

T = TypeVar("T")


def _by() -> str:
    """Who runs the command, as the log names them."""
    return f"cli:{getpass.getuser()}"


def _with_store(state: CliState, work: Callable[[CampaignStore], Awaitable[T]]) -> T:
    """Run ``work`` on the campaigns of [database] url (its schema checked first)."""
    from cti.cli import _run, _store_url

    url = _store_url(state)
    settings = state.settings

    async def run() -> T:
        engine = make_engine(url)
        try:
            codes = load_dispositions(settings.acd.dispositions_file).right_party_codes
            tz = ZoneInfo(settings.kpi.timezone)
            return await work(CampaignStore(engine, right_party_codes=codes, tz=tz))
        finally:
            await engine.dispose()

    return _run(run())


def _retry(text: str) -> tuple[str, dict[str, int] | None]:
    """``busy=600:3`` (retry after 600 s, at most 3 times) or ``machine=off``."""
    result, _, rule = text.partition("=")
    if rule == "off":
        return result, None
    after, _, most = rule.partition(":")
    if not (after.isdigit() and most.isdigit()):
        raise click.BadParameter(f"{text!r}: write RESULT=SECONDS:MAX (busy=600:3) or RESULT=off")
    return result, {"after_s": int(after), "max_attempts": int(most)}


def _settings(options: dict[str, Any]) -> dict[str, Any]:
    """The settings the options give (the others keep their defaults)."""
    settings: dict[str, Any] = {}
    for key in ("calling_hours", "max_attempts", "abandon_cap", "skip_called_within_days"):
        if options[key] is not None:
            settings[key] = options[key]
    if options["retry"]:
        settings["retries"] = dict(_retry(text) for text in options["retry"])
    schedule = {key: options[key] for key in ("start_on", "end_on") if options[key] is not None}
    if options["weekdays"]:
        days = [day.strip() for day in options["weekdays"].split(",")]
        schedule["weekdays"] = [
            int(day) if day.isdigit() else day for day in days
        ]  # the check names a bad one
    if schedule:
        settings["schedule"] = schedule
    return settings


@click.group()
def campaign() -> None:
    """Outbound campaigns: call lists, schedules, retries, progress."""


@campaign.command("create")
@click.argument("name")
@click.option("--title", required=True, help="What the campaign is, for people.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in CampaignKind]))
@click.option("--queue", required=True, help="The ACD queue whose agents take its calls.")
@click.option(
    "--dial-mode", default="progressive", show_default=True, type=click.Choice([m.value for m in DialMode])
)
@click.option("--calling-hours", help="09:00-20:00: inside [outbound] calling_hours (default: the center's).")
@click.option("--max-attempts", type=int, help="Attempts per line, whatever their results (default 5).")
@click.option("--abandon-cap", type=float, help="At most [outbound] abandon_cap (default: the center's).")
@click.option(
    "--skip-called-within-days", type=int, help="Leave out numbers called this recently (default 3)."
)
@click.option("--start-on", help="First day it dials (2026-12-01).")
@click.option("--end-on", help="Last day it dials (2026-12-31).")
@click.option("--weekdays", help="ISO weekdays it dials: 1,2,3,4,5 (Monday to Friday; default every day).")
@click.option(
    "--retry", multiple=True, help=f"RESULT=SECONDS:MAX or RESULT=off; results: {', '.join(RETRY_RESULTS)}."
)
@click.pass_obj
def create(
    state: CliState, /, name: str, title: str, kind: str, queue: str, dial_mode: str, **options: Any
) -> None:
    """Create campaign NAME (a draft: import its list, then start it)."""
    fields = {"name": name, "title": title, "kind": kind, "queue": queue, "dial_mode": dial_mode}
    limits = CenterLimits.of(state.settings.outbound)
    try:
        made = new_campaign({**fields, "settings": _settings(options)}, limits, state.queue_names())
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc
    _with_store(state, lambda store: store.create(made, _by()))
    click.echo(f"created campaign {name} ({kind}, queue {queue}, {dial_mode}): a draft")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@click.pass_obj
def list_campaigns(state: CliState, as_json: bool) -> None:
    """Every campaign with its progress, newest first."""

    async def read(store: CampaignStore) -> list[dict[str, Any]]:
        return [
            {**c.to_json(), "progress": (await store.progress(c.name)).to_json()} for c in await store.all()
        ]

    everything = _with_store(state, read)
    if as_json:
        click.echo(json.dumps(everything, ensure_ascii=False, indent=2))
        return
    table = Table("name", "title", "kind", "status", "dial mode", "queue", "lines", "contacted", "abandon")
    for c in everything:
        p = c["progress"]
        rate = "-" if p["abandon_rate"] is None else f"{p['abandon_rate']:.1%}"
        table.add_row(
            c["name"], c["title"], c["kind"], c["status"], c["dial_mode"], c["queue"], str(p["lines"]),
            str(p["contacted"]), rate,
        )  # fmt: skip
    Console().print(table)


@campaign.command("show")
@click.argument("name")
@click.pass_obj
def show(state: CliState, name: str) -> None:
    """Campaign NAME: its settings and progress, as JSON."""

    async def read(store: CampaignStore) -> dict[str, Any]:
        return {**(await store.require(name)).to_json(), "progress": (await store.progress(name)).to_json()}

    click.echo(json.dumps(_with_store(state, read), ensure_ascii=False, indent=2))


def _print_report(report: Report) -> None:
    table = Table("line", "phone", "name", "verdict", "reason", title=f"{report.list_name}: rejected lines")
    for line in report.lines:
        if not line.ok:
            table.add_row(str(line.line_no), line.phone, line.name or "", line.verdict, line.reason)
    if report.rejected:
        Console().print(table)
    counts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(report.counts.items()))
    click.echo(f"{len(report.lines)} lines: {counts or 'none'}")
    if report.dry_run:
        click.echo(f"dry run: nothing stored ({report.accepted} lines would be)")
    elif report.strict_refused:
        click.echo(f"--strict: {report.rejected} line(s) rejected, nothing stored", err=True)
    else:
        click.echo(f"stored {report.stored} lines in campaign {report.campaign}")


@campaign.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "name", required=True, help="The campaign the list is for.")
@click.option(
    "--map", "mapping", multiple=True, help="FIELD=COLUMN, e.g. phone=手机号 (fields: phone, name, ...)."
)
@click.option("--dry-run", is_flag=True, help="Report only: store nothing.")
@click.option("--strict", is_flag=True, help="Store nothing if any line is rejected (exit 1).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as CSV.",
)
@click.pass_obj
def import_command(
    state: CliState,
    path: Path,
    name: str,
    mapping: tuple[str, ...],
    dry_run: bool,
    strict: bool,
    report_path: Path | None,
) -> None:
    """Import the call list PATH (CSV in UTF-8 or GBK, or XLSX) into the campaign, all or nothing.
    Every line is reported (bad number, duplicate, already in the campaign, called recently,
    on the do-not-call list, outside the calling region); the good ones are stored. Importing
    the same file again adds nothing."""
    settings = state.settings.outbound
    try:
        policy = NumberPolicy.of(settings.region, settings.allowed_regions, settings.allowed_types)
        calls = read_list(path.name, path.read_bytes(), parse_mapping(mapping))
    except (CtiError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    how = ListImport(policy, ZoneInfo(state.settings.kpi.timezone), _by(), dry_run=dry_run, strict=strict)
    report = _with_store(state, lambda store: import_list(store.engine, name, calls, how, datetime.now(UTC)))
    if report_path is not None:
        report_path.write_text(report.to_csv(), encoding="utf-8")
    _print_report(report)
    if report.strict_refused:
        sys.exit(1)


def _status_command(verb: str, status: CampaignStatus, says: str) -> None:
    @campaign.command(verb, help=f"{verb.capitalize()} campaign NAME: {says}.")
    @click.argument("name")
    @click.pass_obj
    def command(state: CliState, name: str) -> None:
        _with_store(state, lambda store: store.set_status(name, status, _by()))
        click.echo(f"campaign {name} is {status}")


_status_command("start", CampaignStatus.RUNNING, "the dialer works on its lines (again)")
_status_command("pause", CampaignStatus.PAUSED, "no new dials until it is started again")
_status_command("stop", CampaignStatus.STOPPED, "for good; its waiting lines are stopped")
