"""The four agents, the graph that connects them, and the runner's assembly from settings.

Names are imported on first use (PEP 562): the graph's modules load LangGraph, which a command that
only lists plugins or prints its help never needs, and :mod:`._assemble` is reached through this package.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: a constant of this name is read as true by type checkers, and costs nothing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..types import Event
    from ._assemble import assemble, close_runner, plugins_for, resolve
    from ._prompts import render as render_prompt
    from ._request import Approver, SolveRequest, Streamed
    from ._run import SolveRunner
    from ._run import SolveRunner as SolveGraph
    from ._steps import recorded
    from .answer import code_blocks, explicit_answer, normalize
    from .graph import build_graph, compiled_graph, route_after_solver, route_after_verifier
    from .state import Budget, SolveContext, SolveState
    from .verifier import next_after_verdict

# Public name -> (module, name there), imported the first time the name is used.
_LAZY = {
    "Event": ("..types", "Event"),
    "assemble": ("._assemble", "assemble"),
    "close_runner": ("._assemble", "close_runner"),
    "plugins_for": ("._assemble", "plugins_for"),
    "resolve": ("._assemble", "resolve"),
    "render_prompt": ("._prompts", "render"),
    "Approver": ("._request", "Approver"),
    "SolveRequest": ("._request", "SolveRequest"),
    "SolveRunner": ("._run", "SolveRunner"),
    # The runner was called SolveGraph; the name misled (the graph is compiled inside it). Kept for callers.
    "SolveGraph": ("._run", "SolveRunner"),
    "Streamed": ("._request", "Streamed"),
    "code_blocks": (".answer", "code_blocks"),
    "explicit_answer": (".answer", "explicit_answer"),
    "normalize": (".answer", "normalize"),
    "build_graph": (".graph", "build_graph"),
    "compiled_graph": (".graph", "compiled_graph"),
    "route_after_solver": (".graph", "route_after_solver"),
    "route_after_verifier": (".graph", "route_after_verifier"),
    "Budget": (".state", "Budget"),
    "SolveContext": (".state", "SolveContext"),
    "SolveState": (".state", "SolveState"),
    "recorded": ("._steps", "recorded"),
    "next_after_verdict": (".verifier", "next_after_verdict"),
}

__all__ = [
    "Approver", "Budget", "Event", "SolveContext", "SolveGraph", "SolveRequest", "SolveRunner", "SolveState",
    "Streamed", "assemble", "build_graph", "close_runner", "code_blocks", "compiled_graph", "explicit_answer",
    "next_after_verdict", "normalize", "plugins_for", "recorded", "render_prompt", "resolve", "route_after_solver",
    "route_after_verifier",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'solvegraph.agents' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(found[0], __name__), found[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
