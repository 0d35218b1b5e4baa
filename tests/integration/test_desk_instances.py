"""Two service instances on one Redis and one database: a desktop whose websocket instance A
serves gets the pop of a call that instance B's IVR and ACD route."""

from __future__ import annotations

import asyncio

from cti.acd import load_acd_config
from cti.ari import AriClient
from cti.events import EventKind
from cti.settings import Settings
from cti.sim.desktop import add_agent_users, sign_in_token
from cti.sim.drill import free_port
from tests.integration.desk import Connect
from tests.integration.hotline import Hotline
from tests.integration.processes import PROJECT, ServiceProcesses, until_resynced


async def test_a_socket_on_one_instance_gets_the_pops_of_calls_the_other_routes(
    service_processes: ServiceProcesses,
    hotline_of: Hotline,
    ari: AriClient,
    app_name: str,
    settings: Settings,
    connect: Connect,
) -> None:
    env = service_processes.env
    agents = [agent.id for agent in load_acd_config(PROJECT / "config" / "acd.demo.toml").agents]
    await asyncio.to_thread(add_agent_users, env["CTI_DATABASE_URL"], agents)
    port_a = env["CTI_WEB_PORT"]
    service_processes.start()
    await until_resynced(service_processes, 0)  # its agents logged in: B finds them so
    env["CTI_ARI_APP"], env["CTI_WEB_PORT"] = f"{app_name}b", str(free_port())  # same Redis, store
    service_processes.start()
    await until_resynced(service_processes, 1)

    url_a = f"ws://127.0.0.1:{port_a}/api/ws"
    sockets = {agent: await connect(url_a, sign_in_token(settings, agent)) for agent in agents}
    for client in sockets.values():
        await client.until("the snapshot", lambda c: any(f["type"] == "snapshot" for f in c.frames))

    through_b = Hotline(ari, f"{app_name}b", hotline_of.driver, hotline_of.database_url)
    caller = await through_b.call()
    events = await through_b.wait_for(caller, lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    offer = next(e for e in events if e.kind is EventKind.AGENT_OFFERED)
    entered = next(e for e in events if e.kind is EventKind.QUEUE_ENTERED)
    assert entered.data["ivr"] == {"flow": "hotline", "values": {}}
    assert offer.agent is not None
    rung = sockets[offer.agent]
    await rung.until("the pop and the answer", lambda c: c.events("call"))
    pops = [pop for client in sockets.values() for pop in client.events("pop")]
    assert [(pop["call_id"], pop["agent"]) for pop in pops] == [(caller.id, offer.agent)]
    assert pops[0]["offer"] == f"{caller.id}:{offer.data['offer']}"
    assert pops[0]["ivr"]["flow"] == "hotline"
    assert rung.events("call")[0]["state"] == "talking"
