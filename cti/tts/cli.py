"""``cti tts build``: render every prompt of the flows before the first call needs it.

Registered on the ``cti`` group by cti/cli.py (``cli.add_command(tts)``). Prompts not rendered
ahead are rendered on first use, which adds about 0.1 s to that call's prompt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cti.errors import CtiError
from cti.ivr import load_flow
from cti.settings import Settings
from cti.tts.prompts import flow_prompts
from cti.tts.renderer import PromptRenderer


class _HasSettings(Protocol):
    """cti.cli's ``CliState`` (not imported: cti.cli imports this module)."""

    @property
    def settings(self) -> Settings: ...


@click.group()
def tts() -> None:
    """Prompts spoken by the IVR: rendered with espeak-ng, cached where Asterisk reads them."""


@tts.command()
@click.argument("flow_paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def build(state: _HasSettings, flow_paths: tuple[Path, ...]) -> None:
    """Render every prompt of FLOW_PATHS (default: every *.yaml in [ivr] flows_dir) not yet cached."""
    settings = state.settings
    paths = flow_paths or tuple(sorted(settings.ivr.flows_dir.glob("*.yaml")))
    if not paths:
        raise click.ClickException(f"no flows in {settings.ivr.flows_dir}/*.yaml: name the flow files")
    renderer = PromptRenderer.from_settings(settings.sounds)
    started = time.perf_counter()
    try:
        prompts = list(dict.fromkeys(prompt for path in paths for prompt in flow_prompts(load_flow(path))))
        missing = [prompt for prompt in prompts if not renderer.path_for(*prompt).exists()]
        if missing:
            renderer.check_engine()
            _render_all(renderer, missing, cached=len(prompts) - len(missing))
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc
    elapsed = time.perf_counter() - started
    click.echo(
        f"{len(prompts)} prompts of {len(paths)} flow(s): {len(missing)} rendered, "
        f"{len(prompts) - len(missing)} already cached, in {elapsed:.2f} s ({renderer.sounds_dir / 'tts'})"
    )


def _render_all(renderer: PromptRenderer, prompts: Sequence[tuple[str, str]], cached: int) -> None:
    """Render in parallel, one process per prompt and core; the bar goes to stderr, the summary
    to stdout. The first failure stops the build (renders not yet started are cancelled)."""
    columns = (TextColumn("rendering prompts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        Progress(*columns, console=Console(stderr=True)) as progress,
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        task = progress.add_task("render", total=cached + len(prompts), completed=cached)
        futures = [pool.submit(renderer.render, text, language) for text, language in prompts]
        try:
            for future in as_completed(futures):
                future.result()
                progress.advance(task)
        finally:
            for future in futures:
                future.cancel()
