"""The ``smt`` tool: satisfiability with Z3, reading back a model or an unsat core.

Input is SMT-LIB2 text or a structured list of named assertions. Every named
assertion is tracked, so an unsat answer names the assertions that conflict: the
feedback a refiner needs to repair an over-constrained query (as in LINC and the
travel-planning repair loop).
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..plugins import ToolResult, ToolSession, hookimpl, tool
from ..sandbox import Limits, resolve_sandbox
from ..sandbox._worker import SandboxWorker

SOLVE = "solvegraph.tools.smt:solve_tracked"
_LINE = re.compile(r"line (\d+) column (\d+)")

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


def sexprs(text: str) -> list[str]:
    """Top-level s-expressions of SMT-LIB text (comments and strings respected)."""
    out, depth, start, i, n = [], 0, -1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == "|":
            end = text.find("|", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(text[start : i + 1])
            elif depth < 0:
                line = text.count("\n", 0, i) + 1
                raise ValueError(f"SMT-LIB error at line {line}: unbalanced parentheses: an extra ')'")
        i += 1
    if depth > 0:
        line = text.count("\n", 0, start) + 1
        raise ValueError(
            f"SMT-LIB error at line {line}: unbalanced parentheses: the expression starting there is never closed"
        )
    return out


_NAMED = re.compile(r"^\(\s*!\s*(.*)\s:named\s+([^\s()]+)\s*\)$", re.S)


def split_script(text: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Declarations, named assertions (name, formula), and unnamed assertions of an SMT-LIB script."""
    declarations, named, hard = [], [], []
    for expr in sexprs(text):
        head = expr[1:].lstrip().split(None, 1)[0].rstrip(")") if len(expr) > 2 else ""
        if head == "assert":
            body = expr[1:-1].strip()[len("assert") :].strip()
            m = _NAMED.match(body)
            if m:
                named.append((m.group(2), m.group(1).strip()))
            else:
                hard.append(body)
        elif head in ("check-sat", "get-model", "get-unsat-core", "exit", "get-value", "check-sat-assuming"):
            continue
        else:
            declarations.append(expr)
    return "\n".join(declarations), named, hard


def solve_tracked(
    declarations: str, named: list[tuple[str, str]], hard: list[str], timeout_s: float = 10.0
) -> dict[str, Any]:
    """sat/unsat/unknown with a model or the core of named assertions; ValueError carries Z3's error text.

    Runs in the calling process: the tool calls it inside a sandboxed, memory-capped worker.
    """
    import z3

    script = declarations + "\n" + "".join(f"(assert {f})\n" for f in [*hard, *(f for _, f in named)])
    try:
        formulas = list(z3.parse_smt2_string(script))
    except z3.Z3Exception as exc:
        raise ValueError(_z3_message(exc, script, declarations, hard, named)) from None
    # Plain solve first: tracking literals (assumptions) can make Z3 far slower (25x on a
    # pigeonhole instance here), so they are only added to explain an unsat answer.
    started = time.perf_counter()
    solver = z3.Solver()
    solver.set("timeout", int(timeout_s * 1000))
    solver.add(formulas)
    result = solver.check()
    out: dict[str, Any] = {"status": str(result), "solve_time": time.perf_counter() - started}
    names = [name for name, _ in named]
    if result == z3.sat:
        model = solver.model()
        out["model"] = {d.name(): str(model[d]) for d in sorted(model.decls(), key=lambda d: d.name())}
    elif result == z3.unsat:
        out["unsat_core"] = []
        remaining = timeout_s - (time.perf_counter() - started)
        if names and remaining > 0:
            tracker = z3.Solver()
            tracker.set("timeout", max(1, int(remaining * 1000)))
            tracker.add(formulas[: len(hard)])
            for f, name in zip(formulas[len(hard) :], names, strict=True):
                tracker.assert_and_track(f, z3.Bool(name))
            if tracker.check() == z3.unsat:
                out["unsat_core"] = sorted(str(c) for c in tracker.unsat_core())
            else:
                out["core_note"] = "no core: extracting it did not finish within the time limit"
    else:
        reason = solver.reason_unknown()
        out["reason"] = reason
        if "timeout" in reason or "canceled" in reason:
            out["status"] = "timeout"
    return out


def _z3_message(exc: Exception, script: str, declarations: str, hard: list[str], named: list[tuple[str, str]]) -> str:
    """Z3's error text, with the line number and, for a structured assertion, its name."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    text = " ".join(text.replace('(error "', "").replace('")', "").split())
    m = _LINE.search(text)
    if not m:
        return f"SMT-LIB error: {text}"
    line = int(m.group(1))
    first_assert = declarations.count("\n") + 2
    index = line - first_assert - len(hard)
    if 0 <= index < len(named):
        return f"SMT-LIB error in assertion '{named[index][0]}': {text}"
    return f"SMT-LIB error at line {line}, column {m.group(2)}: {text}"


PROMPT_HINT = (
    'smt: checks satisfiability with Z3. Pass {"declarations": "(declare-const x Int)...", "assertions": '
    '[{name, formula (SMT-LIB term)}]} or {"smtlib": full SMT-LIB2 text}. Returns sat with a model, or unsat with '
    "the names of the conflicting assertions."
)


def session_worker(session: ToolSession, memory_mb: int) -> SandboxWorker:
    """This session's Z3 worker, a sandboxed process replaced when it died or the memory cap changed.

    Z3's own memory cap can crash the process that hosts it, so Z3 never runs in ours.
    """
    sandbox = resolve_sandbox(str(session.options.get("sandbox", "auto")))
    return session.resource(  # type: ignore[no-any-return]
        f"z3_worker_{memory_mb}",
        lambda: SandboxWorker(sandbox, [SOLVE], Limits(memory_mb=memory_mb)),
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
    try:
        if smtlib is not None:
            declarations, named, hard = split_script(smtlib)
        else:
            named, hard = [(a["name"], a["formula"]) for a in assertions or []], []
    except ValueError as exc:
        return ToolResult.failure(str(exc))
    kind, result = session_worker(session, memory_mb).call(
        SOLVE, declarations, named, hard, timeout, deadline_s=timeout
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
    if status == "sat":
        lines = [f"{k} = {v}" for k, v in result["model"].items()]
        return ToolResult(True, "\n".join([*lines, "sat"]), data=result)
    if status == "unsat":
        core = result["unsat_core"]
        detail = (
            f"conflicting assertions: {', '.join(core)}"
            if core
            else result.get("core_note", "no named assertions in the core")
        )
        return ToolResult(True, f"{detail}\nunsat", data=result)
    if status == "timeout":
        return ToolResult(False, "", f"timeout: Z3 did not decide within {timeout:g} s", result)
    return ToolResult(True, f"unknown ({result.get('reason', '')})\nunknown", data=result)


@hookimpl
def solvegraph_tools() -> list:
    return [smt]
