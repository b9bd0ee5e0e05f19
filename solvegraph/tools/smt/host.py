"""The ``smt`` tool: satisfiability with Z3, reading back a model or an unsat core.

Input is SMT-LIB2 text or a structured list of named assertions. Every named
assertion is tracked, so an unsat answer names the assertions that conflict: the
feedback a refiner needs to repair an over-constrained query (as in LINC and the
travel-planning repair loop).

The answer must be faithful to the script. Commands are interpreted one by one with
SMT-LIB's meaning (scopes, ``check-sat-assuming``, ``reset``); a command the tool does
not interpret is an error, never skipped. Tracking literals are fresh constants, a
``sat`` model is evaluated against every assertion before it is given, an unsat core
is re-solved on its own, and each call gets a fresh Z3 context.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import Field

from ...plugins import ToolOptions, ToolResult, ToolSession, hookimpl, tool
from ...sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from ...sandbox._worker import SandboxWorker
from ._script import Command, parse_script, structured_script
from .worker import run_script


class SmtOptions(ToolOptions):
    """``[tools.smt]``: how much a call may ask of the sandboxed Z3 process."""

    section = "smt"

    max_memory_mb: int = Field(
        16384, ge=16, description="The most memory one call may give Z3, in MB; a call asking for more is refused."
    )


# What runs in the sandboxed Z3 process: this function of ``worker``, and nothing else.
SOLVE = f"{run_script.__module__}:{run_script.__name__}"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "smtlib": {
            "type": "string",
            "description": "SMT-LIB2 text: declarations and assertions; use "
            "(assert (! F :named name)) to get names in unsat cores.",
        },
        "declarations": {
            "type": "string",
            "description": "SMT-LIB2 declarations for the named assertions, e.g. (declare-const x Int).",
        },
        "assertions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$"},
                    "formula": {"type": "string", "description": "An SMT-LIB2 term, e.g. (> x 5)."},
                },
                "required": ["name", "formula"],
                "additionalProperties": False,
            },
        },
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 10, "description": "Seconds."},
        "memory_mb": {"type": "integer", "minimum": 16, "default": 2048},
    },
    "oneOf": [{"required": ["smtlib"]}, {"required": ["assertions"]}],
    "additionalProperties": False,
}


PROMPT_HINT = (
    'smt: checks satisfiability with Z3. Pass {"declarations": "(declare-const x Int)...", "assertions": '
    '[{name, formula (SMT-LIB term)}]} or {"smtlib": full SMT-LIB2 text}. Returns sat with a model, or unsat with '
    "the names of the conflicting assertions."
)


def session_worker(session: ToolSession, memory_mb: int) -> SandboxWorker:
    """This session's Z3 worker, a sandboxed process replaced when it died or the memory cap changed.

    Z3's own memory cap can crash the process that hosts it, so Z3 never runs in ours. Its stack is large
    (``SOLVER_STACK_MB``): Z3 recurses over deep terms.
    """
    sandbox = resolve_sandbox(session.sandbox)
    return session.resource(
        f"z3_worker_{memory_mb}",
        lambda: SandboxWorker(sandbox, [SOLVE], Limits(memory_mb=memory_mb, stack_mb=SOLVER_STACK_MB)),
        lambda w: w.close(),
        alive=lambda w: w.alive,
    )


@tool(name="smt", timeout=None, input_schema=SCHEMA, prompt_hint=PROMPT_HINT, enforces_timeout=True)
def smt(
    session: ToolSession,
    smtlib: str | None = None,
    declarations: str = "",
    assertions: list[dict[str, str]] | None = None,
    timeout: float = 10.0,
    memory_mb: int = 2048,
) -> ToolResult:
    """Check satisfiability with Z3: sat with a model, unsat with the names of the conflicting assertions."""
    cap = session.tool_options(SmtOptions).max_memory_mb
    if memory_mb > cap:
        return ToolResult.failure(
            f"memory_mb {memory_mb} is over this run's limit of {cap} MB ([tools.smt] max_memory_mb)"
        )
    try:
        if smtlib is not None:
            commands = parse_script(smtlib)
            if not any(c.head.startswith("check-sat") for c in commands):
                commands.append(Command("(check-sat)", 0, 0))
        else:
            commands = structured_script(declarations, [(a["name"], a["formula"]) for a in assertions or []])
    except ValueError as exc:
        return ToolResult.failure(str(exc))
    kind, result = session_worker(session, memory_mb).call(
        SOLVE, [asdict(c) for c in commands], timeout, deadline_s=timeout
    )
    if kind == "error":
        return ToolResult.failure(result)
    if kind == "timeout":
        return ToolResult(
            False,
            "",
            f"timeout: Z3 did not decide within {timeout:g} s (the worker was stopped)",
            {"status": "timeout"},
        )
    if kind == "memory":
        return ToolResult(False, "", f"Z3 ran out of memory (limit {memory_mb} MB)", {"status": "memory"})
    if kind == "crash":
        return ToolResult(False, "", f"Z3 failed: {result}", {"status": "crash"})
    status = result["status"]
    # Earlier check-sats of a script (scopes, assumptions) come first, each with its answer.
    earlier = [f"check-sat {i + 1}: {c['status']}" for i, c in enumerate(result["checks"][:-1])]
    if status == "sat":
        lines = [f"{k} = {v}" for k, v in result["model"].items()]
        if result.get("model_note"):
            lines.append(f"note: {result['model_note']}")
        return ToolResult(True, "\n".join([*earlier, *lines, "sat"]), data=result)
    if status == "unsat":
        core = result["unsat_core"]
        detail = (
            f"conflicting assertions: {', '.join(core)}"
            if core
            else result.get("core_note", "no named assertions in the core")
        )
        return ToolResult(True, "\n".join([*earlier, detail, "unsat"]), data=result)
    if status == "timeout":
        return ToolResult(False, "\n".join(earlier), f"timeout: Z3 did not decide within {timeout:g} s", result)
    return ToolResult(True, "\n".join([*earlier, f"unknown ({result.get('reason', '')})", "unknown"]), data=result)


@hookimpl
def solvegraph_tools() -> list:
    return [smt]


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return SmtOptions
