"""Refiner: turns the verifier's feedback into instructions for the solver's next round."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from ..types import Step
from ._prompts import render
from ._steps import recorded
from .state import SolveContext, SolveState, ask, emit, max_tokens_for


async def refiner_node(state: SolveState, runtime: Runtime[SolveContext]) -> SolveState:
    ctx = runtime.context
    round_ = state.get("round", 1)
    attempt = state.get("attempt", {})
    feedback = state.get("verdict", {}).get("feedback", "")
    started = time.perf_counter()
    messages = [
        {"role": "system", "content": render("refiner", fragments=ctx.fragments("refiner"))},
        {
            "role": "user",
            "content": render(
                "refiner_user",
                problem=state["problem"],
                work="\n---\n".join(attempt.get("work", [])[-3:]) or "(no code)",
                outputs="\n---\n".join(attempt.get("outputs", [])[-3:]) or "(none)",
                answer=str(attempt.get("answer")),
                feedback=feedback,
            ),
        },
    ]
    reply = await ask(runtime, messages, max_tokens=max_tokens_for(runtime, "refiner"), role="refiner")
    # The verifier's own feedback always travels with the refiner's advice, so a
    # weak refiner cannot lose the concrete error message.
    guidance = f"Verifier feedback: {feedback}\n{reply.text.strip()}".strip()
    step = Step(
        agent="refiner", round=round_, messages=messages, **recorded(reply),
        timings={"model_s": reply.duration_s, "total_s": time.perf_counter() - started},
    )  # fmt: skip
    emit("guidance", "refiner", round_, guidance=guidance)
    return {"guidance": guidance, "round": round_ + 1, "turn": 0, "steps": [step.to_dict()]}
