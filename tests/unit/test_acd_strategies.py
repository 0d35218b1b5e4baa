"""Strategies, skills with escalation, priorities and fairness, as one table and as properties."""

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.acd import (
    AcdConfig,
    AgentSnapshot,
    AgentState,
    Entry,
    QueueConfig,
    RoundRobinMemory,
    SkillStep,
    Strategy,
    choose,
    eligible,
    leaving_empty,
    load_acd_config,
    match,
    refusal,
    required_level,
)
from cti.errors import ConfigError

READY = AgentState.READY


def agent(
    i: int, *, state: AgentState = READY, idle: float = 0, calls: int = 0, talk: float = 0, level: int = 3
) -> AgentSnapshot:
    return AgentSnapshot(
        f"a{i}", state, {"sales": level}, order=i, idle_since=idle, calls_taken=calls, talk_time_s=talk
    )


AGENTS = [
    agent(0, idle=50, calls=9, talk=900),
    agent(1, idle=10, calls=2, talk=700),
    agent(2, idle=30, calls=5, talk=100),
    agent(3, idle=5, calls=2, talk=500, state=AgentState.PAUSED),
]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.RINGALL, ["a0", "a1", "a2"]),
        (Strategy.LINEAR, ["a0"]),
        (Strategy.LONGEST_IDLE, ["a1"]),  # idle since t=10, the earliest of the ready ones
        (Strategy.FEWEST_CALLS, ["a1"]),
        (Strategy.LEAST_TALK_TIME, ["a2"]),
        (Strategy.RRMEMORY, ["a0"]),
    ],
)
def test_each_strategy_picks_as_app_queue_would(strategy: Strategy, expected: list[str]) -> None:
    queue = QueueConfig(name="sales", strategy=strategy)
    entry = Entry("c1", "sales", entered_at=100)
    candidates = eligible(queue, AGENTS, entry, now=100)
    assert choose(queue, candidates, AGENTS, 100, RoundRobinMemory(), random.Random(1)) == expected


def test_round_robin_remembers_where_it_stopped_and_wraps() -> None:
    queue = QueueConfig(name="sales", strategy=Strategy.RRMEMORY)
    memory = RoundRobinMemory()
    entry = Entry("c1", "sales", entered_at=0)
    picks = [
        choose(queue, eligible(queue, AGENTS, entry, 0), AGENTS, 0, memory, random.Random())[0]
        for _ in range(4)
    ]
    assert picks == ["a0", "a1", "a2", "a0"]  # a3 is paused


def test_random_only_picks_eligible_agents_and_spreads() -> None:
    queue = QueueConfig(name="sales", strategy=Strategy.RANDOM)
    rng = random.Random(7)
    seen = {
        choose(queue, eligible(queue, AGENTS, Entry("c", "sales", 0), 0), AGENTS, 0, RoundRobinMemory(), rng)[
            0
        ]
        for _ in range(60)
    }
    assert seen == {"a0", "a1", "a2"}


def test_skill_escalation_lowers_the_bar_as_the_wait_grows() -> None:
    queue = QueueConfig(
        name="sales",
        escalation=(SkillStep(after_s=0, min_level=4), SkillStep(after_s=30, min_level=2)),
    )
    experts_only = [agent(0, level=2), agent(1, level=4)]
    assert required_level(queue, 29.9) == 4
    assert required_level(queue, 30) == 2
    assert [a.id for a in eligible(queue, experts_only, Entry("c", "sales", 0), now=10)] == ["a1"]
    assert [a.id for a in eligible(queue, experts_only, Entry("c", "sales", 0), now=31)] == ["a0", "a1"]
    assert eligible(queue, [agent(0, level=1)], Entry("c", "sales", 0), now=1000) == []


