"""Render one prompt with pyttsx3 into espeak-ng's own WAV (22050 Hz), in a process of its own.

``cti.tts.renderer`` runs this file as ``python -I _synth.py VOICE RATE OUT`` with the text on
standard input, and resamples what it writes. Why a fresh process per prompt, measured with
pyttsx3 2.99 and espeak-ng 1.51: espeak-ng synthesizes on its own thread and pyttsx3's espeak
driver does not wait for it properly, so an engine reused in one process (even behind a lock)
wrote 2 empty files in 200 renders and carried a few samples of one prompt into the next; and its
``runAndWait`` can return before the file is written. A fresh process renders exactly what the
``espeak-ng`` command does (same bytes), costs about 0.1 s, may run beside others, and a hang or
crash of the engine cannot take the service down: the parent kills it after a timeout.
pyttsx3 also prints "Audio saved to ..." on every file: here that goes to the parent's /dev/null.

Only the standard library and pyttsx3 are imported: ``-I`` keeps the package (and its numpy) out.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import pyttsx3

#: Exit statuses the parent maps to messages (0: the file is complete).
EXIT_NO_ENGINE = 3  # libespeak-ng could not be loaded or initialised
EXIT_ENGINE_ERROR = 4  # espeak-ng refused a setting (e.g. an unknown voice) or the synthesis


def synthesize(text: str, voice: str, rate: int, out: str) -> int:
    """Write ``text`` spoken by ``voice`` at ``rate`` words per minute to ``out``; the exit status."""
    try:
        engine = pyttsx3.init("espeak")
    except (ImportError, OSError, RuntimeError) as exc:  # the driver raises RuntimeError without the library
        print(f"pyttsx3 cannot load espeak-ng: {exc}", file=sys.stderr)
        return EXIT_NO_ENGINE
    finished = threading.Event()
    errors: list[str] = []

    def on_finished(**_: Any) -> None:
        finished.set()

    def on_error(exception: BaseException, **_: Any) -> None:
        # pyttsx3 reports a failed command (setProperty, the synthesis) here instead of raising.
        errors.append(str(exception))
        finished.set()

    engine.connect("finished-utterance", on_finished)
    engine.connect("error", on_error)
    engine.setProperty("voice", voice)
    engine.setProperty("rate", rate)
    engine.save_to_file(text, out)
    engine.runAndWait()
    # "finished-utterance" comes from espeak-ng's thread once the file is written, which may be
    # after runAndWait returned. No timeout here: the parent kills a render that never finishes.
    finished.wait()
    if errors:
        print("; ".join(errors), file=sys.stderr)
        return EXIT_ENGINE_ERROR
    return 0


if __name__ == "__main__":
    voice_arg, rate_arg, out_arg = sys.argv[1:4]
    sys.exit(synthesize(sys.stdin.buffer.read().decode("utf-8"), voice_arg, int(rate_arg), out_arg))
