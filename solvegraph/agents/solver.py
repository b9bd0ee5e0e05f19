"""Solver: writes tool calls or code, runs them, and reads back an answer.

It works with models that speak OpenAI tool calls and with models that only
write text: fenced ```python blocks go to the ``python`` tool and fenced ```tool
blocks to the named tool. A reply with neither is not an error; the verifier
turns it into feedback.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ..types import Step, ToolResult
from ._prompts import render
from ._steps import recorded
from .answer import answer_from_output, code_blocks, explicit_answer, normalize
from .state import Attempt, SolveContext, SolveState, ask, emit, max_tokens_for


def _context_block(state: SolveState) -> str:
    return f"\n{state['context']}\n" if state.get("context") else ""


def _opening(ctx: SolveContext, state: SolveState) -> list[dict[str, Any]]:
    guidance = state.get("guidance", "")
    system = render("solver", tools=ctx.tool_list(), fragments=ctx.fragments("solver"))
    user = render(
        "solver_user",
        problem=state["problem"],
        context=_context_block(state),
        plan=state.get("plan", ""),
        guidance=f"\nInstructions after the previous attempt was rejected:\n{guidance}\n" if guidance else "",
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def approve_calls(calls: list[tuple[str, str, Any]]) -> list[tuple[str, str, Any, str | None]]:
    """Ask the person, through ``interrupt()``, about every call of this turn before any runs.

    One interrupt per turn, before any side effect: when the node resumes it replays the model's reply
    (a checkpointed task) and this question's answer, and only then runs the tools, once. The answer is
    a list with one decision per call: ``{"action": "approve"}``, ``{"action": "edit", "arguments": {...}}``
    or ``{"action": "reject", "reason": "..."}``. Returns (id, name, arguments, rejection reason or None).
    """
    asked = [{"id": cid, "tool": name, "arguments": args} for cid, name, args in calls]
    answer = interrupt({"kind": "approve_tool_calls", "calls": asked})
    decisions = answer if isinstance(answer, list) else [answer] * len(calls)
    out: list[tuple[str, str, Any, str | None]] = []
    for (cid, name, args), decision in zip(calls, [*decisions, *[None] * len(calls)], strict=False):
        decision = decision if isinstance(decision, dict) else {"action": "reject", "reason": "no answer"}
        action = decision.get("action")
        if action == "edit" and isinstance(decision.get("arguments"), dict):
            out.append((cid, name, decision["arguments"], None))
        elif action == "approve":
            out.append((cid, name, args, None))
        else:
            out.append((cid, name, args, str(decision.get("reason") or "no reason given")))
    return out


async def solver_node(state: SolveState, runtime: Runtime[SolveContext]) -> SolveState:
    """One model turn of the solver and the tool calls it asked for.

    The graph loops back here (``route_after_solver``) while the model keeps calling tools and turns
    remain, so an approval interrupt or a crash only ever replays one turn.
    """
    ctx = runtime.context
    round_ = state.get("round", 1)
    turn = state.get("turn", 0)
    used = state.get("tool_calls", 0)
    fresh: Attempt = {"reply": "", "work": [], "outputs": [], "tool_errors": [], "results": [], "last_ok": False}
    messages = [dict(m) for m in state.get("messages", [])] if turn else _opening(ctx, state)
    attempt = copy.deepcopy(state.get("attempt", fresh)) if turn else fresh
    schemas = [t.openai_schema() for t in ctx.tools.values()] or None

    started = time.perf_counter()
    reply = await ask(runtime, messages, tools=schemas, max_tokens=max_tokens_for(runtime, "solver"))
    step = Step(agent="solver", round=round_, messages=list(messages), **recorded(reply))
    attempt["reply"] = reply.text
    tool_time = 0.0

    # Calls as the client read them (OpenAI tool calls, or a dialect in the content), and fenced Python.
    calls: list[tuple[str, str, Any]] = [(c.id, c.name, c.arguments) for c in reply.tool_calls]
    native = reply.tool_format == "native"
    if not native:
        blocks = code_blocks(reply.text)
        if blocks:
            calls.insert(0, (f"code_{_stable_id(reply.text)}", "python", {"code": "\n\n".join(blocks)}))
    decided = approve_calls(calls) if ctx.approve and calls else [(*c, None) for c in calls]
    edited = {cid for (cid, _, before), (_, _, after, _) in zip(calls, decided, strict=True) if before != after}
    # What could not be read (a malformed or cut-off call, a reply cut off): shown to the model, never run.
    unreadable = list(reply.problems)

    thought = {"reasoning_content": reply.reasoning} if reply.reasoning else {}  # the client decides if it goes back
    if native:
        messages.append(
            {
                "role": "assistant",
                "content": reply.content or None,
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": _json(args)}}
                    for cid, name, args, _ in decided
                ],
                **thought,
            }
        )
    else:
        messages.append({"role": "assistant", "content": reply.content, **thought})

    rendered: list[str] = []
    for cid, name, args, rejected in decided:
        emit("code", "solver", round_, tool=name, arguments=args)  # before it runs: a long cell is seen running
        if rejected is not None:
            result = ToolResult.failure(f"the user rejected this call: {rejected}", rejected=True)
        elif used >= ctx.budget.max_tool_calls:
            result = ToolResult.failure(f"tool-call budget of {ctx.budget.max_tool_calls} is used up")
        else:
            used += 1
            result = await _run_tool(ctx, name, args)
        tool_time += result.duration_s
        step.tool_calls.append({"id": cid, "name": name, "arguments": args})
        step.tool_results.append({"id": cid, "name": name, **_as_recorded(result)})
        work = args.get("code") if name == "python" and isinstance(args, dict) else f"{name}({_json(args)})"
        attempt["work"].append(str(work))
        attempt["outputs"].append(result.render())
        attempt["results"].append({"name": name, "arguments": args, "result": result.to_dict()})
        attempt["last_ok"] = result.ok
        if not result.ok:
            attempt["tool_errors"].append(f"{name}: {result.error}")
        emit("tool_output", "solver", round_, tool=name, ok=result.ok, output=result.output, error=result.error)
        seen = result.render()
        if cid in edited:  # the model must know that what ran is not what it wrote
            seen = f"[the user changed this call's arguments to {_json(args)}]\n{seen}"
        if native:
            messages.append({"role": "tool", "tool_call_id": cid, "content": seen})
        else:
            rendered.append(seen)
    for problem in unreadable:  # recorded in the step's reply_meta; the model sees it as a failed call
        attempt["work"].append(f"(an unreadable reply: {problem})")
        attempt["outputs"].append(f"ERROR: {problem}")
        attempt["tool_errors"].append(problem)
        attempt["last_ok"] = False
        emit("tool_output", "solver", round_, tool="(unreadable reply)", ok=False, output="", error=problem)
        rendered.append(f"ERROR: {problem}")
    if rendered:
        messages.append({"role": "user", "content": render("continue", output="\n".join(rendered))})

    step.timings = {"model_s": reply.duration_s, "tool_s": tool_time, "total_s": time.perf_counter() - started}
    update: SolveState = {"tool_calls": used, "steps": [step.to_dict()]}
    if (calls or unreadable) and turn + 1 < ctx.budget.max_solver_turns:
        return {**update, "turn": turn + 1, "messages": messages, "attempt": attempt}

    answer = explicit_answer(attempt["reply"])
    if answer is None and attempt["outputs"] and attempt["last_ok"]:
        answer = answer_from_output(attempt["outputs"][-1])
    attempt["answer"] = normalize(answer)
    if attempt["answer"] is not None:
        emit("answer", "solver", round_, answer=attempt["answer"])
    return {**update, "turn": 0, "messages": [], "attempt": attempt}


def _stable_id(text: str, index: int = 0) -> str:
    """An id for a call read from text: the same reply gives the same id when a turn is replayed."""
    return hashlib.sha256(f"{index}:{text}".encode()).hexdigest()[:6]


async def _run_tool(ctx: SolveContext, name: str, args: Any) -> ToolResult:
    """Run the call: a tool with an asyncio implementation (the python kernel) on the loop, any other
    in ``ctx.blocking`` (a thread pool), so no node blocks the loop."""
    if not name:
        return ToolResult.failure(str(args))
    tool = ctx.tools.get(name)
    if tool is None:
        return ToolResult.failure(f"unknown tool '{name}'; available: {', '.join(sorted(ctx.tools)) or 'none'}")
    if isinstance(args, dict) and "__unparsed__" in args:
        return ToolResult.failure(f"tool arguments are not valid JSON: {args['__unparsed__']!r}")
    return await tool.arun(args, ctx.session, ctx.blocking)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _as_recorded(result: ToolResult) -> dict[str, Any]:
    """A tool result as its step records it: without the certificate's material (the model file a solver
    read), which the verifier takes from the attempt and the store keeps once, in its certificates table."""
    recorded = result.to_dict()
    if isinstance(recorded.get("data"), dict) and "certificate" in recorded["data"]:
        recorded["data"] = {k: v for k, v in recorded["data"].items() if k != "certificate"}
    return recorded
