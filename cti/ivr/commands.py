"""``cti flows``: check, simulate and draw IVR flows, for the people who write them.

A thin shell over the pure pipeline (``loader``, ``simulator``, ``graph``): it reads the flow
files and the station list where the settings say ([ivr]), and runs Graphviz's ``dot``. A
flow may only route to a configured queue: the known queue names are handed in, with the
settings, by the object ``@click.pass_obj`` passes (``FlowsState``; ``cti.cli.CliState``
reads them from the ACD's configuration). ``cti.cli`` registers the group.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import click

from cti.errors import CtiError
from cti.ivr.calendars import public_calendars
from cti.ivr.graph import to_dot
from cti.ivr.loader import Parsed, flow_files, load_flow, read_flow, read_flows
from cti.ivr.messages import FlowContext
from cti.ivr.model import CallbackNode, Flow, QueueNode
from cti.ivr.simulator import describe, parse_keys, simulate
from cti.ivr.stations import load_stations
from cti.settings import Settings

DOT_TIMEOUT_S = 60  # the hotline takes a fraction of a second; minutes mean dot is stuck


@click.group()
def flows() -> None:
    """Check, simulate and draw the IVR flows (the *.yaml files of [ivr] flows_dir)."""


class FlowsState(Protocol):
    """What the commands are handed (``@click.pass_obj``): the settings and the queue names."""

    @property
    def settings(self) -> Settings: ...

    def queue_names(self) -> set[str]:
        """The queues a flow may route to; raises ``CtiError`` if they cannot be read."""
        ...


def _known_queues(state: FlowsState) -> set[str]:
    try:
        return state.queue_names()
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc


def _flow_paths(state: FlowsState, paths: tuple[Path, ...]) -> list[Path]:
    """The files to check: a directory stands for its *.yaml files; none given: [ivr] flows_dir."""
    paths = paths or (state.settings.ivr.flows_dir,)
    found = [file for path in paths for file in (flow_files(path) if path.is_dir() else [path])]
    if not found:
        raise click.ClickException(f"no flow files (*.yaml) in {', '.join(map(str, paths))}")
    return found


def _ok_line(parsed: Parsed, flow: Flow) -> str:
    queues = sorted(
        {node.queue for node in flow.nodes.values() if isinstance(node, QueueNode | CallbackNode)}
    )
    return (
        f"{parsed.file}: OK: flow {flow.name}, {len(flow.nodes)} nodes, "
        f"languages {', '.join(flow.languages)}, queues {', '.join(queues) or '(none)'}"
    )


@flows.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def check(state: FlowsState, paths: tuple[Path, ...]) -> None:
    """Check flows: every problem with its file, line and node.

    PATHS are flow files or directories of them (default: [ivr] flows_dir). Queues must exist
    in [acd] config_file. Exits 1 when there is any problem.
    """
    results = read_flows(_flow_paths(state, paths), _known_queues(state))
    for parsed in results:
        if parsed.flow is not None and not parsed.problems:
            click.echo(_ok_line(parsed, parsed.flow))
        for problem in parsed.problems:
            click.echo(str(problem))
    failed = [parsed for parsed in results if parsed.problems]
    if failed:
        count = sum(len(parsed.problems) for parsed in failed)
        raise click.ClickException(f"{count} problem(s) in {len(failed)} of {len(results)} flow file(s)")


def _flow(state: FlowsState, reference: str) -> Flow:
    """The flow of that name in [ivr] flows_dir, or in the file it names, checked as the service
    checks it at start (so what is simulated or drawn is what would run)."""
    path = Path(reference)
    if not (path.suffix in (".yaml", ".yml") or path.is_file()):
        path = _named_flow_file(state.settings.ivr.flows_dir, reference)
    try:
        return load_flow(path, _known_queues(state))
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc


def _named_flow_file(directory: Path, name: str) -> Path:
    """DIRECTORY/NAME.yaml, else the file there whose flow is called NAME (names address flows)."""
    path = directory / f"{name}.yaml"
    if path.is_file():
        return path
    for candidate in flow_files(directory):
        flow = read_flow(candidate).flow
        if flow is not None and flow.name == name:
            return candidate
    raise click.ClickException(f"no flow named {name!r} in {directory} (and no file {name!r})")


def _check_language(flow: Flow, language: str | None) -> None:
    """Refuse a language the flow does not offer: the machine would quietly use the default."""
    if language is not None and language not in flow.languages:
        raise click.BadParameter(
            f"flow {flow.name} speaks {', '.join(flow.languages)}", param_hint="--language"
        )


def _moment(at: str | None, flow: Flow) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 date and time", param_hint="--at") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(flow.timezone))


@flows.command("simulate")
@click.argument("reference", metavar="FLOW")
@click.option(
    "--digits",
    default="",
    help="What the caller does, in order: DTMF keys, t (let the timer run out), h (hang up); "
    "commas only separate, e.g. 2,1 or 3,010# or t,t,1. Then the caller stays silent.",
)
@click.option("--language", help="Language the call starts in (default: the flow's first).")
@click.option(
    "--caller", default="13800138000", show_default=True, help="Caller's number ('' for anonymous)."
)
@click.option(
    "--at",
    help="When the call starts, ISO 8601 (2026-11-23T22:30); without an offset, in the flow's "
    "timezone. Chooses open hours, after hours or a holiday. Default: now.",
)
@click.option("--segment", help="Pretend the lookup finds the caller as a customer of this segment.")
@click.option("--vip", is_flag=True, help="Same as --segment vip.")
@click.pass_obj
def simulate_command(
    state: FlowsState,
    reference: str,
    digits: str,
    language: str | None,
    caller: str,
    at: str | None,
    segment: str | None,
    vip: bool,
) -> None:
    """Walk one call through a flow, without Asterisk.

    FLOW is a flow name in [ivr] flows_dir, or a flow file. Prints every node entered, what
    the caller hears and keys, the path and where the call ends.
    """
    flow = _flow(state, reference)
    try:
        keys = parse_keys(digits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--digits") from exc
    _check_language(flow, language)
    segment = "vip" if vip else segment
    if segment is not None and not caller:
        raise click.BadParameter("an anonymous caller cannot be found: give --caller", param_hint="--segment")
    try:
        stations = load_stations(state.settings.ivr.stations_file)
    except (CtiError, OSError) as exc:
        raise click.ClickException(f"cannot read the stations: {exc}") from exc
    context = FlowContext(stations=stations, calendars=public_calendars())
    transcript = simulate(
        flow,
        keys,
        now=_moment(at, flow),
        caller_number=caller,
        language=language or "",
        customers={caller: {"segment": segment}} if segment is not None else None,
        context=context,
    )
    for line in describe(flow, transcript, context):
        click.echo(line)


@flows.command()
@click.argument("reference", metavar="FLOW")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: FLOW.FORMAT here."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "dot"]),
    default="svg",
    show_default=True,
    help="dot: the Graphviz source, no Graphviz needed.",
)
@click.option("--language", help="Language of the prompt excerpts (default: the flow's first).")
@click.pass_obj
def graph(state: FlowsState, reference: str, output: Path | None, fmt: str, language: str | None) -> None:
    """Draw a flow with Graphviz: its nodes, keys and where calls end.

    FLOW is a flow name in [ivr] flows_dir, or a flow file.
    """
    flow = _flow(state, reference)
    _check_language(flow, language)
    output = output or Path(f"{flow.name}.{fmt}")
    text = to_dot(flow, language)
    if fmt != "dot":
        _run_dot(text, fmt, output)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc}") from exc
    click.echo(f"wrote {output}")


def _run_dot(text: str, fmt: str, output: Path) -> None:
    """Render DOT text with Graphviz's dot (a Debian package, not a Python one)."""
    dot = shutil.which("dot")
    if dot is None:
        raise click.ClickException(
            "Graphviz's dot command is not installed: apt-get install graphviz "
            "(or scripts/services.sh up graphviz), or use --format dot"
        )
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}", "-o", str(output)],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise click.ClickException(f"dot failed: {exc}") from exc
    if done.returncode != 0:
        raise click.ClickException(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
