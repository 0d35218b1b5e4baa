"""cti.tts with the real espeak-ng: the files Asterisk plays, the cache, the build command, and
Asterisk playing a rendered prompt from the shared sounds directory."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from cti.ari import AriClient, EventStream
from cti.ari.events import PlaybackFinished, PlaybackStarted, StasisStart
from cti.settings import Settings
from cti.sim import place_simulated_call
from cti.tts import SAMPLE_RATE, PromptRenderer, TtsUnavailable
from cti.tts.cli import tts
from tests.conftest import service_missing
from tests.integration.conftest import AsteriskStack, OpenEventLog

PROJECT = Path(__file__).resolve().parents[2]
ENGLISH = "Thank you for calling. Please hold."
MANDARIN = "您好。欢迎致电客户关怀中心。"


def require_espeak(renderer: PromptRenderer) -> PromptRenderer:
    try:
        renderer.check_engine()
    except TtsUnavailable as exc:
        service_missing(str(exc))
    return renderer


@pytest.fixture
def renderer(tmp_path: Path) -> PromptRenderer:
    return require_espeak(PromptRenderer(tmp_path / "sounds"))


def duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return wav.getnframes() / wav.getframerate()


@pytest.mark.parametrize(("text", "language"), [(ENGLISH, "en"), (MANDARIN, "zh")])
def test_a_prompt_becomes_an_8khz_mono_16bit_wav_of_its_speech(
    renderer: PromptRenderer, text: str, language: str
) -> None:
    path = renderer.render(text, language)
    assert path == renderer.path_for(text, language)
    assert 0.3 < duration_s(path) < 20
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_mandarin_is_spoken_by_the_mandarin_voice(renderer: PromptRenderer, tmp_path: Path) -> None:
    # English espeak-ng spells Han characters out ("Chinese letter ..."): far longer than Mandarin.
    english = PromptRenderer(tmp_path / "as-english", {"zh": "en"})
    assert duration_s(renderer.render(MANDARIN, "zh")) < 0.85 * duration_s(english.render(MANDARIN, "zh"))


def test_given_a_rendered_prompt_when_rendering_again_then_the_cached_file_is_returned_unspoken(
    renderer: PromptRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spoken: list[str] = []
    synthesize = renderer._synthesize

    def counted(text: str, voice: str, rate: int, out: Path) -> None:
        spoken.append(text)
        synthesize(text, voice, rate, out)

    monkeypatch.setattr(renderer, "_synthesize", counted)
    path = renderer.render(ENGLISH, "en")
    written = path.stat().st_mtime_ns
    assert renderer.render(ENGLISH, "en") == path
    assert spoken == [ENGLISH]  # espeak-ng ran for the first render only
    assert path.stat().st_mtime_ns == written


async def test_concurrent_callers_of_one_prompt_share_one_render(
    renderer: PromptRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    render = renderer.render

    def counted(text: str, language: str) -> Path:
        renders.append(text)
        return render(text, language)

    monkeypatch.setattr(renderer, "render", counted)
    uris = await asyncio.gather(*(renderer.sound_uri(ENGLISH, "en") for _ in range(10)))
    path = renderer.path_for(ENGLISH, "en")
    assert set(uris) == {f"sound:{path.with_suffix('')}"}
    assert renders == [ENGLISH]
    assert path.exists()


async def test_a_caller_who_hangs_up_while_waiting_does_not_cancel_the_render_for_others(
    renderer: PromptRenderer,
) -> None:
    leaving = asyncio.create_task(renderer.sound_uri(MANDARIN, "zh"))
    staying = asyncio.create_task(renderer.sound_uri(MANDARIN, "zh"))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == f"sound:{renderer.path_for(MANDARIN, 'zh').with_suffix('')}"
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_an_unknown_voice_is_reported_with_espeaks_words(tmp_path: Path) -> None:
    broken = require_espeak(PromptRenderer(tmp_path, {"en": "no-such-voice"}))
    with pytest.raises(TtsUnavailable, match=r"voice 'no-such-voice'.*espeak-ng --voices"):
        broken.render(ENGLISH, "en")
    assert not list((tmp_path / "tts").iterdir())


def test_build_renders_the_flows_once_then_finds_them_cached(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_espeak(PromptRenderer(tmp_path))
    sounds = settings.sounds.model_copy(update={"dir": tmp_path / "sounds"})
    state = SimpleNamespace(settings=settings.model_copy(update={"sounds": sounds}))
    monkeypatch.chdir(PROJECT)  # the default: every flow in [ivr] flows_dir, ./ivr_flows
    first = CliRunner().invoke(tts, ["build"], obj=state)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(tts, ["build"], obj=state)
    assert again.exit_code == 0, again.output
    rendered = len(list((tmp_path / "sounds" / "tts").glob("*.wav")))
    assert rendered > 30
    assert f"{rendered} rendered, 0 already cached" in first.output
    assert f"0 rendered, {rendered} already cached" in again.output


async def test_asterisk_plays_a_rendered_prompt_from_the_shared_sounds_directory(
    asterisk: AsteriskStack, ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    # The directory scripts/asterisk.sh bind-mounts into Asterisk's root at the same path.
    renderer = require_espeak(PromptRenderer.from_settings(asterisk.settings.sounds))
    uri = await renderer.sound_uri(ENGLISH, "en")
    length_s = duration_s(renderer.path_for(ENGLISH, "en"))
    events = await open_event_log(EventStream(ari, app_name))
    caller = await place_simulated_call(ari, hold_s=30, app=app_name)
    await events.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id)
    await ari.answer(caller.id)
    playback = await ari.play(caller.id, f"pb-{caller.id}", uri)
    await events.wait_for(lambda e: isinstance(e, PlaybackStarted) and e.playback.id == playback.id)
    started = time.monotonic()
    finished = await events.wait_for(
        lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback.id, within_s=length_s + 10
    )
    played_s = time.monotonic() - started
    await ari.hangup(caller.id)
    assert isinstance(finished, PlaybackFinished)
    assert finished.playback.state == "done"
    assert played_s > 0.8 * length_s  # a file Asterisk cannot open ends at once
