"""The ``cti`` command line: run the service, place test calls, check the stack."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cti.app import ari_client, run_service
from cti.errors import CtiError
from cti.live import redis_version
from cti.logs import configure_logging, redact_url
from cti.settings import Settings, load_settings
from cti.sim import place_simulated_call
from cti.store import database_version

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


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
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
    settings: Settings, digits: str, delay_s: float, hold_s: float, caller_number: str, extension: str | None
) -> None:
    """Place a simulated caller into the hotline through the local Asterisk."""

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
    """Check that Asterisk (ARI), Redis and the database answer; exit 1 if one does not."""
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
            status = f"[green]ok[/green] {asyncio.run(check())}"
        except (CtiError, OSError) as exc:
            failed = True
            status = f"[red]failed[/red] {exc}"
        table.add_row(name, where, status)
    Console().print(table)
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


def main() -> None:
    cli()