def test_match_serves_priority_then_longest_wait_across_queues() -> None:
    queues = {
        "sales": QueueConfig(name="sales"),
        "complaints": QueueConfig(name="complaints", skill="sales", priority=5),
    }
    waiting = [
        Entry("old-sales", "sales", entered_at=0),
        Entry("new-complaint", "complaints", entered_at=50),
        Entry("vip-sales", "sales", entered_at=60, priority=10),
    ]
    one_agent = [agent(0)]
    offers = match(queues, one_agent, waiting, 70, RoundRobinMemory(), random.Random())
    assert [(o.entry.call_id, o.agents) for o in offers] == [("vip-sales", ("a0",))]
    two_more = [agent(0), agent(1), agent(2)]
    offers = match(queues, two_more, waiting, 70, RoundRobinMemory(), random.Random())
    assert [o.entry.call_id for o in offers] == ["vip-sales", "new-complaint", "old-sales"]


def test_ringall_takes_every_eligible_agent_for_the_first_caller() -> None:
    queues = {"sales": QueueConfig(name="sales", strategy=Strategy.RINGALL)}
    waiting = [Entry("c1", "sales", 0), Entry("c2", "sales", 1)]
    offers = match(queues, AGENTS, waiting, 5, RoundRobinMemory(), random.Random())
    assert [(o.entry.call_id, o.agents) for o in offers] == [("c1", ("a0", "a1", "a2"))]


snapshots = st.lists(
    st.builds(
        AgentSnapshot,
        id=st.sampled_from([f"a{i}" for i in range(8)]),
        state=st.sampled_from(list(AgentState)),
        skills=st.dictionaries(st.sampled_from(["sales", "service"]), st.integers(1, 5), max_size=2),
        order=st.integers(0, 7),
        idle_since=st.floats(0, 1000),
        calls_taken=st.integers(0, 50),
        talk_time_s=st.floats(0, 5000),
    ),
    max_size=8,
    unique_by=lambda a: a.id,
)
entries = st.lists(
    st.builds(
        Entry,
        call_id=st.uuids().map(str),
        queue=st.sampled_from(["sales", "service"]),
        entered_at=st.floats(0, 900),
        priority=st.integers(0, 3),
    ),
    max_size=6,
)


@given(agents=snapshots, waiting=entries, strategy=st.sampled_from(list(Strategy)), seed=st.integers())
def test_only_ready_skilled_agents_are_offered_and_never_twice(
    agents: list[AgentSnapshot], waiting: list[Entry], strategy: Strategy, seed: int
) -> None:
    queues = {
        "sales": QueueConfig(
            name="sales",
            strategy=strategy,
            escalation=(SkillStep(after_s=0, min_level=3), SkillStep(after_s=60, min_level=1)),
        ),
        "service": QueueConfig(name="service", strategy=strategy, priority=1),
    }
    offers = match(queues, agents, waiting, 1000, RoundRobinMemory(), random.Random(seed))
    offered = [agent_id for offer in offers for agent_id in offer.agents]
    assert len(offered) == len(set(offered)), "an agent was offered two calls"
    by_id = {a.id: a for a in agents}
    for offer in offers:
        queue = queues[offer.entry.queue]
        assert strategy is Strategy.RINGALL or len(offer.agents) == 1
        for agent_id in offer.agents:
            chosen = by_id[agent_id]
            assert chosen.state is AgentState.READY  # never paused, ringing, on a call or in wrap-up
            assert chosen.level(queue.required_skill) >= required_level(queue, offer.entry.wait_s(1000))
    assert len({o.entry.call_id for o in offers}) == len(offers)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["acd.toml", "acd.demo.toml"])
