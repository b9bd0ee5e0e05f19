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
from ._opterror import without_cyclic_gc
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


@without_cyclic_gc
def build_cpsat(model: OptModel, with_assumptions: bool = False) -> tuple[Any, dict[str, Any], dict[int, str]]:
    """A CpModel, its variables by name, and (with assumptions) literal index → constraint name."""
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    xs: dict[str, Any] = {}
    for name, v in model.variables.items():
        xs[name] = (
            cp.new_bool_var(name) if v.type in ("binary", "boolean") else cp.new_int_var(int(v.lb), int(v.ub), name)
        )

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
        ct = cp.add_linear_constraint(row, lo, hi)
        if c.only_if:
            ct.OnlyEnforceIf(lits(c.only_if))
        if with_assumptions:
            lit = cp.new_bool_var(f"assume[{c.name}]")
            ct.OnlyEnforceIf(lit)
            literals[lit.Index()] = c.name
            assumptions.append(lit)
    for _, names in model.all_different:
        cp.add_all_different([xs[n] for n in names])

    def single(aff: Affine, name: str) -> Any:
        """CP-SAT intervals take ``a*x + b``: a sum of several variables gets a variable of its own."""
        if len(aff[0]) <= 1:
            return expr(aff)
        lo, hi = affine_bounds(aff, model.variables)
        var = cp.new_int_var(int(lo), int(hi), name)
        cp.add(var == expr(aff))
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
            intervals[n] = cp.new_interval_var(start, size, end, n)
        else:
            intervals[n] = cp.new_optional_interval_var(start, size, end, lits([iv.present])[0], n)
    for _, names in model.no_overlap:
        cp.add_no_overlap([intervals[n] for n in names])
    for cu in model.cumulative:
        cp.add_cumulative([intervals[n] for n in cu.intervals], [expr(d) for d in cu.demands], expr(cu.capacity))
    for e in model.element:
        cp.add_element(expr(e.index), [expr(a) for a in e.array], expr(e.target))
    for t in model.table:
        add = cp.add_forbidden_assignments if t.forbidden else cp.add_allowed_assignments
        add([xs[n] for n in t.vars], t.tuples)
    for b in model.boolean:
        adders = {"or": cp.add_bool_or, "and": cp.add_bool_and, "xor": cp.add_bool_xor,
                  "at_most_one": cp.add_at_most_one, "exactly_one": cp.add_exactly_one}  # fmt: skip
        ct = adders[b.op](lits(b.literals))
        if b.only_if:
            ct.OnlyEnforceIf(lits(b.only_if))
    for g in model.general:
        target, args = expr(g.result), [expr(a) for a in g.args]
        if g.fn == "abs":
            cp.add_abs_equality(target, args[0])
        elif g.fn in ("min", "max"):
            (cp.add_min_equality if g.fn == "min" else cp.add_max_equality)(target, args)
        elif g.fn == "mult":
            cp.add_multiplication_equality(target, args)
        else:
            (cp.add_division_equality if g.fn == "div" else cp.add_modulo_equality)(target, args[0], args[1])
    if model.objective is not None:
        obj = expr((model.objective, model.constant))
        cp.minimize(obj) if model.sense == "minimize" else cp.maximize(obj)
    if with_assumptions:
        cp.add_assumptions(assumptions)
    return cp, xs, literals


def _solver(time_limit: float, threads: int) -> Any:
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(threads)
    return solver


