"""The ``cti`` command line: run the service, place test calls, check the stack."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
import uvloop
from rich.console import Console
from rich.table import Table

from cti.acd import load_acd_config
from cti.app import ari_client, run_service
from cti.cli_users import users
from cti.crm.cli import crm
from cti.desk.agent_cli import agent
from cti.errors import CtiError
from cti.ivr.calendars import public_calendars, uncovered
from cti.ivr.commands import flows
from cti.kpi.html import to_html
from cti.kpi.i18n import LANGUAGES
from cti.kpi.publish import EVERY
from cti.kpi.queue_log import summary as queue_log_summary
from cti.kpi.render import to_csv, to_json, to_table
from cti.kpi.report import GROUP_BY, make_period
from cti.kpi.service import import_queue_log, kpi_report, publish_reports
from cti.live import connect_redis, read_dead_letters, redis_durability, redis_version
from cti.logs import configure_logging, redact_url
from cti.outbound.campaign_cli import campaign
from cti.outbound.dnc_cli import dnc
from cti.settings import Settings, load_settings
from cti.sim import place_simulated_call
from cti.store import database_version, schema
from cti.tts.cli import tts

T = TypeVar("T")


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: $CTI_CONFIG, else ./config/cti.toml if present).",
)
@click.option("--log-json/--no-log-json", default=None, help="Log one JSON object per line.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_json: bool | None) -> None:
    """hotline-cti: IVR, ACD, screen-pop, callbacks and KPIs over Asterisk ARI."""
    ctx.obj = CliState(config_path, log_json)


class CliState:
    """What the group's options say; settings are read on first use, so --help always works."""

    def __init__(self, config_path: Path | None, log_json: bool | None) -> None:
        self.config_path = config_path
        self.log_json = log_json
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except CtiError as exc:
                raise click.ClickException(str(exc)) from exc
            json_lines = self._settings.log.json_lines if self.log_json is None else self.log_json
            configure_logging(self._settings.log.level, json_lines)
        return self._settings

    def queue_names(self) -> set[str]:
        """The queues of the ACD configuration the settings name ([acd] config_file): the ones
        an IVR flow may route to (``cti flows``)."""
        return {queue.name for queue in load_acd_config(self.settings.acd.config_file).queues}


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop: the same code, with a third to a half less time per network round trip
    (``bench/acd_latency.py``)."""
    try:
        return uvloop.run(coro)
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.pass_obj
def run(state: CliState) -> None:
    """Run the service: serve the Stasis app named in [ari] app until Ctrl-C."""
    _run(run_service(state.settings))


@cli.command()
@click.option("--digits", default="", help="DTMF the caller keys after answer ('w' = 0.5 s pause).")
@click.option("--delay", "delay_s", default=1.0, show_default=True, help="Seconds before keying.")
@click.option(
    "--hold", "hold_s", default=30.0, show_default=True, help="Seconds the caller stays after keying."
)
@click.option("--from", "caller_number", default="13800138000", show_default=True, help="Caller's number.")
@click.option("--to", "extension", default=None, help="Extension to dial (default: [ari] hotline_extension).")
@click.pass_obj
def call(
    state: CliState, digits: str, delay_s: float, hold_s: float, caller_number: str, extension: str | None
) -> None:
    """Place a simulated caller into the hotline through the local Asterisk."""
    settings = state.settings

    async def place() -> str:
        async with ari_client(settings) as ari:
            channel = await place_simulated_call(
                ari,
                digits=digits,
                delay_s=delay_s,
                hold_s=hold_s,
                caller_number=caller_number,
                context=settings.ari.hotline_context,
                extension=extension or settings.ari.hotline_extension,
            )
            return channel.id

    try:
        channel_id = _run(place())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--digits") from exc
    click.echo(f"placed simulated call {channel_id}: follow it in the service log")


@cli.command()
@click.pass_obj
def doctor(state: CliState) -> None:
    """Check that Asterisk (ARI), Redis and the database answer; exit 1 if one does not.

    Warns (exit 0) when Redis may lose data or a flow calendar does not know this year."""
    settings = state.settings

    async def asterisk_version() -> str:
        async with ari_client(settings) as ari:
            info = await ari.asterisk_info()
            return f"Asterisk {info.system.version} (up since {info.status.startup_time})"

    checks: list[tuple[str, str, Callable[[], Coroutine[Any, Any, str]]]] = [
        ("asterisk", settings.ari.url, asterisk_version),
        ("redis", redact_url(settings.redis.url), lambda: redis_version(settings.redis.url)),
        ("database", redact_url(settings.database.url), lambda: database_version(settings.database.url)),
    ]
    table = Table("service", "where", "status")
    failed = False
    for name, where, check in checks:
        try:
            status = f"[green]ok[/green] {uvloop.run(check())}"
        except (CtiError, OSError) as exc:
            failed = True
            status = f"[red]failed[/red] {exc}"
        table.add_row(name, where, status)
    console = Console()
    console.print(table)
    if not failed:
        for problem in uvloop.run(redis_durability(settings.redis.url)):
            console.print(f"[yellow]warning[/yellow] redis: {problem}")
    for problem in uncovered(date.today().year, public_calendars()):
        console.print(f"[yellow]warning[/yellow] {problem}")
    sys.exit(1 if failed else 0)


@cli.group()
def config() -> None:
    """Inspect the settings."""


@config.command("show")
@click.pass_obj
def config_show(state: CliState) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    shown = state.settings.model_dump(mode="json", by_alias=True)
    for section in ("redis", "database"):
        shown[section]["url"] = redact_url(shown[section]["url"])
    click.echo(json.dumps(shown, indent=2))


@cli.group()
def db() -> None:
    """The SQL store's schema."""


