"""A prompt rendered once, then served from the cache: what each costs the caller asking for it.

Run: ``.venv/bin/python bench/tts_cache.py [--prompts 20]`` (needs espeak-ng:
``scripts/services.sh up tts``). Renders each of the flows' first prompts into a fresh cache
directory (espeak-ng in a process of its own, then resampled to 8 kHz), then asks for every one
again; the second round must find them all cached. Prints both rounds' latencies as a table. The
tests only check that a cache hit does not run espeak-ng (tests/integration/test_tts.py); how
long a hit takes depends on the machine, so it is measured here and never asserted there.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cti.ivr import load_flows
from cti.tts import PromptRenderer, flow_prompts

PROJECT = Path(__file__).resolve().parents[1]


def timed_ms(renderer: PromptRenderer, prompts: list[tuple[str, str]]) -> list[float]:
    took: list[float] = []
    for text, language in prompts:
        started = time.perf_counter()
        renderer.render(text, language)
        took.append((time.perf_counter() - started) * 1000)
    return took


def row(name: str, took: list[float]) -> str:
    p95 = statistics.quantiles(took, n=20)[-1] if len(took) > 1 else took[0]
    return f"| {name:<10} | {len(took):>7} | {statistics.median(took):>10.3f} | {p95:>8.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=20, help="distinct prompts to render")
    args = parser.parse_args()
    flows = load_flows(PROJECT / "ivr_flows", known_queues=None)
    prompts = list(dict.fromkeys(p for flow in flows.values() for p in flow_prompts(flow)))[: args.prompts]
    with tempfile.TemporaryDirectory(prefix="tts-bench-") as sounds:
        renderer = PromptRenderer(Path(sounds))
        renderer.check_engine()
        cold, cached = timed_ms(renderer, prompts), timed_ms(renderer, prompts)
    print("| round      | prompts | median ms  | p95 ms   |")
    print("|------------|---------|------------|----------|")
    print(row("render", cold))
    print(row("cache hit", cached))


if __name__ == "__main__":
    main()
