"""Screen-pops on the real stack: a simulated agent rings, the websocket signed in as that agent
gets one pop for the offer, withdrawn when the ring ends elsewhere; reconnects miss nothing and
repeat nothing; an agent never sees another's pop."""

from __future__ import annotations

from typing import Any

from cti.acd import Strategy
from cti.ari import AriClient
from cti.sim.simulate import set_agent_timing
from tests.conftest import eventually
from tests.integration.conftest import MakeAcd, sales
from tests.integration.desk import Connect, DeskClient, StartDesk

A, B = "1291", "1292"


def pops_of(client: DeskClient, call_id: str) -> list[dict[str, Any]]:
    return [pop for pop in client.events("pop") if pop["call_id"] == call_id]


def withdrawn(client: DeskClient, call_id: str) -> list[str]:
    return [e["reason"] for e in client.events("pop_withdrawn") if e["call_id"] == call_id]


async def test_an_offer_pops_once_on_its_agent_and_a_ring_no_answer_withdraws_it(
    make_acd: MakeAcd, start_desk: StartDesk, connect: Connect, ari: AriClient
) -> None:
    await set_agent_timing(ari, A, ring_s=60)  # never answers: the 3 s ring times out
    acd = await make_acd((sales(),), agent_ids=[A])
    desk = await start_desk(acd)
    client = await connect(desk.url, desk.token(A))
    await client.until("the welcome", lambda c: any(f["type"] == "welcome" for f in c.frames))
    assert client.frames[0]["agent"] == A
    assert list(client.frames[0]["topics"]) == [f"agent:{A}"]

    call_id = await acd.call()
    await client.until("the rollover", lambda c: withdrawn(c, call_id))
    first = pops_of(client, call_id)[0]
    offered = await desk.offers(call_id)
    assert first["offer"] == f"{call_id}:{offered[0].data['offer']}"
    assert (first["agent"], first["queue"], first["caller"]["number"]) == (A, "sales", "13800138000")
    assert withdrawn(client, call_id)[0] == "rolled_over"
    withdrawals = [e for e in client.events("pop_withdrawn") if e["call_id"] == call_id]
    assert withdrawals[0]["offer"] == first["offer"]
    offers = [pop["offer"] for pop in pops_of(client, call_id)]
    assert len(offers) == len(set(offers)), "each offer pops once"
    seqs = [f["seq"] for f in client.frames if f["type"] == "event"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "numbered +1 each, none missing"
    assert desk.publisher.pops >= len(offers)  # counted as published (more may be on their way)
    assert desk.publisher.published >= len(seqs)


async def test_the_caller_hanging_up_while_it_rings_withdraws_the_pop_as_abandoned(
    make_acd: MakeAcd, start_desk: StartDesk, connect: Connect, ari: AriClient
) -> None:
    await set_agent_timing(ari, A, ring_s=60)
    acd = await make_acd((sales(ring_timeout_s=30),), agent_ids=[A])
    desk = await start_desk(acd)
    client = await connect(desk.url, desk.token(A))
    call_id = await acd.call(hold_s=2)  # the caller gives up after 2 s of ringing
    await client.until("the withdrawal", lambda c: withdrawn(c, call_id))
    assert len(pops_of(client, call_id)) == 1
    assert withdrawn(client, call_id) == ["abandoned"]
    assert await desk.topics.open_pops(A) == []


async def test_ringall_the_agent_who_did_not_answer_sees_it_answered_elsewhere_and_nobody_sees_anothers_pop(
    make_acd: MakeAcd, start_desk: StartDesk, connect: Connect, ari: AriClient
) -> None:
    await set_agent_timing(ari, A, ring_s=1)
    await set_agent_timing(ari, B, ring_s=60)
    acd = await make_acd((sales(strategy=Strategy.RINGALL, ring_timeout_s=20),), agent_ids=[A, B])
    desk = await start_desk(acd)
    first, second = await connect(desk.url, desk.token(A)), await connect(desk.url, desk.token(B))
    call_id = await acd.call()
    await second.until("B's withdrawal", lambda c: withdrawn(c, call_id))
    await first.until("A talking", lambda c: any(e["state"] == "talking" for e in c.events("call")))
    assert withdrawn(second, call_id) == ["answered_elsewhere"]
    assert withdrawn(first, call_id) == []
    assert [pop["agent"] for pop in pops_of(first, call_id)] == [A]
    assert [pop["agent"] for pop in pops_of(second, call_id)] == [B]
    talking = first.events("call")[0]
    assert talking["offer"] == pops_of(first, call_id)[0]["offer"]
    for client, agent in ((first, A), (second, B)):
        assert {f["topic"] for f in client.frames if "topic" in f} == {f"agent:{agent}"}
    assert [pop["offer"] for pop in await desk.topics.open_pops(A)] == [talking["offer"]]  # open till wrap-up
    assert await desk.topics.open_pops(B) == []


async def test_a_socket_cut_while_it_rings_ends_with_exactly_one_pop_after_the_reconnect(
    make_acd: MakeAcd, start_desk: StartDesk, connect: Connect, ari: AriClient
) -> None:
    await set_agent_timing(ari, A, ring_s=60)
    acd = await make_acd((sales(ring_timeout_s=30),), agent_ids=[A])
    desk = await start_desk(acd)
    topic = f"agent:{A}"
    before = await connect(desk.url, desk.token(A))
    await before.until("the snapshot", lambda c: any(f["type"] == "snapshot" for f in c.frames))
    seen = before.last_seq(topic)
    await before.close()  # cut before the pop: it is published while nobody listens

    call_id = await acd.call()
    await eventually(lambda: desk.offers(call_id), what="the offer")
    await eventually(lambda: desk.topics.open_pops(A), what="the pop published")
    resumed = await connect(desk.url, desk.token(A), resume={topic: seen})
    await resumed.until("the replayed pop", lambda c: pops_of(c, call_id))
    assert [f["type"] for f in resumed.frames[:2]] == ["welcome", "event"]  # replayed, no snapshot
    seen = resumed.last_seq(topic)
    await resumed.close()  # cut after the pop

    again = await connect(desk.url, desk.token(A), resume={topic: seen})
    fresh = await connect(desk.url, desk.token(A))  # no resume: a snapshot with the open pop
    await fresh.until("the snapshot", lambda c: any(f["type"] == "snapshot" for f in c.frames))
    await again.until("the welcome", lambda c: c.frames)
    assert len(pops_of(resumed, call_id)) + len(pops_of(again, call_id)) == 1
    assert len(pops_of(fresh, call_id)) == 1
    await ari.hangup(call_id)
    await again.until("the withdrawal", lambda c: withdrawn(c, call_id) == ["abandoned"])
