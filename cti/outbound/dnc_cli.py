"""``cti dnc``: the do-not-call list from the command line: ``import FILE``, ``add NUMBER
[--note]``, ``remove NUMBER``, ``list``, ``check NUMBER``. A thin shell over ``cti.outbound.dnc``
on the store of [database] url; numbers are read in [outbound] region. ``cti.cli`` registers the
group; its helpers are imported when a command runs, because ``cti.cli`` imports this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.outbound.dnc import (
    DncFileError,
    add_numbers,
    all_numbers,
    dnc_policy,
    find_number,
    read_dnc_file,
    remove_number,
)
from cti.outbound.numbers import NumberPolicy, read_number
from cti.outbound.refusal import Refusal
from cti.store import make_engine

if TYPE_CHECKING:
    from cti.cli import CliState

T = TypeVar("T")


def _with_store(state: CliState, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on the store of [database] url (its schema checked first)."""
    from cti.cli import _run, _store_url

    url = _store_url(state)

    async def run() -> T:
        engine = make_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return _run(run())


def _policy(state: CliState) -> NumberPolicy:
    return dnc_policy(state.settings.outbound.region)


def _e164(state: CliState, raw: str) -> str:
    number = read_number(raw, _policy(state))
    if isinstance(number, Refusal):
        raise click.ClickException(f"{raw!r} is no number for the list: {number.rule.value}: {number.reason}")
    return number.e164


@click.group()
def dnc() -> None:
    """The do-not-call list: a number on it is never dialled."""


@dnc.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_command(state: CliState, path: Path) -> None:
    """Put the numbers of PATH (CSV, UTF-8) on the list: one number per line, or the column a
    header names phone, number, 电话 or 手机. Lines that hold no number are reported as
    PATH:LINE: why, and the others are written; a file that cannot be read writes nothing
    (exit 1). Importing it again adds nothing."""
    try:
        found = read_dnc_file(path.read_bytes(), _policy(state))
    except DncFileError as exc:
        raise click.ClickException(f"{path}: {exc}: nothing was written") from exc
    for refused in found.refused:
        click.echo(f"{path}:{refused.line}: {refused.reason}", err=True)
    now = datetime.now(UTC)
    added = _with_store(state, lambda engine: add_numbers(engine, found.numbers, source="import", now=now))
    click.echo(
        f"{path}: {len(found.numbers)} numbers: {added} added, {len(found.numbers) - added} already "
        f"listed; {len(found.refused)} lines refused"
    )


@dnc.command("add")
@click.argument("number")
@click.option("--note", help="Why (at most 200 characters): a complaint, a customer's request...")
@click.pass_obj
def add(state: CliState, number: str, note: str | None) -> None:
    """Put NUMBER on the list."""
    e164 = _e164(state, number)
    now = datetime.now(UTC)
    try:
        added = _with_store(
            state, lambda engine: add_numbers(engine, [e164], source="cli", now=now, note=note)
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {e164}" if added else f"{e164} was on the list already")


@dnc.command("remove")
@click.argument("number")
@click.pass_obj
def remove(state: CliState, number: str) -> None:
    """Take NUMBER off the list."""
    e164 = _e164(state, number)
    if not _with_store(state, lambda engine: remove_number(engine, e164)):
        raise click.ClickException(f"{e164} is not on the list")
    click.echo(f"removed {e164}")


@dnc.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@click.pass_obj
def list_command(state: CliState, as_json: bool) -> None:
    """Every number on the list, newest first."""
    entries = _with_store(state, all_numbers)
    if as_json:
        shown = [entry.shown() for entry in entries]
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    table = Table("number", "source", "added", "by", "note")
    for entry in entries:
        table.add_row(entry.number, entry.source, entry.added_at, entry.added_by or "-", entry.note or "")
    Console().print(table)


@dnc.command("check")
@click.argument("number")
@click.pass_obj
def check(state: CliState, number: str) -> None:
    """Is NUMBER on the list? Exit 0 if not, 1 if it is."""
    e164 = _e164(state, number)
    entry = _with_store(state, lambda engine: find_number(engine, e164))
    if entry is None:
        click.echo(f"{e164} is not on the do-not-call list")
        return
    said = f" ({entry.note})" if entry.note else ""
    click.echo(f"{e164} is on the do-not-call list since {entry.added_at}, by {entry.source}{said}")
    sys.exit(1)