def test_the_shipped_acd_configs_load(name: str) -> None:
    config = load_acd_config(Path("config") / name)
    assert isinstance(config, AcdConfig)
    assert {q.name for q in config.queues} >= {"sales", "service", "roadside", "complaints", "vip", "general"}


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[[agents]]\nid = "1001"\nname = "A"\nendpoint = "1001"\n', "agents.0.endpoint", "dial string"),
        (
            '[[agents]]\nid = "1001"\nname = "A"\nendpoint = "PJSIP/1001"\nskills = {sales = 7}\n',
            "agents.0.skills",
            "1-5",
        ),
        ('[[queues]]\nname = "sales"\nstrategy = "fastest"\n', "queues.0.strategy", "Input should be"),
        ('[[queues]]\nname = "sales"\noverflow = "nowhere"\n', "(top level)", "overflow target 'nowhere'"),
        ('[[queues]]\nname = "a"\n[[queues]]\nname = "a"\n', "(top level)", "duplicate queue ids"),
        (
            '[[queues]]\nname = "a"\noverflow = "b"\n[[queues]]\nname = "b"\noverflow = "a"\n',
            "(top level)",
            "overflow loops: a -> b -> a",
        ),
        (
            '[[queues]]\nname = "s"\nescalation = [{after_s = 5, min_level = 2}]\n',
            "queues.0",
            "must start with a step at after_s = 0",
        ),
        ('[[queues]]\nname = "s"\nring_timout_s = 5\n', "queues.0.ring_timout_s", "unknown key"),
        ("callback_ring_s = 2\n", "callback_ring_s", "greater than or equal to 5"),
        ("callback_ring_s = 301\n", "callback_ring_s", "less than or equal to 300"),
        ("callback_ring_s = 7.5\n", "callback_ring_s", "valid integer"),
    ],
)
def test_bad_config_is_refused_with_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_acd_config(write(tmp_path, text))
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_the_customer_rings_40_s_unless_the_acd_file_says_otherwise(tmp_path: Path) -> None:
    assert AcdConfig().callback_ring_s == 40
    assert load_acd_config(write(tmp_path, "callback_ring_s = 25\n")).callback_ring_s == 25


def test_a_full_queue_and_an_unstaffed_one_refuse_callers_as_app_queue_does() -> None:
    capped = QueueConfig(name="sales", max_len=2)
    assert refusal(capped, AGENTS, waiting_in_queue=1) is None
    assert refusal(capped, AGENTS, waiting_in_queue=2) == "full"
    strict = QueueConfig(name="sales", join_empty=False)
    nobody = [agent(0, state=AgentState.LOGGED_OUT), agent(1, state=AgentState.PAUSED)]
    assert refusal(strict, nobody, 0) == "empty"
    busy = [agent(0, state=AgentState.ON_CALL)]  # busy is still staffed: the caller may wait
    assert refusal(strict, busy, 0) is None
    assert refusal(QueueConfig(name="sales"), nobody, 0) is None  # join_empty defaults to yes


def test_callers_leave_a_leave_empty_queue_when_nobody_is_left() -> None:
    queues = {"sales": QueueConfig(name="sales", leave_empty=True), "service": QueueConfig(name="service")}
    waiting = [Entry("c1", "sales", 0), Entry("c2", "service", 0)]
    nobody = [agent(0, state=AgentState.LOGGED_OUT)]
    assert [e.call_id for e in leaving_empty(queues, nobody, waiting)] == ["c1"]
    assert leaving_empty(queues, AGENTS, waiting) == []


def test_an_agent_signed_in_for_some_queues_is_offered_and_counted_for_those_only() -> None:
    queues = {q.name: q for q in (QueueConfig(name="sales"), QueueConfig(name="service", leave_empty=True))}
    skills = {"sales": 3, "service": 3}
    sales_only = AgentSnapshot("a1", READY, skills, order=1, queues=frozenset({"sales"}))
    both = AgentSnapshot("a2", READY, skills, order=2)
    service_call = Entry("c1", "service", 0.0)
    assert match(queues, [sales_only], [service_call], 1.0, RoundRobinMemory(), random.Random(1)) == []
    assert leaving_empty(queues, [sales_only], [service_call]) == [service_call]
    sales_call = Entry("c2", "sales", 0.0)
    offers = match(
        queues, [sales_only, both], [service_call, sales_call], 1.0, RoundRobinMemory(), random.Random(1)
    )
    assert {(o.entry.call_id, o.agents) for o in offers} == {("c1", ("a2",)), ("c2", ("a1",))}
