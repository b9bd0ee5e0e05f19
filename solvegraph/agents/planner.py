"""Planner: decomposes the problem and names the tools, so the solver starts with a route."""

from __future__ import annotations

import time

from ..memory import Step
from ._prompts import render
from .state import RunContext, SolveState


def planner_node(ctx: RunContext, state: SolveState) -> SolveState:
    started = time.perf_counter()
    system = render("planner", tools=ctx.tool_list(), fragments=ctx.fragments("planner"))
    user = state["problem"] + (f"\n\n{state['context']}" if state.get("context") else "")
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    reply = ctx.client.chat(messages, max_tokens=400)
    plan = reply.text.strip() or "1. Write and run Python code that computes the answer."
    ctx.record(
        Step(
            agent="planner", round=0, messages=messages, reply=reply.text, usage=reply.usage,
            timings={"model_s": reply.duration_s, "total_s": time.perf_counter() - started},
        )
    )  # fmt: skip
    ctx.emit("plan", "planner", 0, plan=plan)
    return {"plan": plan, "round": 1}
