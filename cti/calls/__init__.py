"""One session per call: sequencing from StasisStart to hang-up, no business rules."""

from cti.calls.tracker import CallTracker

__all__ = ["CallTracker"]
