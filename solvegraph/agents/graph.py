"""The LangGraph wiring: planner → solver (⟲ per model turn) → verifier → (refiner → solver)* → finish.

The graph is compiled once per checkpointer and reused by every solve: what differs between solves (the
model, the tools, their session, the budget) is the run's :class:`SolveContext`, passed as LangGraph's
``context`` and read by nodes and routes from ``runtime.context``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from ..tracing import traced
from ..types import may_teach
from ._compiled import compiled_graph
from .planner import planner_node
from .refiner import refiner_node
from .solver import solver_node
from .state import SolveContext, SolveState, emit
from .verifier import verifier_node

# Routes read only the state: a checkpointed run that is resumed (or whose state is updated) takes the same
# edge it would have taken, whatever context it is resumed with. The budget decision is the verifier's.


def route_after_solver(state: SolveState) -> str:
    """Another model turn while the solver is mid-conversation (it called tools, turns remain); else verify."""
    return "solver" if state.get("turn", 0) > 0 else "verifier"


def route_after_verifier(state: SolveState) -> str:
    return "refiner" if state.get("route") == "refiner" else "finish"


async def finish_node(state: SolveState, runtime: Runtime[SolveContext]) -> SolveState:
    budget = runtime.context.budget
    verdict = state.get("verdict", {})
    attempt = state.get("attempt", {})
    solved = bool(verdict.get("accepted")) and attempt.get("answer") is not None
    if solved:
        reason = "accepted"
    elif state.get("tool_calls", 0) >= budget.max_tool_calls:
        reason = f"tool-call budget of {budget.max_tool_calls} used up"
    else:
        reason = f"round budget of {budget.max_rounds} used up"
    trust = str(verdict.get("trust") or "unchecked") if solved else ""
    answer = attempt.get("answer")
    emit("answer" if solved else "gave_up", "graph", state.get("round", 1), answer=answer, reason=reason, trust=trust)
    return {
        "answer": answer,
        "solved": solved,
        "trust": trust,
        "reusable": may_teach(trust, budget.reuse_model_accepted),
        "stop_reason": reason,
    }


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the four-agent graph (with ``checkpointer``, if given, for resume and interrupts)."""
    graph = StateGraph(SolveState, context_schema=SolveContext)
    nodes = {
        "planner": planner_node,
        "solver": solver_node,
        "verifier": verifier_node,
        "refiner": refiner_node,
        "finish": finish_node,
    }
    for name, node in nodes.items():
        graph.add_node(name, traced(f"solvegraph.node {name}")(node))  # a span per node run when tracing is on
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "solver")
    graph.add_conditional_edges("solver", route_after_solver, ["solver", "verifier"])
    graph.add_conditional_edges("verifier", route_after_verifier, {"finish": "finish", "refiner": "refiner"})
    graph.add_edge("refiner", "solver")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


__all__ = ["build_graph", "compiled_graph", "finish_node", "route_after_solver", "route_after_verifier"]
