"""What a caller asks of one solve, as one typed object (:class:`SolveRequest`).

The runner's entry points (``solve``, ``asolve``, ``stream``, ``astream`` and the resuming ones) once
each restated the same seven parameters; they now take a request (or a problem's text, with the
request's fields as keywords) and hand it down whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from ..plugins import Blocking, ToolSession
from ..types import Event, Step, Trajectory

# What a solve streams to its caller: the events nodes report, each step as it is recorded, and last the
# finished trajectory.
Streamed = Event | Step | Trajectory
# Gets the calls of one model turn, returns a decision for each; may be a coroutine function.
Approver = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class SolveRequest:
    """One solve: the problem (or the trajectory to resume) and how the caller wants it run.

    - ``problem``, ``context``: the text to solve, and text the agents read with it (earlier turns).
    - ``resume``: a trajectory id; the solve goes on from its last checkpoint instead (``problem`` unused).
    - ``session``: a tool session the caller keeps (chat: one kernel across turns); None: one of the
      solve's own, closed when it ends.
    - ``approver``: asked before each tool call (chat --approve).
    - ``dataset_id``, ``gold``: a benchmark sample's id and gold answer, stored with the trajectory.
    - ``trajectory``: the record to fill (its id printed before the solve starts); None: a new one.
    - ``blocking``: runs blocking tool work off the event loop (default: the loop's thread pool); a
      caller running many solves passes a bounded one.
    """

    problem: str = ""
    context: str = ""
    resume: str | None = None
    session: ToolSession | None = None
    approver: Approver | None = None
    dataset_id: str | None = None
    gold: str | None = None
    trajectory: Trajectory | None = None
    blocking: Blocking | None = None

    @classmethod
    def of(cls, request: SolveRequest | str, **fields: Any) -> SolveRequest:
        """``request`` itself, or a request for the problem text ``request``, with ``fields`` set on it
        (a field that does not exist is a ``TypeError``, as a wrong keyword argument is)."""
        base = request if isinstance(request, SolveRequest) else cls(problem=request)
        return replace(base, **fields) if fields else base


__all__ = ["Approver", "SolveRequest", "Streamed"]
