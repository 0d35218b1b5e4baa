"""Building call events for KPI tests: times are seconds after T0 (UTC)."""

import random
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cti.events import CallEvent, EventKind

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, 17:00 in Shanghai


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: EventKind, t: float, call_id: str = "", **fields: Any) -> CallEvent:
    data = fields.pop("data", {})
    return CallEvent(kind=kind, at=at(t), call_id=call_id, data=data, **fields)


def answered_call(
    call_id: str,
    wait_s: float,
    *,
    queue: str = "sales",
    agent: str = "1001",
    start: float = 0,
    talk_s: float = 60,
) -> list[CallEvent]:
    """A call that entered ``queue`` at ``start`` and was answered ``wait_s`` later, then talked."""
    number = f"1380000{zlib.crc32(call_id.encode()) % 10000:04d}"
    return [
        ev(EventKind.CALL_STARTED, start, call_id, caller_number=number),
        ev(EventKind.QUEUE_ENTERED, start, call_id, queue=queue, caller_number=number),
        ev(EventKind.AGENT_OFFERED, start, call_id, queue=queue, agent=agent),
        ev(EventKind.AGENT_ANSWERED, start + wait_s, call_id, queue=queue, agent=agent),
        ev(
            EventKind.COMPLETED,
            start + wait_s + talk_s,
            call_id,
            queue=queue,
            agent=agent,
            data={"talk_s": talk_s},
        ),
    ]


def unanswered_call(
    call_id: str, kind: EventKind, wait_s: float, *, queue: str = "sales", start: float = 0
) -> list[CallEvent]:
    return [
        ev(EventKind.CALL_STARTED, start, call_id, caller_number="13900000000"),
        ev(EventKind.QUEUE_ENTERED, start, call_id, queue=queue),
        ev(kind, start + wait_s, call_id, queue=queue),
    ]


