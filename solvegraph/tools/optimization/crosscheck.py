"""Independent routes that check a solver's answer a second time, in a fresh sandboxed worker.

After a ``milp`` or ``cp`` solve that found a solution, the host sends the model the solver read (the
declarative model, or what SCIP/CP-SAT read from an LP/MPS text or a code-mode model file) and the claimed
values and objective here. Each route shares no code path with the solve it checks:

- ``exact-rational``: every coefficient, bound and value converted exactly with :class:`fractions.Fraction`;
  each row and bound is evaluated without rounding, the largest violation is reported exactly (against the
  solver's feasibility tolerance made explicit, :data:`FEAS_TOL`), and the objective is recomputed exactly.
- ``highs`` (a milp answer): HiGHS re-solves the model; its optimum must match the claimed one.
- ``cp-sat`` (a milp answer over integers only, integer coefficients, finite bounds): CP-SAT re-solves it.
- ``scip`` (a cp answer): SCIP re-solves CP-SAT's pure-integer linear model; its optimum must match.

A route that cannot run (a constraint it cannot translate, the time cap) says so with ``agreed: None``
and its reason; only a route that ran and disagrees is evidence against the answer. This module runs in
the solver worker: it imports nothing of solvegraph but the model core.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from .model import ModelError, OptModel, parse_model

FEAS_TOL = Fraction(1, 10**6)  # absolute, scaled by max(1, |side|): SCIP's and HiGHS's default feasibility tolerance
INT_TOL = Fraction(1, 10**6)  # how far from an integer an integral variable's value may be
OBJ_TOL = 1e-6  # relative (at least 1): two optima agree within this


def untranslatable(model: OptModel) -> list[str]:
    """What the routes cannot evaluate or re-solve, by kind and name: they take linear rows, bounds,
    integrality and a linear objective only."""
    found = [f"quadratic constraint {c.name}" for c in model.constraints if c.quadratic]
    found += [f"indicator constraint {c.name}" for c in model.constraints if c.only_if]
    found += [f"quadratic objective ({len(model.quadratic)} terms)"] if model.quadratic else []
    found += [f"semicontinuous variable {v.name}" for v in model.variables.values() if v.type == "semicontinuous"]
    for kind, items in (("general", model.general), ("sos", model.sos), ("pwl", model.pwl),
                        ("cumulative", model.cumulative), ("element", model.element), ("table", model.table),
                        ("boolean", model.boolean)):  # fmt: skip
        found += [f"{kind} constraint {getattr(x, 'name', '?')}" for x in items]
    found += [f"all_different {name}" for name, _ in model.all_different]
    found += [f"no_overlap {name}" for name, _ in model.no_overlap]
    found += [f"interval {name}" for name in model.intervals]
    return found


def _exact(x: float) -> Fraction:
    return Fraction(x)  # exact: a float is a dyadic rational


def _excess(value: Fraction, lo: float, hi: float) -> Fraction:
    """How far ``value`` is outside ``[lo, hi]`` beyond the tolerance scaled to the violated side (0 inside)."""
    over = Fraction(0)
    if math.isfinite(hi) and value > _exact(hi):
        over = (value - _exact(hi)) / max(Fraction(1), abs(_exact(hi)))
    if math.isfinite(lo) and value < _exact(lo):
        over = max(over, (_exact(lo) - value) / max(Fraction(1), abs(_exact(lo))))
    return over


def exact_route(model: OptModel, values: dict[str, float], objective: float | None) -> dict[str, Any]:
    """Feasibility and the objective in exact rationals: the largest scaled violation, exactly."""
    missing = [n for n in model.variables if n not in values]
    if missing:
        return _route("exact-rational", False, f"no value for {len(missing)} variables ({', '.join(missing[:3])})")
    x = {n: _exact(float(values[n])) for n in model.variables}
    worst, where = Fraction(0), ""
    for name, v in model.variables.items():
        over = _excess(x[name], v.lb, v.ub)
        if v.integral:  # a distance to the nearest integer beyond INT_TOL counts as beyond FEAS_TOL
            over = max(over, abs(x[name] - round(x[name])) / INT_TOL * FEAS_TOL)
        if over > worst:
            worst, where = over, f"bound or integrality of {name}"
    for c in model.constraints:
        row = sum((_exact(k) * x[n] for n, k in c.coeffs.items()), Fraction(0))
        lo = c.lo if c.sense == "range" else c.rhs if c.sense in (">=", "=") else -math.inf
        hi = c.rhs if c.sense in ("<=", "=", "range") else math.inf
        over = _excess(row, lo, hi)
        if over > worst:
            worst, where = over, f"row {c.name}"
    detail = f"max scaled violation {float(worst):.3g} (exactly {worst})" + (f" at {where}" if where else "")
    detail += f", tolerance {float(FEAS_TOL):g}"
    if worst > FEAS_TOL:
        return _route("exact-rational", False, "infeasible in exact arithmetic: " + detail)
    if model.objective is not None:
        exact = _exact(model.constant) + sum((_exact(k) * x[n] for n, k in model.objective.items()), Fraction(0))
        detail += f"; objective recomputed exactly: {float(exact):.12g}"
        if objective is None:
            return _route("exact-rational", False, detail + ", but no objective was claimed")
        if abs(exact - _exact(float(objective))) > _exact(OBJ_TOL) * max(Fraction(1), abs(exact)):
            return _route("exact-rational", False, detail + f", claimed {objective:.12g}")
    return _route("exact-rational", True, detail)


def _route(route: str, agreed: bool | None, detail: str) -> dict[str, Any]:
    return {"route": route, "agreed": agreed, "detail": detail}


def _agree(
    route: str, solver: str, status: str, optimum: float | None, claim: tuple[str, float | None, str]
) -> dict[str, Any]:
    """Compare a second solver's optimum with the claim (status, objective, sense): an optimal claim must
    match it; a claim that is not optimal (time limit) must not beat it, and is otherwise no evidence."""
    claimed_status, claimed, sense = claim
    if status == "infeasible":
        return _route(route, False, f"{solver} says the model is infeasible")
    if status != "optimal":
        return _route(route, None, f"{solver} ended {status} within its time cap: no optimum to compare")
    if claimed is None or optimum is None:
        return _route(route, True, f"{solver} found the model feasible (no objective)")
    diff = abs(optimum - claimed) / max(1.0, abs(optimum))
    text = f"{solver} optimum {optimum:.12g}, claimed {claimed:.12g} (relative difference {diff:.3g})"
    if claimed_status == "optimal":
        return _route(route, diff <= OBJ_TOL, text)
    better = claimed < optimum if sense == "minimize" else claimed > optimum
    if better and diff > OBJ_TOL:
        return _route(route, False, text + ": the claim beats the optimum")
    return _route(route, None, text + f": the claim is {claimed_status}, not optimal, so nothing to agree on")


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def highs_route(model: OptModel, claim: tuple[str, float | None, str], time_limit: float) -> dict[str, Any]:
    """HiGHS re-solves the LP/MILP from the same rows, bounds, integrality and objective."""
    import highspy
    import numpy as np

    with _stdout_to_stderr():  # HiGHS prints its banner from C on fd 1, the worker's reply stream
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.05, time_limit))
    h.setOptionValue("threads", 1)
    names = list(model.variables)
    index = {n: i for i, n in enumerate(names)}
    inf = highspy.kHighsInf
    sign = -1.0 if model.sense == "maximize" else 1.0
    costs = model.objective or {}
    lower = [v.lb if math.isfinite(v.lb) else -inf for v in model.variables.values()]
    upper = [v.ub if math.isfinite(v.ub) else inf for v in model.variables.values()]
    h.addVars(len(names), np.array(lower, dtype=float), np.array(upper, dtype=float))
    if costs:
        h.changeColsCost(len(costs), np.array([index[n] for n in costs], dtype=np.int32),
                         np.array([sign * k for k in costs.values()], dtype=float))  # fmt: skip
    integral = [i for i, v in enumerate(model.variables.values()) if v.integral]
    if integral:
        h.changeColsIntegrality(len(integral), np.array(integral, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger] * len(integral)))  # fmt: skip
    for c in model.constraints:
        lo = c.lo if c.sense == "range" else c.rhs if c.sense in (">=", "=") else -inf
        hi = c.rhs if c.sense in ("<=", "=", "range") else inf
        cols = np.array([index[n] for n in c.coeffs], dtype=np.int32)
        h.addRow(lo if math.isfinite(lo) else -inf, hi if math.isfinite(hi) else inf, len(cols), cols,
                 np.array(list(c.coeffs.values()), dtype=float))  # fmt: skip
    h.run()
    status = h.modelStatusToString(h.getModelStatus()).lower()
    optimum = None
    if status == "optimal" and model.objective is not None:
        optimum = sign * h.getInfo().objective_function_value + model.constant
    return _agree("highs", "HiGHS", status, optimum, claim)


def scip_route(model: OptModel, claim: tuple[str, float | None, str], time_limit: float) -> dict[str, Any]:
    """SCIP re-solves a pure-integer linear model that CP-SAT solved."""
    from pyscipopt import Model
    from pyscipopt.scip import Expr, ExprCons

    scip = Model("crosscheck")
    scip.hideOutput()
    scip.setParam("limits/time", max(0.05, time_limit))
    costs = model.objective or {}
    xs = {
        n: scip.addVar(name=n, vtype="I" if v.integral else "C", lb=v.lb if math.isfinite(v.lb) else None,
                       ub=v.ub if math.isfinite(v.ub) else None, obj=costs.get(n, 0.0))
        for n, v in model.variables.items()
    }  # fmt: skip
    for c in model.constraints:
        lo = c.lo if c.sense == "range" else c.rhs if c.sense in (">=", "=") else None
        hi = c.rhs if c.sense in ("<=", "=", "range") else None
        cons = scip.addCons(ExprCons(Expr(), lhs=lo, rhs=hi), name=c.name)
        for n, k in c.coeffs.items():
            scip.addConsCoeff(cons, xs[n], k)
    if model.objective is not None:
        scip.setMaximize() if model.sense == "maximize" else scip.setMinimize()
        if model.constant:
            scip.addObjoffset(model.constant)
    scip.optimize()
    status = scip.getStatus()
    optimum = scip.getObjVal() if status == "optimal" and model.objective is not None else None
    return _agree("scip", "SCIP", status, optimum, claim)


def _cpsat_blocker(model: OptModel) -> str | None:
    """Why CP-SAT cannot take this model exactly, or None: it needs integer variables with finite bounds and
    integer coefficients (a fractional right-hand side is rounded inward, exactly, over integers)."""
    for v in model.variables.values():
        if not v.integral:
            return f"continuous variable {v.name}"
        if not (math.isfinite(v.lb) and math.isfinite(v.ub)):
            return f"unbounded integer variable {v.name}"
    for c in model.constraints:
        if any(k != int(k) for k in c.coeffs.values()):
            return f"fractional coefficient in row {c.name}"
    if any(k != int(k) for k in (model.objective or {}).values()):
        return "fractional objective coefficient"
    return None


def cpsat_route(model: OptModel, claim: tuple[str, float | None, str], time_limit: float) -> dict[str, Any]:
    """CP-SAT re-solves a pure-integer model that SCIP solved (integer coefficients, finite bounds)."""
    blocker = _cpsat_blocker(model)
    if blocker:
        return _route("cp-sat", None, f"cannot translate {blocker}")
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    xs = {n: cp.new_int_var(math.ceil(v.lb), math.floor(v.ub), n) for n, v in model.variables.items()}
    for c in model.constraints:
        lo = c.lo if c.sense == "range" else c.rhs if c.sense in (">=", "=") else -math.inf
        hi = c.rhs if c.sense in ("<=", "=", "range") else math.inf
        row = sum(int(k) * xs[n] for n, k in c.coeffs.items())
        low = math.ceil(lo) if math.isfinite(lo) else cp_model.INT_MIN
        high = math.floor(hi) if math.isfinite(hi) else cp_model.INT_MAX
        cp.add_linear_constraint(row, low, high)
    if model.objective is not None:
        objective = sum(int(k) * xs[n] for n, k in model.objective.items())
        cp.maximize(objective) if model.sense == "maximize" else cp.minimize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = 1
    code = solver.solve(cp)
    status = {cp_model.OPTIMAL: "optimal", cp_model.INFEASIBLE: "infeasible"}.get(code, "not optimal")
    optimum = None
    if code == cp_model.OPTIMAL and model.objective is not None:
        optimum = solver.objective_value + model.constant
    return _agree("cp-sat", "CP-SAT", status, optimum, claim)


def cross_check(
    raw_model: dict[str, Any], kind: str, status: str, values: dict[str, float], objective: float | None,
    time_limit: float, threads: int,
) -> dict[str, Any]:  # fmt: skip
    """In a fresh sandboxed worker: every route on the model the solver read, within ``time_limit`` seconds.

    ``kind`` is the tool ("milp" or "cp"): it names the second solver (HiGHS for milp, SCIP for cp).
    """
    del threads  # one thread: the cross-check must not take more of the machine than the solve
    started = time.monotonic()
    second = "highs" if kind == "milp" else "scip"
    try:
        model = parse_model(raw_model, kind=kind)
    except ModelError as exc:
        reason = f"the model cannot be read: {exc}"
        return summary([_route("exact-rational", None, reason), _route(second, None, reason)])
    cannot = untranslatable(model)
    if cannot:
        reason = "cannot translate " + ", ".join(cannot[:5]) + (f" … ({len(cannot)} in all)" if len(cannot) > 5 else "")
        return summary([_route("exact-rational", None, reason), _route(second, None, reason)])
    routes = [exact_route(model, values, objective)]
    claim = (status, objective, model.sense)
    left = time_limit - (time.monotonic() - started)
    if left <= 0.05:
        routes.append(_route(second, None, "no time left within the cross-check's time cap"))
    elif kind == "milp":
        routes.append(highs_route(model, claim, left))
        if _cpsat_blocker(model) is None:  # a pure-integer model: CP-SAT too (listed only where it applies)
            left = time_limit - (time.monotonic() - started)
            routes.append(cpsat_route(model, claim, left) if left > 0.05 else
                          _route("cp-sat", None, "no time left within the cross-check's time cap"))  # fmt: skip
    else:
        routes.append(scip_route(model, claim, left))
    return summary(routes)


def summary(routes: list[dict[str, Any]]) -> dict[str, Any]:
    """``data["cross_check"]``: every route with its outcome, and the names of those that agreed."""
    return {"routes": routes, "agreed": [r["route"] for r in routes if r["agreed"] is True]}
