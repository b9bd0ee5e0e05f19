"""The ``cp`` tool: constraint programs solved by OR-Tools CP-SAT.

Integer and boolean variables, linear constraints, all-different, and fixed-size
intervals with no-overlap for scheduling. An infeasible model is solved again with
one assumption literal per named linear constraint, and CP-SAT's
``sufficient_assumptions_for_infeasibility`` names the conflicting ones.
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
    solution_verifier,
    solve_in_worker,
    target,
)
from . import certify, worker
from .kernel import EXPORT


class CpOptions(SolverOptions):
    """``[tools.cp]``: the limits of the sandboxed CP-SAT process."""

    section = "cp"


# What runs in the sandboxed CP-SAT process: these functions of ``worker``, and nothing else.
WORKER = SolverWorker("CP-SAT", CpOptions, (worker.solve_declarative, worker.recheck_claim))
# The independent routes (exact rationals, SCIP on a pure-integer linear model) run in a fresh process after a solve.
CROSS_CHECK = cross_check_worker(CpOptions)

PROMPT_HINT = (
    "cp: solves a constraint program with OR-Tools CP-SAT (integer/boolean variables with finite lb and ub, integer "
    'coefficients). Same {"model": ...} format as milp (sets, parameters, expr strings, only_if for reification), '
    "plus all_different: [{name, vars}], intervals: [{name, start, duration (number or variable), end, present "
    "(a boolean: optional task)}], no_overlap: [{name, intervals}], cumulative: [{name, intervals, demands, "
    "capacity}], element: [{name, index, array, target}], table: [{name, vars, tuples}], boolean: [{name, op "
    '(or|and|xor|at_most_one|exactly_one), literals: ["b", "~c"]}], general: [{name, fn (abs|min|max|mult|div|mod), '
    'result, args}]; or {"code": ortools code defining a CpModel `model` and a solved CpSolver `solver`}.'
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "object", "description": "The declarative model (see the milp tool) plus CP extras."},
        "code": {
            "type": "string",
            "description": "ortools code defining a CpModel `model` and a solved CpSolver `solver`.",
        },
        "time_limit": {"type": "number", "exclusiveMinimum": 0, "default": 60},
        "threads": {"type": "integer", "minimum": 1, "default": 1},
    },
    "oneOf": [{"required": ["model"]}, {"required": ["code"]}],
    "additionalProperties": False,
}


@tool(name="cp", timeout=None, input_schema=SCHEMA, prompt_hint=PROMPT_HINT, enforces_timeout=True)
def cp(
    session: ToolSession,
    model: dict[str, Any] | None = None,
    code: str | None = None,
    time_limit: float = 60.0,
    threads: int = 1,
) -> ToolResult:
    """Build and solve a constraint program with OR-Tools CP-SAT; returns status, objective and values."""
    return cross_checked(session, CROSS_CHECK, "cp", lambda: _solve(session, model, code, time_limit, threads))


def _solve(
    session: ToolSession, model: dict[str, Any] | None, code: str | None, time_limit: float, threads: int
) -> ToolResult:
    if code is not None:
        recheck = Recheck(WORKER, worker.recheck_claim)
        return code_mode(session, code, EXPORT, "model", "CpModel", kind="cp", time_limit=time_limit, recheck=recheck)
    if not isinstance(model, dict):
        return ToolResult.failure("invalid model: (root): the model must be a JSON object")
    result = solve_in_worker(session, WORKER, worker.solve_declarative, model, time_limit=time_limit, threads=threads)
    if isinstance(result, ToolResult):
        return result
    return declarative_result(result, model)


@hookimpl
def solvegraph_tools() -> list:
    return [cp]


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return CpOptions


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [solution_verifier("cp")]


@hookimpl
def solvegraph_certificate_checkers() -> list[CertificateChecker]:
    """``cp`` certificates are re-checked by ``certify.check`` in a fresh sandboxed CP-SAT process."""
    return [CertificateChecker("cp", target(certify.check))]
