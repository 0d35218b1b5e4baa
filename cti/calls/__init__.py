"""One session per call: sequencing from StasisStart to hang-up, no business rules."""

from cti.calls.tracker import CallTracker, DialplanLocation

__all__ = ["CallTracker", "DialplanLocation"]