@db.command()
@click.pass_obj
def upgrade(state: CliState) -> None:
    """Apply every pending migration to the database in [database] url."""
    url = state.settings.database.url
    try:
        revision = schema.upgrade(url)
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{redact_url(url)} is at revision {revision}")


def _store_url(state: CliState) -> str:
    """The database URL, its schema checked (an empty SQLite file is upgraded on the spot)."""
    url = state.settings.database.url
    try:
        schema.ensure_schema(url)
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc
    return url


@cli.group()
def kpi() -> None:
    """Reports of the center's KPIs, and imports of app_queue's queue_log."""


@kpi.command("report")
@click.option("--from", "start", help="First day (2026-11-01) or moment (2026-11-01T08:00), center time.")
@click.option("--to", "end", help="Last day, included (2026-11-30), or end moment, excluded.")
@click.option("--queue", help="Only this queue.")
@click.option("--by", type=click.Choice(GROUP_BY), help="One row per queue, agent, hour, day, week or month.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table", show_default=True
)
@click.option(
    "--ring-cycle", type=click.FloatRange(min=0, min_open=True), help="Seconds per ring (default: [kpi])."
)
@click.option("--threshold", type=click.FloatRange(min=0), help="Service-level threshold T in seconds.")
@click.option("--short-abandon", type=click.FloatRange(min=0), help="Leave out abandons shorter than this.")
@click.option("--language", type=click.Choice(LANGUAGES), help="The HTML page's language (default: [kpi]).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout."
)
@click.pass_obj
def kpi_report_command(
    state: CliState,
    start: str | None,
    end: str | None,
    queue: str | None,
    by: str | None,
    fmt: str,
    ring_cycle: float | None,
    threshold: float | None,
    short_abandon: float | None,
    language: str | None,
    output: Path | None,
) -> None:
    """Answered within three rings, contacted within one minute, SL, ASA, abandonment, AHT, FCR..."""
    settings = state.settings.kpi
    tz = ZoneInfo(settings.timezone)
    try:
        period = make_period(start, end, tz)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from exc
    cfg = settings.config(ring_cycle, threshold, short_abandon)
    url = _store_url(state)
    page = fmt == "html"
    report, agents = _run(kpi_report(url, cfg, period=period, queue=queue, by=by, tz=tz, for_page=page))
    text = (
        to_html(report, agents, targets=settings.targets(), language=language or settings.language)
        if page
        else {"json": to_json, "csv": to_csv, "table": to_table}[fmt](report)
    )
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@kpi.command("publish")
@click.option("--every", type=click.Choice(EVERY), required=True, help="The daily, weekly or monthly report.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1), help="The last N periods.")
@click.option(
    "--today", type=click.DateTime(["%Y-%m-%d"]), help="Publish as if today were this day (default: today)."
)
@click.option("--language", type=click.Choice(LANGUAGES), help="The pages' language (default: [kpi]).")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def kpi_publish_command(
    state: CliState,
    every: str,
    count: int,
    today: datetime | None,
    language: str | None,
    directory: Path | None,
) -> None:
    """Write the last complete day's, week's or month's HTML report into DIRECTORY (default:
    [kpi] publish_dir), one file per period: again rewrites the same file, keeps the others."""
    settings = state.settings.kpi
    tz = ZoneInfo(settings.timezone)
    written = _run(
        publish_reports(
            _store_url(state),
            settings.config(),
            every=every,
            directory=directory or settings.publish_dir,
            today=today.date() if today else datetime.now(tz).date(),
            count=count,
            tz=tz,
            language=language or settings.language,
            targets=settings.targets(),
        )
    )
    for path in written:
        click.echo(f"wrote {path}")


@kpi.command("import-queue-log")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_queue_log_command(state: CliState, path: Path) -> None:
    """Read app_queue's queue_log at PATH into call events (again: nothing changes)."""
    parsed, stored = _run(import_queue_log(_store_url(state), path))
    for line in queue_log_summary(parsed, stored):
        click.echo(line)


cli.add_command(flows)
cli.add_command(tts)
cli.add_command(users)
cli.add_command(crm)
cli.add_command(agent)
cli.add_command(dnc)
cli.add_command(campaign)


@cli.group()
def outbox() -> None:
    """The call events on their way from Redis to the SQL store."""


@outbox.command("dead-letters")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@click.pass_obj
def outbox_dead_letters(state: CliState, limit: int, as_json: bool) -> None:
    """Events the store refused, with the database's reason (they are kept, not stored)."""
    settings = state.settings

    async def read() -> list[Any]:
        redis = connect_redis(settings.redis.url)
        try:
            return await read_dead_letters(redis, settings.redis.outbox_stream, limit)
        finally:
            await redis.aclose()

    letters = _run(read())
    if as_json:
        for letter in letters:
            event = letter.event
            record = {"entry": letter.entry_id, "reason": letter.reason, "event": letter.raw}
            if event is not None:
                record["event"] = json.loads(letter.raw)
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    if not letters:
        click.echo(f"no dead letters in {settings.redis.outbox_stream}:dead")
        return
    table = Table("entry", "kind", "call", "at", "reason")
    for letter in letters:
        event = letter.event
        if event is None:
            table.add_row(letter.entry_id, "?", "?", "?", letter.reason)
        else:
            table.add_row(
                letter.entry_id, event.kind.value, event.call_id, event.at.isoformat(), letter.reason
            )
    Console().print(table)


def main() -> None:
    cli()
