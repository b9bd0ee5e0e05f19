"""The LangGraph wiring: planner → solver → verifier → (refiner → solver)* → answer."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph

from ..memory import may_teach
from .planner import planner_node
from .refiner import refiner_node
from .solver import solver_node
from .state import RunContext, SolveState
from .verifier import verifier_node


def route_after_verifier(ctx: RunContext, state: SolveState) -> str:
    if state.get("verdict", {}).get("accepted"):
        return "finish"
    if state.get("round", 1) >= ctx.budget.max_rounds:
        return "finish"
    if state.get("tool_calls", 0) >= ctx.budget.max_tool_calls:
        return "finish"
    return "refiner"


def finish_node(ctx: RunContext, state: SolveState) -> SolveState:
    verdict = state.get("verdict", {})
    attempt = state.get("attempt", {})
    solved = bool(verdict.get("accepted")) and attempt.get("answer") is not None
    if solved:
        reason = "accepted"
    elif state.get("tool_calls", 0) >= ctx.budget.max_tool_calls:
        reason = f"tool-call budget of {ctx.budget.max_tool_calls} used up"
    else:
        reason = f"round budget of {ctx.budget.max_rounds} used up"
    t = ctx.trajectory
    t.answer, t.solved = attempt.get("answer"), solved
    t.trust = str(verdict.get("trust") or "unchecked") if solved else ""
    t.reusable = may_teach(t.trust, ctx.budget.reuse_model_accepted)
    t.status = "solved" if solved else "unsolved"
    t.stop_reason = reason
    t.finished_at = time.time()
    ctx.emit(
        "answer" if solved else "gave_up", "graph", state.get("round", 1), answer=t.answer, reason=reason, trust=t.trust
    )
    return {"answer": t.answer, "solved": solved, "stop_reason": reason}


def build_graph(ctx: RunContext) -> Any:
    """Compile the four-agent graph bound to one run's context."""
    graph = StateGraph(SolveState)
    graph.add_node("planner", partial(planner_node, ctx))
    graph.add_node("solver", partial(solver_node, ctx))
    graph.add_node("verifier", partial(verifier_node, ctx))
    graph.add_node("refiner", partial(refiner_node, ctx))
    graph.add_node("finish", partial(finish_node, ctx))
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "solver")
    graph.add_edge("solver", "verifier")
    graph.add_conditional_edges(
        "verifier", partial(route_after_verifier, ctx), {"finish": "finish", "refiner": "refiner"}
    )
    graph.add_edge("refiner", "solver")
    graph.add_edge("finish", END)
    return graph.compile()
