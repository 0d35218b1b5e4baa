"""A reproducible month of a care center's call events, for the report page and its screenshot.

November 2026 in Shanghai, 08:00-20:00: about 2,400 calls to three queues with the staffing
gaps a planner looks for (Monday mornings, the lunch hour, thin weekend evenings wait longer),
callers calling again, agents putting calls on hold, leads from insurers, the web and the IVR,
and queue callbacks.
"""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cti.events import CallEvent, EventKind

TZ = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2026, 11, 1, tzinfo=TZ)
DAYS = 30
QUEUES = ("sales", "service", "roadside")
AGENTS = tuple(f"10{n:02d}" for n in range(1, 13))


def _mean_wait(local: datetime) -> float:
    """Seconds a caller waits on average at that local hour: short, except where staff is thin."""
    wait = 7.0
    if local.weekday() == 0 and local.hour < 12:
        wait = 18.0  # Monday morning: the weekend's backlog
    if local.hour == 12:
        wait = 16.0  # lunch
    if local.weekday() >= 5 and local.hour >= 17:
        wait = 22.0  # weekend evenings
    return wait


class Month:
    def __init__(self, seed: int = 2026) -> None:
        self.rnd = random.Random(seed)
        self.events: list[CallEvent] = []
        self.callers: list[str] = []
        for day in range(DAYS):
            for n in range(self.rnd.randint(60, 100)):
                self._call(f"m{day:02d}-{n:03d}", self._moment(day))
            for n in range(self.rnd.randint(3, 7)):
                self._lead(f"lead{day:02d}-{n}", self._moment(day))

    def _moment(self, day: int) -> datetime:
        seconds = self.rnd.triangular(8 * 3600, 20 * 3600, 10.5 * 3600)
        return (FIRST + timedelta(days=day, seconds=seconds)).astimezone(UTC)

    def _add(self, kind: EventKind, at: datetime, call_id: str = "", **fields: object) -> None:
        self.events.append(CallEvent(kind, at, call_id, **fields))  # type: ignore[arg-type]

    def _call(self, call_id: str, at: datetime) -> None:
        rnd = self.rnd
        queue = rnd.choice(QUEUES)
        number = (
            rnd.choice(self.callers[-40:])
            if self.callers and rnd.random() < 0.08
            else f"139{rnd.randrange(10**8):08d}"
        )
        self.callers.append(number)  # some call again soon: the repeat-call and FCR figures
        self._add(EventKind.CALL_STARTED, at, call_id, caller_number=number)
        self._add(EventKind.QUEUE_ENTERED, at, call_id, queue=queue, caller_number=number)
        wait = round(rnd.expovariate(1 / _mean_wait(at.astimezone(TZ))), 3)
        if rnd.random() < min(0.25, wait / 200):
            self._add(
                EventKind.ABANDONED, at + timedelta(seconds=wait), call_id, queue=queue, data={"wait_s": wait}
            )
            return
        agent = rnd.choice(AGENTS)
        answered = at + timedelta(seconds=wait)
        self._add(
            EventKind.AGENT_OFFERED, at + timedelta(seconds=min(wait, 1.0)), call_id, queue=queue, agent=agent
        )
        self._add(
            EventKind.AGENT_ANSWERED, answered, call_id, queue=queue, agent=agent, data={"wait_s": wait}
        )
        talk = rnd.lognormvariate(5.2, 0.5)
        if rnd.random() < 0.2:
            start = answered + timedelta(seconds=talk / 3)
            self._add(
                EventKind.HOLD_STARTED, start, call_id, queue=queue, agent=agent, data={"channel": "agent"}
            )
            end = start + timedelta(seconds=rnd.uniform(10, 60))
            self._add(EventKind.HOLD_ENDED, end, call_id, queue=queue, agent=agent, data={"channel": "agent"})
        done = answered + timedelta(seconds=talk)
        self._add(EventKind.COMPLETED, done, call_id, queue=queue, agent=agent, data={"talk_s": talk})
        wrapup = rnd.uniform(10, 40)
        self._add(
            EventKind.WRAPUP_ENDED,
            done + timedelta(seconds=wrapup),
            call_id,
            queue=queue,
            agent=agent,
            data={"wrapup_s": wrapup},
        )
        self._add(
            EventKind.DISPOSITION,
            done,
            call_id,
            queue=queue,
            agent=agent,
            data={"resolved": rnd.random() < 0.8},
        )
        if queue == "service" and rnd.random() < 0.3:
            self._add(EventKind.APPOINTMENT_BOOKED, done, call_id, queue=queue, agent=agent)

    def _lead(self, lead_id: str, at: datetime) -> None:
        rnd = self.rnd
        source = rnd.choices(("insurer", "web", "ivr_callback", "queue_callback"), (5, 3, 1, 2))[0]
        fields = {"lead_id": lead_id, "queue": "sales"}
        self._add(EventKind.LEAD_CREATED, at, **fields, data={"source": source})
        if rnd.random() < 0.05:
            return  # never dialled
        dial = at + timedelta(seconds=rnd.lognormvariate(3.0 if source == "insurer" else 4.0, 0.7))
        self._add(EventKind.DIAL_STARTED, dial, f"out-{lead_id}", **fields)
        if rnd.random() < 0.2:
            self._add(
                EventKind.FUNNEL_LOST,
                dial + timedelta(minutes=5),
                **fields,
                data={"stage": "contacted", "reason": "no_answer"},
            )
            return
        answered = dial + timedelta(seconds=rnd.uniform(5, 20))
        self._add(EventKind.CUSTOMER_ANSWERED, answered, f"out-{lead_id}", **fields)
        if source == "queue_callback":
            return
        moment = answered
        for stage, share in (
            ("appointment_booked", 0.5),
            ("assessed", 0.7),
            ("completed", 0.85),
            ("surveyed", 0.6),
        ):
            if rnd.random() >= share:
                reason = rnd.choice(("price", "later", "went_elsewhere"))
                self._add(EventKind.FUNNEL_LOST, moment, **fields, data={"stage": stage, "reason": reason})
                return
            moment += timedelta(hours=rnd.uniform(1, 48))
            self._add(EventKind.FUNNEL_STAGE, moment, **fields, data={"stage": stage})
