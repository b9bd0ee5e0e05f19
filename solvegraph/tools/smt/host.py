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

from ...plugins import CertificateChecker, ToolOptions, ToolResult, ToolSession, Verifier, hookimpl, tool
from ...sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from ...sandbox._worker import SandboxWorker
from ...types import Certificate
from ._script import Command, parse_script, structured_script
from .certify import check_certificate, solver_versions
from .worker import run_script


class SmtOptions(ToolOptions):
    """``[tools.smt]``: how much a call may ask of the sandboxed Z3 process."""

    section = "smt"

    max_memory_mb: int = Field(
        16384, ge=16, description="The most memory one call may give Z3, in MB; a call asking for more is refused."
    )


# What runs in the sandboxed Z3 process: this function of ``worker``, and nothing else.
SOLVE = f"{run_script.__module__}:{run_script.__name__}"
# What runs in the fresh process that re-checks each sat or unsat answer (and in ``solvegraph verify``).
CHECK = f"{check_certificate.__module__}:{check_certificate.__name__}"
VERSIONS = f"{solver_versions.__module__}:{solver_versions.__name__}"

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
    if status in ("sat", "unsat"):
        _certify(session, result, timeout, memory_mb)
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


def _certify(session: ToolSession, result: dict[str, Any], timeout: float, memory_mb: int) -> None:
    """Turn the worker's basis into a certificate and re-check it in a fresh sandboxed process.

    The Z3 process that found the answer is not trusted with its own re-check: a new one, which shares
    nothing with it, runs the certificate's checker (Z3 and cvc5), within the call's own timeout (at least 5 s);
    a re-check that does not finish leaves the answer without a certificate. ``result`` gets ``certificate`` and
    ``recheck`` (its lines), or ``certificate_note`` saying why there is none.
    """
    basis = result.pop("basis", None)
    if not basis:
        result["certificate_note"] = "no certificate: the worker gave no basis for one"
        return
    if basis.get("unavailable"):
        result["certificate_note"] = f"no certificate: {basis['unavailable']}"
        return
    claim: dict[str, Any] = {"status": result["status"]}
    if result["status"] == "sat":
        claim["model"] = basis["model"]
    else:
        claim["core"] = basis["core"]
    certificate = Certificate(
        kind="smt",
        claim=claim,
        artifacts={"script.smt2": basis["script"]},
        provenance={"z3": basis.get("z3_version", ""), "timeout_s": timeout},
        tool="smt",
        verifier="smt-check",
    ).to_dict()
    worker = SandboxWorker(
        resolve_sandbox(session.sandbox), [CHECK, VERSIONS], Limits(memory_mb=memory_mb, stack_mb=SOLVER_STACK_MB)
    )
    try:
        kind, versions = worker.call(VERSIONS, deadline_s=30)
        if kind == "ok":
            certificate["provenance"]["cvc5"] = versions.get("cvc5", "")
        kind, lines = worker.call(CHECK, certificate, {}, deadline_s=max(5.0, timeout))
    finally:
        worker.close()
    if kind != "ok":
        result["certificate_note"] = f"no certificate: its re-check ended with {kind} {str(lines)[:200]}".strip()
        return
    certificate["checks"] = [f"{c['check']}: {c['outcome']}: {c['detail']}" for c in lines]
    result["certificate"] = certificate
    result["recheck"] = lines


def checked_answer(problem: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``smt-check``: tool-verified when the last smt answer (sat or unsat) was re-checked from its certificate.

    The re-check ran in a fresh process (see ``_certify``): Z3 must confirm the model or the core; cvc5,
    reading the same script, must not contradict it. When cvc5 agrees the answer is also cross-verified;
    when it cannot read the script (Z3-only syntax) or does not decide, a note says so.
    """
    mine = [r for r in results if r.get("name") == "smt"]
    if not mine:
        return None
    result = mine[-1].get("result") or {}
    data = result.get("data") or {}
    if not result.get("ok") or data.get("status") not in ("sat", "unsat"):
        return None
    lines, certificate = data.get("recheck"), data.get("certificate")
    if not lines or not certificate:
        return {"feedback": f"not tool-verified: {data.get('certificate_note', 'the answer has no certificate')}"}
    by_solver = {str(c.get("check", "")).split(":")[0]: c for c in lines}
    z3_line, cvc5_line = by_solver.get("z3") or {}, by_solver.get("cvc5") or {}
    if z3_line.get("outcome") == "failed":
        return {"accepted": False, "feedback": f"Z3's {data['status']} answer failed its re-check: {z3_line['detail']}"}
    if cvc5_line.get("outcome") == "failed":
        return {
            "accepted": False,
            "feedback": f"cvc5 disagrees with Z3's {data['status']} answer: {cvc5_line['detail']}. "
            "The answer is not trusted.",
        }
    if z3_line.get("outcome") != "passed":
        return {"feedback": f"not tool-verified: the re-check did not decide ({z3_line.get('detail', 'no z3 line')})"}
    accept: dict[str, Any] = {
        "accepted": True,
        "feedback": f"{data['status']} re-checked from its certificate in a fresh process: {z3_line['detail']}",
        "certificate": Certificate.from_dict(certificate),
    }
    if cvc5_line.get("outcome") == "passed":
        accept["cross_verified"] = ["cvc5"]
        accept["feedback"] += "; cvc5 agrees"
    else:
        accept["feedback"] += f"; note: no cross-check: {cvc5_line.get('detail', 'cvc5 did not run')}"
    return accept


@hookimpl
def solvegraph_tools() -> list:
    return [smt]


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [Verifier(name="smt-check", check=checked_answer)]


@hookimpl
def solvegraph_certificate_checkers() -> list[CertificateChecker]:
    return [CertificateChecker(kind="smt", target=CHECK)]


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return SmtOptions
