"""Simulated callers and agents on the project's Asterisk, for tests, benches and demos.

Local-channel callers and agents (``simulate``) cost no SIP and little CPU; real SIP softphones
(``softphone``, headless baresip) carry RTP like a customer's or an agent's phone. Simulated
customers of the dialer (``customers``) are numbers whose digits say what they do.
"""

from cti.sim.customers import CUSTOMER_SIM_CONTEXT, Customer, customer_number
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
    "CUSTOMER_SIM_CONTEXT",
    "Customer",
    "Softphone",
    "SoftphoneError",
    "SoftphoneUnavailable",
    "acd_entry",
    "customer_number",
    "place_simulated_call",
    "set_agent_timing",
    "sim_agent_endpoint",
    "softphones",
]
