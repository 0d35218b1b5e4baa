"""Simulated callers and agents on the project's Asterisk, for tests, benches and demos."""

from cti.sim.simulate import (
    AGENT_SIM_CONTEXT,
    acd_entry,
    place_simulated_call,
    set_agent_timing,
    sim_agent_endpoint,
)

__all__ = ["AGENT_SIM_CONTEXT", "acd_entry", "place_simulated_call", "set_agent_timing", "sim_agent_endpoint"]
