"""The four agents and the graph that connects them."""

from ._prompts import render as render_prompt
from ._run import SolveRunner
from .answer import code_blocks, explicit_answer, normalize
from .graph import build_graph
from .state import Budget, Event, RunContext, SolveState

__all__ = [
    "Budget",
    "Event",
    "RunContext",
    "SolveGraph",
    "SolveRunner",
    "SolveState",
    "build_graph",
    "code_blocks",
    "explicit_answer",
    "normalize",
    "render_prompt",
]

# The runner was called SolveGraph; the name misled (the graph is compiled inside it). Kept for callers.
SolveGraph = SolveRunner
