"""Solver: writes tool calls or code, runs them, and reads back an answer.

It works with models that speak OpenAI tool calls and with models that only
write text: fenced ```python blocks go to the ``python`` tool and fenced ```tool
blocks to the named tool. A reply with neither is not an error; the verifier
turns it into feedback.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..memory import Step
from ..plugins import ToolResult
from ._prompts import render
from .answer import answer_from_output, code_blocks, explicit_answer, normalize, text_tool_calls
from .state import Attempt, RunContext, SolveState


def _context_block(state: SolveState) -> str:
    return f"\n{state['context']}\n" if state.get("context") else ""


def solver_node(ctx: RunContext, state: SolveState) -> SolveState:
    round_ = state.get("round", 1)
    used = state.get("tool_calls", 0)
    guidance = state.get("guidance", "")
    system = render("solver", tools=ctx.tool_list(), fragments=ctx.fragments("solver"))
    user = render(
        "solver_user",
        problem=state["problem"],
        context=_context_block(state),
        plan=state.get("plan", ""),
        guidance=f"\nInstructions after the previous attempt was rejected:\n{guidance}\n" if guidance else "",
    )
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    schemas = [t.openai_schema() for t in ctx.tools.values()] or None
    attempt: Attempt = {"reply": "", "work": [], "outputs": [], "tool_errors": [], "results": [], "last_ok": False}

    for _turn in range(ctx.budget.max_solver_turns):
        started = time.perf_counter()
        reply = ctx.client.chat(messages, tools=schemas)
        step = Step(agent="solver", round=round_, messages=list(messages), reply=reply.text, usage=reply.usage)
        attempt["reply"] = reply.text
        tool_time = 0.0

        calls: list[tuple[str, str, Any]] = [(c.id, c.name, c.arguments) for c in reply.tool_calls]
        native = bool(calls)
        if not native:
            blocks = code_blocks(reply.text)
            if blocks:
                calls.append((f"code_{uuid.uuid4().hex[:6]}", "python", {"code": "\n\n".join(blocks)}))
            calls += [(f"text_{uuid.uuid4().hex[:6]}", n, a) for n, a in text_tool_calls(reply.text)]

        if native:
            messages.append(
                {
                    "role": "assistant",
                    "content": reply.text or None,
                    "tool_calls": [
                        {"id": cid, "type": "function", "function": {"name": name, "arguments": _json(args)}}
                        for cid, name, args in calls
                    ],
                }
            )
        else:
            messages.append({"role": "assistant", "content": reply.text})

        rendered: list[str] = []
        for cid, name, args in calls:
            if used >= ctx.budget.max_tool_calls:
                result = ToolResult.failure(f"tool-call budget of {ctx.budget.max_tool_calls} is used up")
            else:
                used += 1
                result = _run_tool(ctx, name, args)
            tool_time += result.duration_s
            step.tool_calls.append({"id": cid, "name": name, "arguments": args})
            step.tool_results.append({"id": cid, "name": name, **result.to_dict()})
            work = args.get("code") if name == "python" and isinstance(args, dict) else f"{name}({_json(args)})"
            attempt["work"].append(str(work))
            attempt["outputs"].append(result.render())
            attempt["results"].append({"name": name, "arguments": args, "result": result.to_dict()})
            attempt["last_ok"] = result.ok
            if not result.ok:
                attempt["tool_errors"].append(f"{name}: {result.error}")
            ctx.emit("code", "solver", round_, tool=name, arguments=args)
            ctx.emit("tool_output", "solver", round_, tool=name, ok=result.ok, output=result.output, error=result.error)
            if native:
                messages.append({"role": "tool", "tool_call_id": cid, "content": result.render()})
            else:
                rendered.append(result.render())
        if rendered:
            messages.append({"role": "user", "content": render("continue", output="\n".join(rendered))})

        step.timings = {
            "model_s": reply.duration_s,
            "tool_s": tool_time,
            "total_s": time.perf_counter() - started,
        }
        ctx.record(step)
        if not calls:
            break

    answer = explicit_answer(attempt["reply"])
    if answer is None and attempt["outputs"] and attempt["last_ok"]:
        answer = answer_from_output(attempt["outputs"][-1])
    attempt["answer"] = normalize(answer)
    if attempt["answer"] is not None:
        ctx.emit("answer", "solver", round_, answer=attempt["answer"])
    return {"attempt": attempt, "tool_calls": used}


def _run_tool(ctx: RunContext, name: str, args: Any) -> ToolResult:
    if not name:
        return ToolResult.failure(str(args))
    tool = ctx.tools.get(name)
    if tool is None:
        return ToolResult.failure(f"unknown tool '{name}'; available: {', '.join(sorted(ctx.tools)) or 'none'}")
    if isinstance(args, dict) and "__unparsed__" in args:
        return ToolResult.failure(f"tool arguments are not valid JSON: {args['__unparsed__']!r}")
    return tool.run(args, ctx.session)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
