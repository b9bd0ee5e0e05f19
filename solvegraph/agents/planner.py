"""Planner: decomposes the problem and names the tools, so the solver starts with a route."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from ..types import Step
from ._context import planner_messages
from ._steps import recorded
from .state import SolveContext, SolveState, ask, emit, max_tokens_for


async def planner_node(state: SolveState, runtime: Runtime[SolveContext]) -> SolveState:
    ctx = runtime.context
    started = time.perf_counter()
    messages = planner_messages(ctx, state["problem"], state.get("context") or "")
    reply = await ask(runtime, messages, max_tokens=max_tokens_for(runtime, "planner"), role="planner")
    plan = reply.text.strip() or "1. Write and run Python code that computes the answer."
    step = Step(
        agent="planner", round=0, messages=messages, **recorded(reply),
        timings={"model_s": reply.duration_s, "total_s": time.perf_counter() - started},
    )  # fmt: skip
    emit("plan", "planner", 0, plan=plan)
    return {"plan": plan, "round": 1, "turn": 0, "steps": [step.to_dict()]}
