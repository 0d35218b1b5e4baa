"""Errors of the IVR capability, under the project's one tree (``cti.errors``).

    CtiError
    └── FlowError    a flow (or the station data it uses) is invalid: carries every Problem found

To be drawn into ``cti/errors.py``'s docstring when the IVR lands (that file is shared).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cti.errors import CtiError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a flow file, where a flow writer can find it."""

    file: str
    line: int  # 1-based; 0 when the problem has no place in the file (e.g. it cannot be read)
    node_id: str | None
    message: str

    def sort_key(self) -> tuple[str, int, str, str]:
        """File, then line order (a problem without node sorts first on its line)."""
        return (self.file, self.line, self.node_id or "", self.message)

    def __str__(self) -> str:
        """``file:line: node id: message``, the shape editors and CI logs turn into links."""
        place = f"{self.file}:{self.line}" if self.line else self.file
        node = f" node {self.node_id}:" if self.node_id else ""
        return f"{place}:{node} {self.message}"


class FlowError(CtiError):
    """A flow cannot be used; ``problems`` lists everything wrong, not just the first thing."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems = tuple(problems)
        details = "".join(f"\n  {problem}" for problem in self.problems)
        super().__init__(message + details)
