"""The ``milp`` tool: mixed-integer linear models solved by SCIP through pyscipopt.

Two routes, one set of checks: the model is given in the declarative JSON format
(validated before anything is built), or as pyscipopt code run in the session's
kernel, whose ``model`` is written to a file with its claimed solution and re-checked
by a fresh sandboxed SCIP worker (nothing computed in the kernel counts as evidence). Either way the result
carries status, objective, values, gap and time, and the ``milp-check`` verifier
re-checks the solution independently. An infeasible model comes back with its
irreducible infeasible subsystem (SCIP's IIS), so the refiner knows which
constraints conflict.
"""

from __future__ import annotations

from typing import Any

from ....plugins import CertificateChecker, ToolOptions, ToolResult, ToolSession, Verifier, hookimpl, tool
from .._crosscheck import cross_check_worker, cross_checked
from .._results import (
    Recheck,
    SolverOptions,
    SolverWorker,
    code_mode,
    declarative_result,
    note_model_error,
    render_result,
    solution_verifier,
    solve_in_worker,
    target,
)
from . import certify, worker
from .kernel import EXPORT


class MilpOptions(SolverOptions):
    """``[tools.milp]``: the limits of the sandboxed SCIP process."""

    section = "milp"


# What runs in the sandboxed SCIP process: these functions of ``worker``, and nothing else.
WORKER = SolverWorker("SCIP", MilpOptions, (worker.solve_declarative, worker.solve_text, worker.recheck_claim))
# The independent routes (exact rationals, HiGHS) run in a fresh process of their own after a solve.
CROSS_CHECK = cross_check_worker(MilpOptions)

PROMPT_HINT = (
    'milp: solves a mixed-integer linear program with SCIP. Pass {"model": {sets: {"I": ["a", "b"], "T": 24}, '
    'parameters: {"cost": {"a": 3, "b": 5}}, variables: [{name, type (continuous|integer|binary|semicontinuous), '
    'lb, ub, index: ["I"]}], constraints: [{name, for: "i in I", expr: "sum(x[i,t] for t in T) <= cap[i]"} or '
    '{name, coeffs: {var: number}, sense (<=|>=|=), rhs}; only_if: ["z"] makes it an indicator], objective: '
    '{sense (minimize|maximize), expr: "sum(cost[i]*x[i,t] for i in I for t in T)"}}}; expressions may use '
    '+ - * /, **2, abs/min/max and ranges lo <= e <= hi; also sos and pwl lists. Or {"lp": LP text}, '
    '{"mps": MPS text}, or {"code": pyscipopt code that builds and optimizes a Model named `model`}. Name every '
    "constraint: an infeasible model reports the conflicting names."
)

MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "object", "description": "The declarative model: variables, constraints, objective."},
        "code": {"type": "string", "description": "pyscipopt code that builds and optimizes a Model named `model`."},
        "lp": {"type": "string", "description": "The model as CPLEX LP format text."},
        "mps": {"type": "string", "description": "The model as MPS format text."},
        "time_limit": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 60,
            "description": "Seconds; at the limit the best solution found is returned.",
        },
        "threads": {"type": "integer", "minimum": 1, "default": 1},
        "model_variable": {
            "type": "string",
            "default": "model",
            "description": "In code mode, the name of the pyscipopt Model variable.",
        },
    },
    "oneOf": [{"required": ["model"]}, {"required": ["code"]}, {"required": ["lp"]}, {"required": ["mps"]}],
    "additionalProperties": False,
}
MAX_TEXT_CHARS = 50_000_000  # LP/MPS text: a 100k-nonzero model is a few MB


@tool(name="milp", timeout=None, input_schema=MODEL_SCHEMA, prompt_hint=PROMPT_HINT, enforces_timeout=True)
def milp(
    session: ToolSession,
    model: dict[str, Any] | None = None,
    code: str | None = None,
    time_limit: float = 60.0,
    threads: int = 1,
    model_variable: str = "model",
    lp: str | None = None,
    mps: str | None = None,
) -> ToolResult:
    """Build and solve a mixed-integer linear program with SCIP; returns status, objective, values, gap and time."""
    return cross_checked(
        session, CROSS_CHECK, "milp", lambda: _solve(session, model, code, time_limit, threads, model_variable, lp, mps)
    )


def _solve(
    session: ToolSession,
    model: dict[str, Any] | None,
    code: str | None,
    time_limit: float,
    threads: int,
    model_variable: str,
    lp: str | None,
    mps: str | None,
) -> ToolResult:
    if lp is not None or mps is not None:
        return _text_mode("lp" if lp is not None else "mps", lp if lp is not None else mps or "", session,
                          time_limit, threads)  # fmt: skip
    if code is not None:
        return code_mode(
            session,
            code,
            EXPORT.format(var=model_variable),
            model_variable,
            "pyscipopt Model",
            kind="milp",
            time_limit=time_limit,
            recheck=Recheck(WORKER, worker.recheck_claim),
        )
    if not isinstance(model, dict):
        return ToolResult.failure("invalid model: (root): the model must be a JSON object")
    result = solve_in_worker(session, WORKER, worker.solve_declarative, model, time_limit=time_limit, threads=threads)
    if isinstance(result, ToolResult):
        return result
    return declarative_result(result, model)


def _text_mode(fmt: str, text: str, session: ToolSession, time_limit: float, threads: int) -> ToolResult:
    """LP or MPS text: SCIP reads it in the sandboxed worker, and the model it read is handed back for the re-check."""
    if len(text) > MAX_TEXT_CHARS:
        return ToolResult.failure(f"invalid model: the {fmt.upper()} text is over {MAX_TEXT_CHARS:,} characters")
    if not text.strip():
        return ToolResult.failure(f"invalid model: the {fmt.upper()} text is empty")
    result = solve_in_worker(session, WORKER, worker.solve_text, text, fmt, time_limit=time_limit, threads=threads)
    if isinstance(result, ToolResult):
        return result
    note_model_error(result, "milp")
    return render_result(result)


@hookimpl
def solvegraph_tools() -> list:
    return [milp]


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return MilpOptions


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [solution_verifier("milp")]


@hookimpl
def solvegraph_certificate_checkers() -> list[CertificateChecker]:
    """``milp`` certificates are re-checked by ``certify.check`` in a fresh sandboxed SCIP process."""
    return [CertificateChecker("milp", target(certify.check))]


@hookimpl
def solvegraph_prompt_fragments() -> dict[str, str]:
    return {
        "planner": "For optimization word problems: identify the decision variables, classify the objective "
        "and constraints, then solve with the milp tool (or cp for scheduling/all-different); never "
        "trust an optimum you did not get from a solver."
    }