class VariedEvents:
    """A reproducible mix of everything the KPI facts are derived from, over ~10 days from T0.

    Calls re-enter and overflow between queues, ring agents who miss or are canceled, end every
    way a stay can end, with and without the producer's own wait, at the same instant as the
    event before them or not; callers call again within 48 h and 7 days; leads are dialled,
    answered and move through the funnel weeks later; a few events are pure noise (any kind,
    any fields). ``events`` is in no particular order.
    """

    QUEUES = ("sales", "service", "vip")
    AGENTS = ("1001", "1002", "1003", None)

    def __init__(self, seed: int, calls: int = 300, leads: int = 60, noise: int = 40) -> None:
        self.rnd = random.Random(seed)
        self.events: list[CallEvent] = []
        for n in range(calls):
            self._call(f"call-{n}", self.rnd.uniform(0, 10 * 86400))
        for n in range(leads):
            self._lead(f"lead-{n}", self.rnd.uniform(0, 10 * 86400))
        for _ in range(noise):
            self._noise()
        self.rnd.shuffle(self.events)

    def _add(self, kind: EventKind, t: float, call_id: str = "", **fields: Any) -> None:
        self.events.append(ev(kind, round(t, 6), call_id, **fields))

    def _later(self, t: float, most: float) -> float:
        return t if self.rnd.random() < 0.15 else t + self.rnd.uniform(0, most)  # some at the same instant

    def _call(self, call_id: str, t: float) -> None:
        rnd = self.rnd
        number = f"1390000{rnd.randrange(40):04d}"  # few numbers: repeat calls and FCR misses
        direction = rnd.choice(["inbound"] * 8 + ["outbound", None])
        self._add(
            EventKind.CALL_STARTED,
            t,
            call_id,
            caller_number=number,
            data={"direction": direction} if direction else {},
        )
        for _ in range(rnd.choice((0, 1, 1, 1, 2, 3))):  # stays: overflowed or re-entered
            queue = rnd.choice(self.QUEUES)
            t = self._later(t, 5)
            self._add(EventKind.QUEUE_ENTERED, t, call_id, queue=queue, caller_number=number)
            t = self._stay(call_id, queue, t)

    def _stay(self, call_id: str, queue: str, t: float) -> float:
        rnd = self.rnd
        entered = t
        for _ in range(rnd.choice((0, 1, 1, 2))):  # agents rung before the outcome
            agent = rnd.choice(self.AGENTS)
            t = self._later(t, 4)
            self._add(EventKind.AGENT_OFFERED, t, call_id, queue=queue, agent=agent)
            t = self._later(t, 20)
            kind = rnd.choice((EventKind.RING_NO_ANSWER, EventKind.OFFER_CANCELED, EventKind.AGENT_ANSWERED))
            if kind is EventKind.AGENT_ANSWERED:
                data = {"wait_s": round(t - entered - rnd.uniform(0, 0.5), 3)} if rnd.random() < 0.3 else {}
                self._add(kind, t, call_id, queue=queue, agent=agent, data=data)
                return self._conversation(call_id, queue, agent, t)
            self._add(kind, t, call_id, queue=queue, agent=agent)
        kind = rnd.choice(
            (
                EventKind.ABANDONED,
                EventKind.OVERFLOWED,
                EventKind.TIMED_OUT,
                EventKind.CALLBACK_REQUESTED,
                EventKind.TRANSFERRED,  # not an outcome: the stay stays open
            )
        )
        t = self._later(t, 40)
        data = {"wait_s": round(t - entered, 3)} if rnd.random() < 0.5 else {}
        self._add(kind, t, call_id, queue=queue, data=data)
        return t

    def _conversation(self, call_id: str, queue: str, agent: str | None, t: float) -> float:
        rnd = self.rnd
        talk = round(rnd.uniform(5, 600), 1)
        if rnd.random() < 0.9:
            data = {"talk_s": talk, "hold_s": round(rnd.uniform(0, 30), 1)} if rnd.random() < 0.7 else {}
            self._add(EventKind.COMPLETED, t + talk, call_id, queue=queue, agent=agent, data=data)
        if rnd.random() < 0.7:
            self._add(
                EventKind.WRAPUP_ENDED,
                t + talk + 30,
                call_id,
                agent=agent,
                data={"wrapup_s": rnd.uniform(1, 60)},
            )
        if rnd.random() < 0.8:
            self._add(
                EventKind.DISPOSITION,
                t + talk + 30,
                call_id,
                agent=agent,
                data={"resolved": rnd.random() < 0.7},
            )
        if rnd.random() < 0.2:
            self._add(EventKind.APPOINTMENT_BOOKED, t + talk / 2, call_id, agent=agent)
        return t + talk + 30

    def _lead(self, lead_id: str, t: float) -> None:
        rnd = self.rnd
        queue = rnd.choice(self.QUEUES)
        if rnd.random() < 0.95:  # the rest: events of a lead whose creation was never recorded
            self._add(EventKind.LEAD_CREATED, t, lead_id=lead_id, queue=queue, data={"source": "insurer"})
        for attempt in range(rnd.choice((0, 1, 1, 2, 3))):
            call_id = f"{lead_id}-dial-{attempt}"
            t = self._later(t, 120)
            self._add(EventKind.DIAL_STARTED, t, call_id, lead_id=lead_id, queue=queue)
            if rnd.random() < 0.6:
                t = self._later(t, 30)
                self._add(EventKind.CUSTOMER_ANSWERED, t, call_id, lead_id=lead_id, queue=queue, agent="1001")
                if rnd.random() < 0.4:
                    self._add(EventKind.APPOINTMENT_BOOKED, t + 60, call_id, lead_id=lead_id)
        for stage in ("appointment_booked", "assessed", "completed", "surveyed", "?"):
            t += rnd.uniform(0, 7 * 86400)
            if rnd.random() < 0.3:
                reason = rnd.choice(("price", "later", None))
                data = {"stage": stage, "reason": reason} if reason else {"stage": stage}
                self._add(EventKind.FUNNEL_LOST, t, lead_id=lead_id, data=data)
            if rnd.random() < 0.6:
                self._add(EventKind.FUNNEL_STAGE, t, lead_id=lead_id, data={"stage": stage})

    def _noise(self) -> None:
        rnd = self.rnd
        kind = rnd.choice(list(EventKind))
        call_id = rnd.choice(("", f"call-{rnd.randrange(300)}", "stray"))
        lead_id = rnd.choice((None, f"lead-{rnd.randrange(60)}"))
        data = {"wait_s": rnd.uniform(0, 30), "talk_s": 12.5, "resolved": True, "stage": "assessed"}
        self._add(
            kind,
            rnd.uniform(0, 10 * 86400),
            call_id,
            lead_id=lead_id,
            queue=rnd.choice((None, *self.QUEUES)),
            agent=rnd.choice(self.AGENTS),
            data=data if rnd.random() < 0.5 else {},
        )
