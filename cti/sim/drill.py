"""What the fault drills (``bench/drills.py``) and their tests share: a flow that sends every
caller straight to the sales queue at any hour, so a caller is bridged to an agent at once, and
a free loopback port for a drill's own service."""

from __future__ import annotations

import socket

STRAIGHT_TO_SALES_FLOW = """\
# Straight to sales: a fault drill needs a caller bridged to an agent at any hour.
name: hotline
entry: sales_queue
languages: [en]
timezone: Asia/Shanghai
nodes:
  sales_queue:
    type: queue
    queue: sales
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
