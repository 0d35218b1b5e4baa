"""cti.tts without espeak-ng: cache names, the cache layout, what a flow can say, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.ivr import Flow, load_flow
from cti.ivr.model import MenuNode, SayStationNode
from cti.settings import load_settings
from cti.tts import PromptRenderer, TtsUnavailable, flow_prompts
from cti.tts import renderer as renderer_module

PROJECT = Path(__file__).resolve().parents[2]
HOTLINE = PROJECT / "ivr_flows" / "hotline.yaml"
TEXT = "Welcome to the hotline."


@pytest.fixture(scope="module")
def hotline() -> Flow:
    return load_flow(HOTLINE)


def flow(nodes: dict[str, Any], languages: tuple[str, ...] = ("zh", "en")) -> Flow:
    return Flow.model_validate(
        {"name": "t", "entry": next(iter(nodes)), "languages": languages, "nodes": nodes}
    )


@pytest.mark.parametrize(
    ("other_text", "other_language", "other_voices", "other_rate"),
    [
        ("Welcome to the hotline!", "en", {"en": "en"}, 150),  # text
        (TEXT, "en", {"en": "en-us"}, 150),  # voice
        (TEXT, "en", {"en": "en"}, 151),  # rate
        (TEXT, "zh", {"en": "en", "zh": "cmn"}, 150),  # language with another voice
    ],
)
def test_given_anything_that_changes_the_sound_when_naming_the_file_then_the_name_changes(
    tmp_path: Path, other_text: str, other_language: str, other_voices: dict[str, str], other_rate: int
) -> None:
    base = PromptRenderer(tmp_path, {"en": "en"}, {"en": 150}).path_for(TEXT, "en")
    other = PromptRenderer(tmp_path, other_voices, {"en": 150, "zh": 150, other_language: other_rate})
    assert other.path_for(other_text, other_language) != base


def test_given_a_new_format_version_when_naming_the_file_then_every_name_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer = PromptRenderer(tmp_path)
    before = renderer.path_for(TEXT, "en")
    monkeypatch.setattr(renderer_module, "FORMAT_VERSION", renderer_module.FORMAT_VERSION + 1)
    assert renderer.path_for(TEXT, "en") != before


def test_given_the_same_sound_when_naming_the_file_then_the_name_is_stable(tmp_path: Path) -> None:
    # Two languages sharing a voice share the file: the name depends on the voice, not the label.
    one = PromptRenderer(tmp_path, {"en": "en", "en-gb": "en"}, {"en": 150, "en-gb": 150})
    again = PromptRenderer(tmp_path, {"en": "en"}, {"en": 150})
    assert one.path_for(TEXT, "en") == one.path_for(TEXT, "en-gb") == again.path_for(TEXT, "en")


def test_cache_files_are_sha256_named_wavs_under_tts_at_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = PromptRenderer(Path("sounds")).path_for(TEXT, "en")
    assert path.parent == tmp_path.resolve() / "sounds" / "tts"
    assert path.suffix == ".wav"
    assert len(path.stem) == 64
    assert set(path.stem) <= set("0123456789abcdef")


@pytest.fixture
def without_espeak(tmp_path: Path) -> PromptRenderer:
    return PromptRenderer(tmp_path, espeak_library="libespeak-ng-missing.so.0")


@pytest.fixture
def cached(without_espeak: PromptRenderer) -> Path:
    path = without_espeak.path_for(TEXT, "en")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF")
    return path


async def test_given_a_cached_prompt_when_asking_its_uri_then_sound_and_the_path_without_extension(
    without_espeak: PromptRenderer, cached: Path
) -> None:
    # A cache hit needs no engine: the missing library is never looked up.
    uri = await without_espeak.sound_uri(TEXT, "en")
    assert uri == f"sound:{without_espeak.sounds_dir}/tts/{cached.stem}"
    assert uri.startswith("sound:/")


def test_given_no_espeak_ng_when_rendering_then_the_error_names_the_install_command(
    without_espeak: PromptRenderer, tmp_path: Path
) -> None:
    with pytest.raises(TtsUnavailable, match=r"apt-get install espeak-ng") as raised:
        without_espeak.render(TEXT, "en")
    assert "libespeak-ng-missing.so.0" in str(raised.value)
    assert not (tmp_path / "tts").exists()  # checked before anything is written


def test_given_a_language_without_voice_when_rendering_then_unavailable_names_the_setting(
    tmp_path: Path,
) -> None:
    with pytest.raises(TtsUnavailable, match=r"no voice for language 'fr'.*\[sounds\] voices"):
        PromptRenderer(tmp_path).path_for(TEXT, "fr")


def test_given_blank_text_when_rendering_then_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="something to say"):
        PromptRenderer(tmp_path).render("  ", "en")


def test_settings_give_the_renderer_its_voices_and_rates(tmp_path: Path) -> None:
    settings = load_settings(PROJECT / "config" / "cti.toml").sounds
    renderer = PromptRenderer.from_settings(settings)
    assert (renderer.voices, renderer.rates) == ({"zh": "cmn", "en": "en"}, {"zh": 280, "en": 165})
    assert renderer.rate_for("fr") == 165


def test_hotline_prompts_cover_every_menu_prompt_in_both_languages(hotline: Flow) -> None:
    prompts = set(flow_prompts(hotline))
    menus = [node for node in hotline.nodes.values() if isinstance(node, MenuNode)]
    assert menus
    for menu in menus:
        for _, say in menu.prompts():
            for language in ("zh", "en"):
                assert (say.text[language], language) in prompts


def test_hotline_prompts_leave_out_station_templates_but_keep_not_found(hotline: Flow) -> None:
    prompts = flow_prompts(hotline)
    station = next(node for node in hotline.nodes.values() if isinstance(node, SayStationNode))
    assert not any("{" in text for text, _ in prompts)
    assert all((station.not_found.text[lang], lang) in prompts for lang in ("zh", "en"))


def test_hotline_prompts_are_each_listed_once(hotline: Flow) -> None:
    prompts = flow_prompts(hotline)
    assert len(prompts) == len(set(prompts))
    # Shared prompts (YAML anchors: invalid key, no key, callback) are one pair per language.
    assert sum(text == "Sorry, that is not a valid choice." for text, _ in prompts) == 1


def test_given_a_prompt_missing_a_language_then_the_default_languages_text_is_listed() -> None:
    # What the interpreter plays in that case: the default language's text, in that language.
    nodes = {"hello": {"type": "prompt", "prompt": {"zh": "您好"}, "next": "bye"}, "bye": {"type": "hangup"}}
    assert flow_prompts(flow(nodes)) == [("您好", "zh")]


def test_given_recordings_and_blank_text_then_nothing_to_render() -> None:
    nodes = {
        "hello": {"type": "prompt", "prompt": {"sound": "hello-world"}, "next": "bye"},
        "bye": {"type": "hangup", "prompt": {"zh": " ", "en": "Goodbye."}},
    }
    assert flow_prompts(flow(nodes)) == [("Goodbye.", "en")]
