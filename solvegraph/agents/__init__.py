"""The four agents and the graph that connects them."""

from ._run import SolveGraph
from .answer import code_blocks, explicit_answer, normalize
from .graph import build_graph
from .state import Budget, Event, RunContext, SolveState

__all__ = [
    "Budget",
    "Event",
    "RunContext",
    "SolveGraph",
    "SolveState",
    "build_graph",
    "code_blocks",
    "explicit_answer",
    "normalize",
]
