"""The four agents and the graph that connects them."""

from ..types import Event
from ._prompts import render as render_prompt
from ._run import Approver, SolveRunner, Streamed
from .answer import code_blocks, explicit_answer, normalize
from .graph import build_graph, compiled_graph, route_after_solver, route_after_verifier
from .state import Budget, SolveContext, SolveState, recorded
from .verifier import next_after_verdict

__all__ = [
    "Approver",
    "Budget",
    "Event",
    "SolveContext",
    "SolveGraph",
    "SolveRunner",
    "SolveState",
    "Streamed",
    "build_graph",
    "code_blocks",
    "compiled_graph",
    "explicit_answer",
    "next_after_verdict",
    "normalize",
    "recorded",
    "render_prompt",
    "route_after_solver",
    "route_after_verifier",
]

# The runner was called SolveGraph; the name misled (the graph is compiled inside it). Kept for callers.
SolveGraph = SolveRunner
