"""The ``cp`` tool: constraint programs solved by OR-Tools CP-SAT.

Integer and boolean variables, linear constraints, all-different, and fixed-size
intervals with no-overlap for scheduling. An infeasible model is solved again with
one assumption literal per named linear constraint, and CP-SAT's
``sufficient_assumptions_for_infeasibility`` names the conflicting ones.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ..plugins import ToolResult, ToolSession, Verifier, hookimpl, tool
from ._optmodel import Affine, ModelError, OptModel, affine_bounds, parse_model
from ._optresult import (
    code_mode,
    declarative_result,
    relative_gap,
    solution_verifier,
    solve_in_worker,
    unchecked_summary,
    unique_name,
)

PROMPT_HINT = (
    "cp: solves a constraint program with OR-Tools CP-SAT (integer/boolean variables with finite lb and ub, integer "
    'coefficients). Same {"model": ...} format as milp, plus all_different: [{name, vars}], intervals: [{name, '
    'start (a variable), duration}], no_overlap: [{name, intervals}] for scheduling; or {"code": ortools code '
    "defining a solved CpModel `model` and CpSolver `solver`}."
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


def build_cpsat(model: OptModel, with_assumptions: bool = False) -> tuple[Any, dict[str, Any], dict[int, str]]:
    """A CpModel, its variables by name, and (with assumptions) literal index → constraint name."""
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    xs: dict[str, Any] = {}
    for name, v in model.variables.items():
        xs[name] = cp.NewBoolVar(name) if v.type in ("binary", "boolean") else cp.NewIntVar(int(v.lb), int(v.ub), name)

    def expr(aff: Affine) -> Any:
        coeffs, constant = aff
        return sum((int(c) * xs[n] for n, c in coeffs.items()), int(constant))

    def lits(literals: list[tuple[str, bool]]) -> list[Any]:
        return [xs[n] if positive else xs[n].Not() for n, positive in literals]

    literals: dict[int, str] = {}
    assumptions = []
    for c in model.constraints:
        row = expr((c.coeffs, 0.0))
        lo = int(c.lo) if c.sense == "range" else int(c.rhs) if c.sense in (">=", "=") else cp_model.INT_MIN
        hi = int(c.rhs) if c.sense in ("<=", "=", "range") else cp_model.INT_MAX
        ct = cp.AddLinearConstraint(row, lo, hi)
        if c.only_if:
            ct.OnlyEnforceIf(lits(c.only_if))
        if with_assumptions:
            lit = cp.NewBoolVar(f"assume[{c.name}]")
            ct.OnlyEnforceIf(lit)
            literals[lit.Index()] = c.name
            assumptions.append(lit)
    for _, names in model.all_different:
        cp.AddAllDifferent([xs[n] for n in names])
    def single(aff: Affine, name: str) -> Any:
        """CP-SAT intervals take ``a*x + b``: a sum of several variables gets a variable of its own."""
        if len(aff[0]) <= 1:
            return expr(aff)
        lo, hi = affine_bounds(aff, model.variables)
        var = cp.NewIntVar(int(lo), int(hi), name)
        cp.Add(var == expr(aff))
        return var

    intervals = {}
    for n, iv in model.intervals.items():
        start, size = single(iv.start, f"{n}.start"), single(iv.duration, f"{n}.duration")
        if iv.end is not None:
            end = single(iv.end, f"{n}.end")
        else:
            end = single((
                {k: iv.start[0].get(k, 0) + iv.duration[0].get(k, 0) for k in {*iv.start[0], *iv.duration[0]}},
                iv.start[1] + iv.duration[1],
            ), f"{n}.end")  # fmt: skip
        if iv.present is None:
            intervals[n] = cp.NewIntervalVar(start, size, end, n)
        else:
            intervals[n] = cp.NewOptionalIntervalVar(start, size, end, lits([iv.present])[0], n)
    for _, names in model.no_overlap:
        cp.AddNoOverlap([intervals[n] for n in names])
    for cu in model.cumulative:
        cp.AddCumulative([intervals[n] for n in cu.intervals], [expr(d) for d in cu.demands], expr(cu.capacity))
    for e in model.element:
        cp.AddElement(expr(e.index), [expr(a) for a in e.array], expr(e.target))
    for t in model.table:
        add = cp.AddForbiddenAssignments if t.forbidden else cp.AddAllowedAssignments
        add([xs[n] for n in t.vars], t.tuples)
    for b in model.boolean:
        adders = {"or": cp.AddBoolOr, "and": cp.AddBoolAnd, "xor": cp.AddBoolXOr,
                  "at_most_one": cp.AddAtMostOne, "exactly_one": cp.AddExactlyOne}  # fmt: skip
        ct = adders[b.op](lits(b.literals))
        if b.only_if:
            ct.OnlyEnforceIf(lits(b.only_if))
    for g in model.general:
        target, args = expr(g.result), [expr(a) for a in g.args]
        if g.fn == "abs":
            cp.AddAbsEquality(target, args[0])
        elif g.fn in ("min", "max"):
            (cp.AddMinEquality if g.fn == "min" else cp.AddMaxEquality)(target, args)
        elif g.fn == "mult":
            cp.AddMultiplicationEquality(target, args)
        else:
            (cp.AddDivisionEquality if g.fn == "div" else cp.AddModuloEquality)(target, args[0], args[1])
    if model.objective is not None:
        obj = expr((model.objective, model.constant))
        cp.Minimize(obj) if model.sense == "minimize" else cp.Maximize(obj)
    if with_assumptions:
        cp.AddAssumptions(assumptions)
    return cp, xs, literals


def _solver(time_limit: float, threads: int) -> Any:
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(threads)
    return solver


def status_name(status: int) -> str:
    from ortools.sat.python import cp_model

    names = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
        cp_model.MODEL_INVALID: "model_invalid",
        cp_model.UNKNOWN: "unknown",
    }
    return names.get(status, str(status))


def read_status(solver: Any, status: int, xs: dict[str, Any], has_objective: bool, time_limit: float) -> dict[str, Any]:
    from ortools.sat.python import cp_model

    name = status_name(status)
    if name == "feasible" and solver.WallTime() >= time_limit * 0.98:
        name = "time_limit"
    if name == "unknown" and solver.WallTime() >= time_limit * 0.98:
        name = "time_limit_no_solution"
    out: dict[str, Any] = {
        "status": name,
        "objective": None,
        "values": {},
        "gap": None,
        "solve_time": solver.WallTime(),
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        out["values"] = {n: solver.Value(x) for n, x in xs.items()}
        if has_objective:
            obj, bound = solver.ObjectiveValue(), solver.BestObjectiveBound()
            out["objective"], out["dual_bound"] = obj, bound
            out["gap"] = relative_gap(obj, bound)
    return out


def solve_cpsat(model: OptModel, time_limit: float = 60.0, threads: int = 1) -> dict[str, Any]:
    from ortools.sat.python import cp_model

    cp, xs, _ = build_cpsat(model)
    invalid = cp.Validate()
    if invalid:
        raise ModelError("(model)", f"CP-SAT rejected the model: {invalid}")
    solver = _solver(time_limit, threads)
    started = time.perf_counter()
    status = solver.Solve(cp)
    out = read_status(solver, status, xs, model.objective is not None, time_limit)
    out["solve_time"] = time.perf_counter() - started
    if status == cp_model.INFEASIBLE:
        out["unsat_core"] = unsat_core(model, time_limit)
    return out


def unsat_core(model: OptModel, time_limit: float) -> list[str]:
    """Names of linear constraints that together are infeasible (with all-different/no-overlap kept hard)."""
    from ortools.sat.python import cp_model

    # Without the objective: with one, CP-SAT returned every assumption as the "core".
    cp, _, literals = build_cpsat(replace(model, objective=None, constant=0.0), with_assumptions=True)
    solver = _solver(time_limit, 1)  # core extraction is reliable with one worker
    if solver.Solve(cp) != cp_model.INFEASIBLE:
        return []
    core = [literals[i] for i in solver.SufficientAssumptionsForInfeasibility() if i in literals]
    return core or ["(the hard all_different / no_overlap constraints alone are infeasible)"]


_READ_BACK = """
import json as _sg_json
from solvegraph.tools.cp import read_back as _sg_read_back
print(_sg_json.dumps(_sg_read_back(model, solver)))
"""


_KINDS = (
    "linear", "all_diff", "interval", "no_overlap", "no_overlap_2d", "cumulative", "element", "table",
    "automaton", "bool_or", "bool_and", "bool_xor", "at_most_one", "exactly_one", "lin_max", "int_prod",
    "int_div", "int_mod", "inverse", "circuit", "routes", "reservoir", "dummy_constraint",
)  # fmt: skip


def _kind(ct: Any) -> str:
    """Which constraint a ConstraintProto holds (the 9.x wrappers have has_* but no WhichOneof)."""
    return next((k for k in _KINDS if getattr(ct, f"has_{k}", lambda: False)()), "unknown")


def read_back(cp: Any, solver: Any) -> dict[str, Any]:
    """Inside the kernel: the declarative model and solution of a solved CpModel."""
    from ortools.sat.python import cp_model

    if not isinstance(cp, cp_model.CpModel):
        return {"error": f"expected an ortools CpModel named 'model', found {type(cp).__name__}"}
    if not isinstance(solver, cp_model.CpSolver):
        return {"error": f"expected a CpSolver named 'solver', found {type(solver).__name__}"}
    proto = cp.Proto()
    try:
        response = solver.ResponseProto()
    except RuntimeError:
        return {"error": "the model was built but never solved; call solver.Solve(model)"}
    status = status_name(response.status)
    if status == "unknown" and response.wall_time == 0:
        return {"error": "the model was built but never solved; call solver.Solve(model)"}
    names = [v.name or f"v{i}" for i, v in enumerate(proto.variables)]
    # list() first: the 9.15 proto wrappers do not support negative indexing.
    domains = [list(v.domain) for v in proto.variables]
    variables = [{"name": names[i], "type": "integer", "lb": d[0], "ub": d[-1]} for i, d in enumerate(domains)]
    constraints: list[dict[str, Any]] = []
    all_different: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    unchecked: dict[str, list[str]] = {}
    for k, ct in enumerate(proto.constraints):
        cname = unique_name(ct.name or f"c{k}", seen)
        kind = _kind(ct)
        if kind == "interval":
            continue  # an interval alone constrains nothing; the no_overlap/cumulative using it does
        if ct.enforcement_literal:
            unchecked.setdefault(f"enforced {kind}", []).append(cname)
            continue
        if ct.has_linear():
            coeffs = {names[v]: c for v, c in zip(list(ct.linear.vars), list(ct.linear.coeffs), strict=True)}
            domain = list(ct.linear.domain)
            lo, hi = domain[0], domain[-1]
            if lo == hi:
                constraints.append({"name": cname, "coeffs": coeffs, "sense": "=", "rhs": lo})
            else:
                if hi < 2**62:
                    constraints.append({"name": cname, "coeffs": coeffs, "sense": "<=", "rhs": hi})
                if lo > -(2**62):
                    constraints.append({"name": cname + "_lo", "coeffs": coeffs, "sense": ">=", "rhs": lo})
        elif ct.has_all_diff() and all(
            len(e.vars) == 1 and e.coeffs[0] == 1 and not e.offset for e in ct.all_diff.exprs
        ):
            all_different.append({"name": cname, "vars": [names[e.vars[0]] for e in ct.all_diff.exprs]})
        else:  # no_overlap, cumulative, element, table, bool_or, lin_max, ...: listed, never claimed checked
            unchecked.setdefault(str(kind), []).append(cname)
    out: dict[str, Any] = {
        "status": status,
        "objective": None,
        "values": {},
        "gap": None,
        "solve_time": response.wall_time,
    }
    model: dict[str, Any] = {"variables": variables, "constraints": constraints}
    if all_different:
        model["all_different"] = all_different
    if proto.has_objective():
        sign = -1 if proto.objective.scaling_factor < 0 else 1
        model["objective"] = {
            "sense": "maximize" if sign < 0 else "minimize",
            "coeffs": {names[v]: sign * c for v, c in zip(proto.objective.vars, proto.objective.coeffs, strict=True)},
            "constant": sign * proto.objective.offset,
        }
    out["model"] = model
    if unchecked:
        out["unchecked"] = unchecked_summary(unchecked)
    if status in ("optimal", "feasible"):
        out["values"] = {names[i]: int(x) for i, x in enumerate(response.solution)}
        if proto.has_objective():
            out["objective"], out["dual_bound"] = response.objective_value, response.best_objective_bound
            out["gap"] = relative_gap(out["objective"], out["dual_bound"])
    return out


@tool(name="cp", timeout=None, input_schema=SCHEMA, prompt_hint=PROMPT_HINT, enforces_timeout=True)
def cp(
    session: ToolSession,
    model: dict[str, Any] | None = None,
    code: str | None = None,
    time_limit: float = 60.0,
    threads: int = 1,
) -> ToolResult:
    """Build and solve a constraint program with OR-Tools CP-SAT; returns status, objective and values."""
    if code is not None:
        return code_mode(session, code, _READ_BACK, "model", "CpModel", kind="cp", time_limit=time_limit)
    try:
        parsed = parse_model(model, kind="cp")
    except ModelError as exc:
        return ToolResult.failure(f"invalid model: {exc}")
    result = solve_in_worker(session, "cp", model, time_limit, threads)  # type: ignore[arg-type]
    if isinstance(result, ToolResult):
        return result
    return declarative_result(result, parsed, model)


def solve_declarative(raw_model: dict[str, Any], time_limit: float, threads: int) -> dict[str, Any]:
    """In the sandboxed worker: parse, build and solve; a ModelError reaches the host as ValueError."""
    try:
        return solve_cpsat(parse_model(raw_model, kind="cp"), time_limit, threads)
    except ModelError as exc:
        raise ValueError(str(exc)) from None


@hookimpl
def solvegraph_tools() -> list:
    return [cp]


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [solution_verifier("cp")]
