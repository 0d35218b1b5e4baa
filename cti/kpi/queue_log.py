"""Asterisk app_queue's queue_log, read into our call events, so a center on app_queue today
gets the same KPIs and can compare.

The file is pipe-delimited: ``time|callid|queue|agent|event|data1|data2|...`` (Asterisk's
"Queue Logs" documentation). Times are Unix seconds, or ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC
when the logger is set to write dates. The mapping:

    ENTERQUEUE      -> call_started (once per call) + queue_entered    data: url|callerid|position
    CONNECT         -> agent_offered (ringtime earlier) + agent_answered  holdtime|bridged id|ringtime
    RINGNOANSWER    -> agent_offered + ring_no_answer                  ringtime in ms
    RINGCANCELED    -> agent_offered + offer_canceled                  ringtime in ms
    ABANDON         -> abandoned                                       position|origposition|waittime
    EXITWITHTIMEOUT -> timed_out                                       position|origposition|waittime
    EXITEMPTY       -> timed_out (reason: empty)                       position|origposition|waittime
    EXITWITHKEY     -> overflowed (reason: key)                        key|position|origposition|waittime
    COMPLETECALLER / COMPLETEAGENT -> completed (by caller / agent)     holdtime|calltime|origposition
    TRANSFER, BLINDTRANSFER, ATTENDEDTRANSFER -> completed (by transfer): the last three fields
                                                                       are holdtime|calltime|origposition
    ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE, AGENTLOGIN, AGENTLOGOFF -> agent_state_changed

Other known records (QUEUESTART, CONFIGRELOAD, DID, INFO, ...) carry no KPI fact and are
counted as ignored. A line that cannot be read is reported with its number and skipped. Event
ids derive from the line's text, so importing the same file twice stores nothing new.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cti.events import CallEvent, EventKind

IGNORED_RECORDS = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "SYSCOMPAT",
        "DID",
        "INFO",
        "PAUSEALL",
        "UNPAUSEALL",
        "AGENTDUMP",
        "AGENTCALLBACKLOGIN",
    }
)
_AGENT_STATES = {
    "ADDMEMBER": "ready",
    "UNPAUSE": "ready",
    "AGENTLOGIN": "ready",
    "PAUSE": "paused",
    "REMOVEMEMBER": "logged_out",
    "AGENTLOGOFF": "logged_out",
}


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str
    text: str


@dataclass
class QueueLogImport:
    events: list[CallEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    lines: int = 0


@dataclass(frozen=True)
class _Record:
    at: datetime
    call_id: str
    queue: str | None
    agent: str | None
    name: str
    data: tuple[str, ...]
    key: str  # the line's digest: the stem of its event ids

    def event(
        self, kind: EventKind, n: int, data: Mapping[str, object] | None = None, at: datetime | None = None
    ) -> CallEvent:
        return CallEvent(
            kind=kind,
            at=at or self.at,
            call_id=self.call_id,
            queue=self.queue,
            agent=self.agent,
            data=data or {},
            source="queue_log",
            event_id=f"ql:{self.key}:{n}",
        )

    def number(self, index: int, what: str) -> float:
        try:
            return float(self.data[index])
        except (IndexError, ValueError):
            raise ValueError(f"{self.name}: {what} (field {index + 6}) is not a number") from None


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)


def _none(text: str) -> str | None:
    return None if text in ("", "NONE") else text


def _record(line: str) -> _Record:
    fields = line.split("|")
    if len(fields) < 5:
        raise ValueError(f"expected at least 5 '|'-separated fields, found {len(fields)}")
    try:
        at = _parse_time(fields[0])
    except ValueError:
        raise ValueError(f"unreadable time {fields[0]!r}") from None
    key = hashlib.sha256(line.encode()).hexdigest()[:24]
    return _Record(at, fields[1], _none(fields[2]), _none(fields[3]), fields[4], tuple(fields[5:]), key)


def _enter(r: _Record) -> list[CallEvent]:
    caller = _none(r.data[1]) if len(r.data) > 1 else None
    position = r.number(2, "position") if len(r.data) > 2 and r.data[2] else None
    started = CallEvent(
        kind=EventKind.CALL_STARTED,
        at=r.at,
        call_id=r.call_id,
        caller_number=caller,
        source="queue_log",
        event_id=f"ql:{r.call_id}:call_started",
    )
    entered = replace(r.event(EventKind.QUEUE_ENTERED, 0, {"position": position}), caller_number=caller)
    return [started, entered]


def _connect(r: _Record) -> list[CallEvent]:
    wait = r.number(0, "holdtime")
    ring = r.number(2, "ringtime") if len(r.data) > 2 else 0.0
    offered = r.event(EventKind.AGENT_OFFERED, 0, at=r.at - timedelta(seconds=ring))
    return [offered, r.event(EventKind.AGENT_ANSWERED, 1, {"wait_s": wait, "ring_s": ring})]


def _ring_end(kind: EventKind) -> Callable[[_Record], list[CallEvent]]:
    def convert(r: _Record) -> list[CallEvent]:
        ring_s = r.number(0, "ringtime (ms)") / 1000
        offered = r.event(EventKind.AGENT_OFFERED, 0, at=r.at - timedelta(seconds=ring_s))
        return [offered, r.event(kind, 1, {"ring_s": ring_s})]

    return convert


def _left(
    kind: EventKind, wait_index: int, reason: str | None = None
) -> Callable[[_Record], list[CallEvent]]:
    def convert(r: _Record) -> list[CallEvent]:
        data = {"wait_s": r.number(wait_index, "waittime"), "position": r.number(wait_index - 2, "position")}
        return [r.event(kind, 0, data if reason is None else {**data, "reason": reason})]

    return convert


def _completed(by: str) -> Callable[[_Record], list[CallEvent]]:
    def convert(r: _Record) -> list[CallEvent]:
        # holdtime|calltime|origposition are the last three fields of every completion record.
        offset = len(r.data) - 3 if by == "transfer" else 0
        if offset < 0:
            raise ValueError(f"{r.name}: expected holdtime|calltime|origposition")
        return [r.event(EventKind.COMPLETED, 0, {"by": by, "talk_s": r.number(offset + 1, "calltime")})]

    return convert


def _agent_state(r: _Record) -> list[CallEvent]:
    reason = r.data[0] if r.name in ("PAUSE", "UNPAUSE") and r.data and r.data[0] else None
    return [r.event(EventKind.AGENT_STATE_CHANGED, 0, {"state": _AGENT_STATES[r.name], "reason": reason})]


_CONVERTERS: dict[str, Callable[[_Record], list[CallEvent]]] = {
    "ENTERQUEUE": _enter,
    "CONNECT": _connect,
    "RINGNOANSWER": _ring_end(EventKind.RING_NO_ANSWER),
    "RINGCANCELED": _ring_end(EventKind.OFFER_CANCELED),
    "ABANDON": _left(EventKind.ABANDONED, 2),
    "EXITWITHTIMEOUT": _left(EventKind.TIMED_OUT, 2),
    "EXITEMPTY": _left(EventKind.TIMED_OUT, 2, "empty"),
    "EXITWITHKEY": _left(EventKind.OVERFLOWED, 3, "key"),
    "COMPLETECALLER": _completed("caller"),
    "COMPLETEAGENT": _completed("agent"),
    "TRANSFER": _completed("transfer"),
    "BLINDTRANSFER": _completed("transfer"),
    "ATTENDEDTRANSFER": _completed("transfer"),
    **dict.fromkeys(_AGENT_STATES, _agent_state),
}


def parse_queue_log(lines: Iterable[str]) -> QueueLogImport:
    """Read queue_log lines into events; never raises on bad input (see ``problems``)."""
    result = QueueLogImport()
    for number, raw in enumerate(lines, start=1):
        result.lines = number
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            record = _record(line)
            convert = _CONVERTERS.get(record.name)
            if convert is None:
                reason = "ignored" if record.name in IGNORED_RECORDS else "unknown record"
                result.ignored[f"{record.name} ({reason})"] += 1
                continue
            result.events.extend(convert(record))
        except ValueError as exc:
            result.problems.append(Problem(number, str(exc), line[:200]))
    return result


def summary(result: QueueLogImport, stored: int) -> Sequence[str]:
    """Lines for a person: what was read, stored, skipped and why."""
    lines = [f"{result.lines} lines read, {len(result.events)} events derived, {stored} new events stored"]
    lines += [f"  ignored {count} x {name}" for name, count in sorted(result.ignored.items())]
    lines += [f"  line {p.line}: {p.reason}: {p.text}" for p in result.problems]
    return lines
