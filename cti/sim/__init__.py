"""Simulated callers and agents on the project's Asterisk, for tests, benches and demos.

Local-channel callers and agents (``simulate``) cost no SIP and little CPU; real SIP softphones
(``softphone``, headless baresip) carry RTP like a customer's or an agent's phone.
"""

from cti.sim.simulate import (
    AGENT_SIM_CONTEXT,
    acd_entry,
    place_simulated_call,
    set_agent_timing,
    sim_agent_endpoint,
)
from cti.sim.softphone import Softphone, SoftphoneError, SoftphoneUnavailable, softphones

__all__ = [
    "AGENT_SIM_CONTEXT",
    "Softphone",
    "SoftphoneError",
    "SoftphoneUnavailable",
    "acd_entry",
    "place_simulated_call",
    "set_agent_timing",
    "sim_agent_endpoint",
    "softphones",
]
