"""Prompt text -> the WAV file Asterisk plays, rendered once and cached on disk.

The sound: pyttsx3's espeak driver speaks the text with espeak-ng (``_synth.py``, one process
per prompt: see there why) at espeak-ng's 22050 Hz; libsoxr resamples it to what Asterisk's
``wav`` format is, 8 kHz mono 16-bit PCM (``format_wav.c``; ``wav16`` would be 16 kHz), so
Asterisk plays the file as it is, with no resampling per call.

The cache: a prompt's file is named by the sha256 of everything that decides its sound (format
version, voice, rate, text) under ``<sounds dir>/tts/``, so a changed text or voice is a new file
and an unchanged one is never rendered twice. Each file is written under a temporary name and
renamed into place: the service and ``cti tts build`` may render at the same time, and whoever
sees a name sees the whole file. Asterisk reads the same directory at the same absolute path
(``sound:/abs/path``, README "Prompts").
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import soxr

from cti.errors import TtsUnavailable
from cti.settings import DEFAULT_RATE, DEFAULT_RATES, DEFAULT_VOICES, SoundsSettings
from cti.tts import _synth

#: Part of every cache key: bump it when the audio format or the rendering changes.
FORMAT_VERSION = 1
#: Asterisk's ``wav`` format: 8 kHz signed linear, mono, 16-bit.
SAMPLE_RATE = 8000
#: What pyttsx3's espeak driver loads on Linux (Debian's libespeak-ng1).
ESPEAK_LIBRARY = "libespeak-ng.so.1"
INSTALL_HINT = "install it with `apt-get install espeak-ng` (or `scripts/services.sh up tts`)"

Samples = npt.NDArray[np.int16]


class Prompts(Protocol):
    """What plays text to a caller needs (the IVR runner, the ACD's announcements): a media
    URI for ``text`` in ``language``. ``PromptRenderer`` is the one implementation."""

    async def sound_uri(self, text: str, language: str) -> str: ...


class PromptRenderer:
    """Renders prompts for one sounds directory; ``sound_uri`` is what the IVR runner plays.

    ``voices`` maps a flow language to an espeak-ng voice, ``rates`` to words per minute
    (``DEFAULT_RATE`` for a language not listed).
    ``espeak_library`` is the library checked before rendering (a test names a missing one);
    ``timeout_s`` bounds one render, after which its process is killed.
    """

    def __init__(
        self,
        sounds_dir: Path,
        voices: Mapping[str, str] = DEFAULT_VOICES,
        rates: Mapping[str, int] = DEFAULT_RATES,
        *,
        espeak_library: str = ESPEAK_LIBRARY,
        timeout_s: float = 30.0,
    ) -> None:
        # Resolved like scripts/asterisk.sh's `realpath -m`: the chroot mounts the real path.
        self.sounds_dir = sounds_dir.resolve()
        self.voices = dict(voices)
        self.rates = dict(rates)
        self._espeak_library = espeak_library
        self._timeout_s = timeout_s
        self._engine_checked = False
        self._in_flight: dict[Path, asyncio.Future[Path]] = {}

    @classmethod
    def from_settings(cls, settings: SoundsSettings) -> PromptRenderer:
        return cls(settings.dir, settings.voices, settings.rates)

    def voice_for(self, language: str) -> str:
        try:
            return self.voices[language]
        except KeyError:
            known = ", ".join(f"{lang}={voice}" for lang, voice in self.voices.items())
            raise TtsUnavailable(
                f"no voice for language {language!r} (voices: {known}): add it to [sounds] voices"
            ) from None

    def rate_for(self, language: str) -> int:
        return self.rates.get(language, DEFAULT_RATE)

    def path_for(self, text: str, language: str) -> Path:
        """The cache file of ``text`` spoken in ``language``, whether rendered yet or not."""
        voice, rate = self.voice_for(language), self.rate_for(language)
        key = json.dumps([FORMAT_VERSION, voice, rate, text], ensure_ascii=False)
        return self.sounds_dir / "tts" / f"{hashlib.sha256(key.encode()).hexdigest()}.wav"

    def check_engine(self) -> None:
        """Raise ``TtsUnavailable`` with the install command unless libespeak-ng can be loaded.

        pyttsx3's own error only says "you probably do not have eSpeak or eSpeak-ng installed",
        and only from inside the render process.
        """
        if self._engine_checked:
            return
        try:
            ctypes.CDLL(self._espeak_library)
        except OSError as exc:
            raise TtsUnavailable(
                f"espeak-ng is missing: cannot load {self._espeak_library} ({exc}); {INSTALL_HINT}"
            ) from exc
        self._engine_checked = True

    def render(self, text: str, language: str) -> Path:
        """The prompt's file, rendered first if missing (blocks: about 0.1 s per prompt)."""
        path = self.path_for(text, language)
        if path.exists():
            return path
        if not text.strip():
            raise ValueError("a prompt needs something to say")
        self.check_engine()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Work in the cache directory itself, so the final rename never crosses file systems.
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".render-") as work:
            spoken = Path(work) / "espeak.wav"
            self._synthesize(text, self.voice_for(language), self.rate_for(language), spoken)
            prompt = Path(work) / "prompt.wav"
            _write_wav(prompt, _resample(*_read_wav(spoken)))
            os.replace(prompt, path)
        return path

    async def sound_uri(self, text: str, language: str) -> str:
        """The media URI that plays the prompt (``sound:/abs/path``, no extension: Asterisk picks
        the format by it), rendered in a worker thread first if missing.

        Callers asking for the same prompt at once share one render; a caller cancelled while
        waiting (the caller hung up) does not cancel it for the others.
        """
        path = self.path_for(text, language)
        if not path.exists():  # one stat: cheaper than a hop to a thread on every cache hit
            await asyncio.shield(self._rendering(path, text, language))
        return f"sound:{path.with_suffix('')}"

    def _rendering(self, path: Path, text: str, language: str) -> asyncio.Future[Path]:
        future = self._in_flight.get(path)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(self.render, text, language))
            self._in_flight[path] = future
            future.add_done_callback(lambda _: self._in_flight.pop(path, None))
        return future

    def _synthesize(self, text: str, voice: str, rate: int, out: Path) -> None:
        command = [sys.executable, "-I", _synth.__file__, voice, str(rate), str(out)]
        try:
            done = subprocess.run(
                command,
                input=text.encode("utf-8"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TtsUnavailable(f"espeak-ng did not render a prompt within {self._timeout_s:g} s") from exc
        detail = done.stderr.decode("utf-8", "replace").strip()[-500:]
        if done.returncode == _synth.EXIT_NO_ENGINE:
            raise TtsUnavailable(f"espeak-ng is missing or broken ({detail}); {INSTALL_HINT}")
        if done.returncode == _synth.EXIT_ENGINE_ERROR:
            raise TtsUnavailable(
                f"espeak-ng failed with voice {voice!r}: {detail} (`espeak-ng --voices` lists the voices)"
            )
        if done.returncode != 0:
            raise TtsUnavailable(f"the prompt render process failed (exit {done.returncode}): {detail}")


def _read_wav(path: Path) -> tuple[Samples, int]:
    """The samples and rate of the 16-bit mono WAV that pyttsx3 wrote."""
    with wave.open(str(path), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth()) != (1, 2):
            raise TtsUnavailable(f"espeak-ng wrote an unexpected WAV ({wav.getparams()})")
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    if not frames:
        raise TtsUnavailable("espeak-ng rendered no sound")
    return np.frombuffer(frames, dtype="<i2"), rate


def _resample(samples: Samples, rate: int) -> Samples:
    # libsoxr's default "HQ" quality band-limits before decimating: no aliasing at 8 kHz.
    return np.asarray(soxr.resample(samples, rate, SAMPLE_RATE), dtype="<i2")


def _write_wav(path: Path, samples: Samples) -> None:
    """A WAV at ``SAMPLE_RATE``, on disk (fsync) before it is renamed into the cache."""
    with path.open("wb") as handle:
        with wave.open(handle, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(samples.tobytes())
        handle.flush()
        os.fsync(handle.fileno())