def status_name(status: Any) -> str:
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
    if name == "feasible" and solver.wall_time >= time_limit * 0.98:
        name = "time_limit"
    if name == "unknown" and solver.wall_time >= time_limit * 0.98:
        name = "time_limit_no_solution"
    out: dict[str, Any] = {
        "status": name,
        "objective": None,
        "values": {},
        "gap": None,
        "solve_time": solver.wall_time,
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        out["values"] = {n: solver.value(x) for n, x in xs.items()}
        if has_objective:
            obj, bound = solver.objective_value, solver.best_objective_bound
            out["objective"], out["dual_bound"] = obj, bound
            out["gap"] = relative_gap(obj, bound)
    return out


def solve_cpsat(model: OptModel, time_limit: float = 60.0, threads: int = 1) -> dict[str, Any]:
    from ortools.sat.python import cp_model

    cp, xs, _ = build_cpsat(model)
    invalid = cp.validate()
    if invalid:
        raise ModelError("(model)", f"CP-SAT rejected the model: {invalid}")
    solver = _solver(time_limit, threads)
    started = time.perf_counter()
    status = solver.solve(cp)
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
    if solver.solve(cp) != cp_model.INFEASIBLE:
        return []
    core = [literals[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in literals]
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


class _Proto:
    """Reads a CpModelProto into the declarative model, so the independent re-check can evaluate it."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        seen: dict[str, int] = {}
        # Unique, usable names: CP-SAT allows repeated or empty names, and "~" marks a negated literal here.
        self.names = [
            unique_name(v.name if v.name and not v.name.startswith("~") else f"v{i}", seen)
            for i, v in enumerate(proto.variables)
        ]
        self.unchecked: dict[str, list[str]] = {}
        self.model: dict[str, Any] = {"variables": [], "constraints": []}

    def literal(self, ref: int) -> str:
        return self.names[ref] if ref >= 0 else "~" + self.names[-ref - 1]

    def coeffs(self, e: Any) -> dict[str, float]:
        """Coefficients by variable name; a variable listed twice has its coefficients summed."""
        out: dict[str, float] = {}
        for v, c in zip(list(e.vars), list(e.coeffs), strict=True):
            out[self.names[v]] = out.get(self.names[v], 0) + c
        return out

    def affine(self, e: Any) -> dict[str, Any]:
        return {"coeffs": self.coeffs(e), "constant": e.offset}

    def plain_var(self, e: Any) -> str | None:
        """The variable name if the expression is just one variable, else None."""
        return self.names[e.vars[0]] if len(e.vars) == 1 and e.coeffs[0] == 1 and not e.offset else None

    def add(self, key: str, entry: dict[str, Any]) -> None:
        self.model.setdefault(key, []).append(entry)

    def skip(self, kind: str, name: str) -> None:
        self.unchecked.setdefault(kind, []).append(name)

    def read(self) -> dict[str, Any]:
        seen: dict[str, int] = {}
        for i, v in enumerate(self.proto.variables):
            domain = list(v.domain)  # list() first: the 9.15 proto wrappers do not support negative indexing
            var = {"name": self.names[i], "type": "integer", "lb": domain[0], "ub": domain[-1]}
            self.model["variables"].append(var)
            if len(domain) > 2:
                self.skip("variable domain with holes", self.names[i])
        names = [unique_name(ct.name or f"c{k}", seen) for k, ct in enumerate(self.proto.constraints)]
        interval_names = dict(enumerate(names))  # no_overlap and cumulative name intervals by constraint index
        for ct, name in zip(self.proto.constraints, names, strict=True):
            self.constraint(ct, name, interval_names)
        objective = self.proto.objective
        if self.proto.has_objective():
            sign = -1 if objective.scaling_factor < 0 else 1
            self.model["objective"] = {
                "sense": "maximize" if sign < 0 else "minimize",
                "coeffs": {self.names[v]: sign * c for v, c in zip(objective.vars, objective.coeffs, strict=True)},
                "constant": sign * objective.offset,
            }
        elif self.proto.has_floating_point_objective():
            self.skip("floating-point objective", "objective")
        return self.model

    def constraint(self, ct: Any, name: str, intervals: dict[int, str]) -> None:
        kind = _kind(ct)
        enforced = [self.literal(x) for x in ct.enforcement_literal]
        if enforced and kind not in ("linear", "bool_or", "bool_and", "interval"):
            self.skip(f"enforced {kind}", name)
            return
        only_if = {"only_if": enforced} if enforced else {}
        if kind == "linear":
            domain = list(ct.linear.domain)
            if len(domain) != 2:
                self.skip("linear (domain with holes)", name)
                return
            lo, hi = domain
            coeffs = self.coeffs(ct.linear)
            if lo == hi:
                row = {"sense": "=", "rhs": lo}
            else:
                row = {"lb": lo if lo > -(2**62) else None, "ub": hi if hi < 2**62 else None}
            self.model["constraints"].append({"name": name, "coeffs": coeffs, **row, **only_if})
        elif kind == "all_diff":
            names = [self.plain_var(e) for e in ct.all_diff.exprs]
            if None in names:
                self.skip("all_different of expressions", name)
            else:
                self.add("all_different", {"name": name, "vars": names})
        elif kind in ("bool_or", "bool_and", "bool_xor", "at_most_one", "exactly_one"):
            literals = [self.literal(x) for x in getattr(ct, kind).literals]
            self.add("boolean", {"name": name, "op": kind.removeprefix("bool_"), "literals": literals, **only_if})
        elif kind == "interval":
            iv = ct.interval
            entry = {"name": name, "start": self.affine(iv.start), "duration": self.affine(iv.size),
                     "end": self.affine(iv.end)}  # fmt: skip
            if enforced:
                entry["present"] = enforced[0]
            self.add("intervals", entry)
        elif kind == "no_overlap":
            self.add("no_overlap", {"name": name, "intervals": [intervals[i] for i in ct.no_overlap.intervals]})
        elif kind == "cumulative":
            cu = ct.cumulative
            self.add("cumulative", {"name": name, "intervals": [intervals[i] for i in cu.intervals],
                                    "demands": [self.affine(d) for d in cu.demands],
                                    "capacity": self.affine(cu.capacity)})  # fmt: skip
        elif kind == "element":
            el = ct.element
            if el.has_linear_index():
                index, target = self.affine(el.linear_index), self.affine(el.linear_target)
                array = [self.affine(e) for e in el.exprs]
            else:  # the older form: variables only
                index, target = self.names[el.index], self.names[el.target]
                array = [self.names[v] for v in el.vars]
            self.add("element", {"name": name, "index": index, "array": array, "target": target})
        elif kind == "table":
            tb = ct.table
            names = [self.plain_var(e) for e in tb.exprs] if len(tb.exprs) else [self.names[v] for v in tb.vars]
            if None in names or not names:
                self.skip("table of expressions", name)
                return
            values = list(tb.values)
            rows = [values[i : i + len(names)] for i in range(0, len(values), len(names))]
            self.add("table", {"name": name, "vars": names, "tuples": rows, "forbidden": bool(tb.negated)})
        elif kind in ("lin_max", "int_prod", "int_div", "int_mod"):
            fn = {"lin_max": "max", "int_prod": "mult", "int_div": "div", "int_mod": "mod"}[kind]
            args = getattr(ct, kind)
            self.add("general", {"name": name, "fn": fn, "result": self.affine(args.target),
                                 "args": [self.affine(e) for e in args.exprs]})  # fmt: skip
        else:  # automaton, circuit, routes, inverse, reservoir, no_overlap_2d: listed, never claimed checked
            self.skip(str(kind), name)


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
    reader = _Proto(proto)
    out: dict[str, Any] = {
        "status": status,
        "objective": None,
        "values": {},
        "gap": None,
        "solve_time": response.wall_time,
        "model": reader.read(),
    }
    if reader.unchecked:
        out["unchecked"] = unchecked_summary(reader.unchecked)
    if status in ("optimal", "feasible"):
        out["values"] = {reader.names[i]: int(x) for i, x in enumerate(response.solution)}
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
    if not isinstance(model, dict):
        return ToolResult.failure("invalid model: (root): the model must be a JSON object")
    result = solve_in_worker(session, "cp", model, time_limit, threads)
    if isinstance(result, ToolResult):
        return result
    return declarative_result(result, model)


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
