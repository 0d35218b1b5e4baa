"""``cti crm import``: load a center's CRM from CSV files, all or nothing.

Registered on the ``cti`` group by cti/cli.py (``cli.add_command(crm)``). The columns of each
kind of file are in ``cti.crm.records``; config/crm-demo/ holds an example of each kind.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import click
import uvloop

from cti.crm.store import Imported, import_files
from cti.errors import CtiError
from cti.settings import Settings
from cti.store import make_engine, schema


class _HasSettings(Protocol):
    """cti.cli's ``CliState`` (not imported: cti.cli imports this module)."""

    @property
    def settings(self) -> Settings: ...


@click.group()
def crm() -> None:
    """The CRM the desk reads: customers, vehicles, service history, insurance, cases."""


@crm.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_obj
def import_command(state: _HasSettings, paths: tuple[Path, ...]) -> None:
    """Load PATHS (CSV, UTF-8): each file's kind is read from its header. Any problem is reported
    as file:line: field: problem and nothing is written (exit 1); otherwise everything is. Again
    with the same files updates the same rows (customer_ref, vin, case_ref are the keys)."""
    settings = state.settings
    url = settings.database.url

    async def load() -> Imported:
        engine = make_engine(url)
        try:
            files = [(str(path), path.read_bytes()) for path in paths]
            return await import_files(engine, files, ZoneInfo(settings.kpi.timezone))
        finally:
            await engine.dispose()

    try:
        schema.ensure_schema(url)
        imported = uvloop.run(load())
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc
    if imported.problems:
        for problem in imported.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(imported.problems)} problem(s): nothing was written", err=True)
        sys.exit(1)
    click.echo(
        "written (new or updated): " + ", ".join(f"{table} {n}" for table, n in imported.written.items())
    )
