"""What a waiting caller is told, and when: position, expected wait, the callback offer. Pure.

The expected wait is the plain estimate contact centres announce: a caller waits because every
agent who can take the queue is busy, and each frees up after a mean handle time, so the caller
at position p is answered after about ``ceil(p / staffed)`` handle times. It is rounded up to
whole minutes: a caller promised "about 2 minutes" who waits 2:40 feels misled, one promised 3
does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from cti.acd.model import AgentSnapshot, AgentState, QueueConfig

#: Used until agents have handled calls (AcdState keeps their talk time).
DEFAULT_HANDLE_S = 180.0

_TEXT = {
    "zh": {
        "next": "您是下一位，请稍候。",
        "ahead": "您前面还有{ahead}位客户，预计等待约{minutes}分钟。",
        "callback": "如需回电，请按{key}，我们将为您保留排队位置，轮到您时给您回电。",
        "confirmed": "好的，我们已为您保留排队位置，轮到您时将拨打{number}与您联系。再见。",
        "refused": "抱歉，我们无法回拨您的号码，请继续等候。",
    },
    "en": {
        "next": "You are next in line. Please hold.",
        "ahead": "There are {ahead} callers ahead of you. The expected wait is about {minutes} minutes.",
        "callback": "To be called back instead, keeping your place in line, press {key}.",
        "confirmed": "Thank you. You keep your place in line, and we will call you back on {number} "
        "when it is your turn. Goodbye.",
        "refused": "Sorry, we cannot call your number back. Please stay on the line.",
    },
}
LANGUAGES = frozenset(_TEXT)


def expected_wait_s(position: int, staffed: int, mean_handle_s: float) -> float:
    """Seconds until a caller at 1-based ``position`` is likely answered by ``staffed`` agents."""
    handle_s = mean_handle_s if mean_handle_s > 0 else DEFAULT_HANDLE_S
    return math.ceil(position / max(staffed, 1)) * handle_s


def serving(queue: QueueConfig, agents: Iterable[AgentSnapshot]) -> tuple[int, float]:
    """How many agents serve ``queue`` now (logged in, not paused, skilled), and their mean
    handle time so far (0 before any call: ``expected_wait_s`` then uses the default)."""
    absent = (AgentState.LOGGED_OUT, AgentState.PAUSED)
    present = [a for a in agents if a.state not in absent and a.level(queue.required_skill) >= 1]
    calls = sum(a.calls_taken for a in present)
    return len(present), (sum(a.talk_time_s for a in present) / calls if calls else 0.0)


def position_announcement(position: int, wait_s: float, language: str, callback_key: str | None) -> str:
    """The periodic announcement for a caller at 1-based ``position``."""
    text = _TEXT.get(language, _TEXT["en"])
    said = (
        text["next"]
        if position <= 1
        else text["ahead"].format(ahead=position - 1, minutes=max(1, math.ceil(wait_s / 60)))
    )
    if callback_key is not None:
        separator = "" if language == "zh" else " "  # Mandarin sentences run on after 。
        said += separator + text["callback"].format(key=_spoken_key(callback_key, language))
    return said


def callback_confirmation(number: str, language: str) -> str:
    """Said once the callback is recorded, before the line is cleared."""
    text = _TEXT.get(language, _TEXT["en"])
    return text["confirmed"].format(number=" ".join(number) if number else "")


def callback_refused(language: str) -> str:
    """Said when the dial guard refuses the caller's number a callback: the caller keeps waiting."""
    return _TEXT.get(language, _TEXT["en"])["refused"]


def _spoken_key(key: str, language: str) -> str:
    names = {"*": ("星号键", "star"), "#": ("井号键", "hash")}
    zh, en = names.get(key, (key, key))
    return zh if language == "zh" else en
