"""Prompts as sound: flow text rendered with pyttsx3 (espeak-ng) into 8 kHz WAV files, cached
by what decides the sound, played by Asterisk from the same directory (``sound:/abs/path``).

``flow_prompts`` is pure; ``PromptRenderer`` does the I/O; ``cti.tts.cli`` holds ``cti tts build``.
"""

from cti.errors import TtsUnavailable
from cti.tts.prompts import flow_prompts
from cti.tts.renderer import SAMPLE_RATE, PromptRenderer, Prompts

__all__ = ["SAMPLE_RATE", "PromptRenderer", "Prompts", "TtsUnavailable", "flow_prompts"]
