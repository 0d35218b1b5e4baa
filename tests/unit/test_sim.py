import pytest

from cti.sim import sim_agent_endpoint


def test_simulated_agent_dial_string() -> None:
    assert sim_agent_endpoint("1001") == "Local/1001@agent-sim"


def test_simulated_agent_id_must_be_digits() -> None:
    with pytest.raises(ValueError, match="must be digits"):
        sim_agent_endpoint("agent-1")
