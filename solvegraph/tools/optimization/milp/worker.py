"""The sandboxed solver worker's side of ``milp``: build a SCIP model, solve it, diagnose it.

These functions run only in the :class:`~solvegraph.sandbox.SandboxWorker` process the host starts
(the host's ``WORKER`` names which): a SCIP segfault, a memory blow-up or a hang ends that process,
never solvegraph's. They import nothing of solvegraph but the model core.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import replace
from typing import Any

from .._readback import relative_gap
from ..model import ModelError, OptModel, Var, affine_bounds, likely_missing_bounds, parse_model, without_cyclic_gc
from ._scip import _STATUS, _attach_model, _solution
from .certify import restricted_status

AUX = "_sg_"  # prefix of the variables solvegraph adds when building (linearisations); never reported


@without_cyclic_gc
def build_scip(model: OptModel) -> tuple[Any, dict[str, Any]]:
    """A pyscipopt Model for ``model``, and its variables by name.

    Ranges, quadratic rows and SOS go to SCIP as they are; ``only_if`` becomes indicator constraints,
    and what SCIP has no constraint for is linearised here with auxiliary ``_sg_`` variables:
    semicontinuous variables (an on/off binary), piecewise-linear terms (SOS2 weights),
    abs/min/max (big-M from the variable bounds) and a quadratic objective (an epigraph variable).
    """
    from pyscipopt import Model
    from pyscipopt.scip import Expr, ExprCons

    scip = Model("solvegraph")
    scip.hideOutput()
    xs: dict[str, Any] = {}
    epigraph = bool(model.quadratic) and model.objective is not None
    objective = {} if epigraph else model.objective or {}
    codes = {"continuous": "C", "integer": "I", "semicontinuous": "C"}
    for name, v in model.variables.items():
        lb = None if v.lb == -math.inf else min(v.lb, 0.0) if v.type == "semicontinuous" else v.lb
        ub = None if v.ub == math.inf else v.ub
        # The objective goes in with each variable: far cheaper than building an expression.
        xs[name] = scip.addVar(name=name, vtype=codes.get(v.type, "B"), lb=lb, ub=ub, obj=objective.get(name, 0.0))

    def linear(coeffs: dict[str, float], constant: float = 0.0) -> Any:
        return Expr({}) + constant + sum((c * xs[n] for n, c in coeffs.items()), Expr())

    def quadratic(coeffs: dict[str, float], terms: list[tuple[str, str, float]]) -> Any:
        return linear(coeffs) + sum((k * xs[a] * xs[b] for a, b, k in terms), Expr())

    for c in model.constraints:
        lo = c.lo if c.sense == "range" else c.rhs if c.sense in (">=", "=") else None
        hi = c.rhs if c.sense in ("<=", "=", "range") else None
        if c.only_if:
            _indicator(scip, c, linear(c.coeffs), lo, hi, xs)
        elif c.quadratic:
            scip.addCons(ExprCons(quadratic(c.coeffs, c.quadratic), lhs=lo, rhs=hi), name=c.name)
        else:
            # An empty row filled with addConsCoeff: ~2x faster than building Expr objects per term.
            cons = scip.addCons(ExprCons(Expr(), lhs=lo, rhs=hi), name=c.name)
            for n, coef in c.coeffs.items():
                scip.addConsCoeff(cons, xs[n], coef)
    for name, v in model.variables.items():
        if v.type == "semicontinuous":  # x = 0, or lb <= x <= ub
            on = scip.addVar(name=f"{AUX}on[{name}]", vtype="B")
            scip.addCons(xs[name] <= v.ub * on, name=f"{AUX}semicontinuous_ub[{name}]")
            scip.addCons(xs[name] >= v.lb * on, name=f"{AUX}semicontinuous_lb[{name}]")
    for sos in model.sos:
        add = scip.addConsSOS1 if sos.type == 1 else scip.addConsSOS2
        add([xs[n] for n in sos.vars], weights=sos.weights, name=sos.name)
    for pw in model.pwl:
        weights = [scip.addVar(name=f"{AUX}{pw.name}[{k}]", lb=0, ub=1) for k in range(len(pw.points))]
        scip.addCons(sum(weights, Expr()) == 1, name=f"{AUX}{pw.name}_convex")
        scip.addCons(xs[pw.x] == sum((w * p[0] for w, p in zip(weights, pw.points, strict=True)), Expr()),
                     name=f"{AUX}{pw.name}_x")  # fmt: skip
        scip.addCons(xs[pw.y] == sum((w * p[1] for w, p in zip(weights, pw.points, strict=True)), Expr()),
                     name=f"{AUX}{pw.name}_y")  # fmt: skip
        scip.addConsSOS2(weights, weights=list(range(1, len(weights) + 1)), name=pw.name)
    for g in model.general:
        _linearise(scip, model, g, linear)
    if model.objective is not None:
        scip.setMaximize() if model.sense == "maximize" else scip.setMinimize()
        if epigraph:  # SCIP objectives are linear: optimise t with t >= f(x) (t <= f(x) when maximising)
            t = scip.addVar(name=f"{AUX}objective", lb=None, ub=None, obj=1.0)
            f = quadratic(model.objective, model.quadratic)
            scip.addCons(t - f >= 0 if model.sense == "minimize" else t - f <= 0, name=f"{AUX}objective")
        if model.constant:
            scip.addObjoffset(model.constant)
    return scip, xs


def _indicator(scip: Any, c: Any, row: Any, lo: float | None, hi: float | None, xs: dict[str, Any]) -> None:
    """``only_if`` on one binary: SCIP indicator constraints take one side each, so a range or = is two."""
    from pyscipopt.scip import ExprCons

    (var, positive), = c.only_if  # fmt: skip
    sides = [(ExprCons(row, rhs=hi), c.name)] if hi is not None else []
    if lo is not None:
        sides.append((ExprCons(row, lhs=lo), c.name if hi is None else f"{c.name}{AUX}lhs"))
    for cons, name in sides:
        scip.addConsIndicator(cons, xs[var], activeone=positive, name=name)


def _linearise(scip: Any, model: OptModel, g: Any, linear: Any) -> None:
    """``result == abs/min/max(args)`` with one binary per argument choosing which one is attained."""
    from pyscipopt.scip import Expr

    args = [linear(*a) for a in g.args]
    bounds = [affine_bounds(a, model.variables) for a in g.args]
    if g.fn == "abs":  # |a| = max(a, -a)
        args = [args[0], -1 * args[0]]
        bounds = [bounds[0], (-bounds[0][1], -bounds[0][0])]
    result = linear(*g.result)
    pick = [scip.addVar(name=f"{AUX}{g.name}[{j}]", vtype="B") for j in range(len(args))]
    scip.addCons(sum(pick, Expr()) == 1, name=f"{AUX}{g.name}_pick")
    top = max(b[1] for b in bounds)
    low = min(b[0] for b in bounds)
    for j, (a, (lo, hi)) in enumerate(zip(args, bounds, strict=True)):
        if g.fn in ("max", "abs"):  # result >= every argument, and <= the picked one
            scip.addCons(result - a >= 0, name=f"{AUX}{g.name}_ge[{j}]")
            scip.addCons(result - a <= (top - lo) * (1 - pick[j]), name=f"{AUX}{g.name}_le[{j}]")
        else:  # min: result <= every argument, and >= the picked one
            scip.addCons(result - a <= 0, name=f"{AUX}{g.name}_le[{j}]")
            scip.addCons(result - a >= -(hi - low) * (1 - pick[j]), name=f"{AUX}{g.name}_ge[{j}]")


def solve_scip(scip: Any, time_limit: float, threads: int) -> dict[str, Any]:
    """Optimize and read back status, objective, values, gap, time, and the IIS if infeasible."""
    scip.setParam("limits/time", float(time_limit))
    scip.setParam("parallel/maxnthreads", int(threads))
    started = time.perf_counter()
    scip.optimize()
    elapsed = time.perf_counter() - started
    status = _STATUS.get(scip.getStatus(), scip.getStatus())
    out: dict[str, Any] = {"status": status, "solve_time": elapsed, **_solution(scip, status)}
    if status == "infeasible":
        out["iis"] = scip_iis(scip)
    return out


# SCIP's constraint handlers whose rows its MPS writer writes as they are; with any other handler in the model
# only the CIP file (SCIP's own, faithful format) goes into the certificate: MPS would drop or relax it.
LINEAR_HANDLERS = frozenset({"linear", "knapsack", "logicor", "setppc", "varbound"})


def model_files(scip: Any) -> dict[str, str]:
    """The model as this SCIP read it, for the certificate: ``model.cip`` always, ``model.mps`` when lossless."""
    files = {"model.cip": _written(scip, "cip")}
    if all(c.getConshdlrName() in LINEAR_HANDLERS for c in scip.getConss(transformed=False)):
        files["model.mps"] = _written(scip, "mps")
    return files


def _written(scip: Any, fmt: str) -> str:
    fd, path = tempfile.mkstemp(suffix=f".{fmt}", dir=".")
    os.close(fd)
    try:
        scip.writeProblem(path, trans=False, verbose=False)
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def attach_certificate(out: dict[str, Any], scip: Any, auxiliary: dict[str, float] | None = None) -> None:
    """What a certificate of this result needs from this process (the host's verifier builds it): the model
    files and the values of variables the answer does not report (solvegraph's ``_sg_`` linearisations,
    SCIP's indicator slacks), without which the file's constraints could not be evaluated. An infeasible
    result gets the files too: its certificate names the conflict in them, which ``milp.certify`` re-solves."""
    solved = out.get("status") in ("optimal", "feasible", "time_limit") and out.get("values")
    if not solved and out.get("status") != "infeasible":
        return
    import pyscipopt

    out["certificate"] = {
        "artifacts": model_files(scip),
        "auxiliary_values": auxiliary or {},
        "provenance": {"solver": "SCIP", "scip": str(scip.version()), "pyscipopt": pyscipopt.__version__},
    }


def scip_iis(scip: Any) -> list[str]:
    """Names of the constraints in SCIP's irreducible infeasible subsystem, plus the finite bounds in it."""
    try:
        sub = scip.generateIIS().getSubscip()
    except Exception as exc:  # IIS is a diagnosis; never fail the solve for it
        return [f"(IIS unavailable: {exc})"]
    names = [c.name for c in sub.getConss()]
    for v in sub.getVars():
        lb, ub = v.getLbOriginal(), v.getUbOriginal()
        if ub < 1e19:
            names.append(f"bound {v.name} <= {ub:g}")
        if lb > -1e19 and lb != 0:
            names.append(f"bound {v.name} >= {lb:g}")
    return names


def confirm_in_file(out: dict[str, Any], deadline: float) -> None:
    """A confirmed IIS stays confirmed only if the model file restricted to it is infeasible by itself, as
    ``certify`` re-checks it: a conflict that needs constraints solvegraph added to the file (its ``_sg_``
    linearisations) is a diagnosis, not a certificate."""
    if not out.get("iis_confirmed"):
        return
    text = ((out.get("certificate") or {}).get("artifacts") or {}).get("model.cip")
    members = {n for n in out.get("iis") or [] if not n.startswith("bound ")}
    if (
        not isinstance(text, str)
        or not members
        or restricted_status("model.cip", text, members, remaining(deadline)) != "infeasible"
    ):
        del out["iis_confirmed"]
        out["iis_note"] = "not confirmed: the model file restricted to it is not infeasible by itself"


def remaining(deadline: float) -> float:
    """SCIP's own time limit: what is left of the call's (parsing and building count), at least a moment."""
    return max(0.05, deadline - time.monotonic())


def solve_text(text: str, fmt: str, time_limit: float, threads: int) -> dict[str, Any]:
    """In the sandboxed worker: read LP/MPS text with SCIP's own reader, solve, and read the model back."""
    from pyscipopt import Model

    if fmt not in ("lp", "mps", "cip"):  # cip: code mode's model file (see kernel.py)
        raise ValueError(f"unknown format {fmt!r}")
    deadline = time.monotonic() + time_limit
    fd, path = tempfile.mkstemp(suffix=f".{fmt}", dir=".")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    scip = Model("solvegraph")
    scip.hideOutput()
    try:
        scip.readProblem(path)
    except Exception:
        raise ValueError(f"SCIP could not read the {fmt.upper()} text: check its syntax") from None
    finally:
        os.unlink(path)
    out = solve_scip(scip, remaining(deadline), threads)
    attach_certificate(out, scip)
    _attach_model(out, scip)
    if out["status"] == "infeasible" and "model" in out and "unchecked" not in out:  # as for a JSON model
        try:
            parsed = parse_model(out["model"], kind="milp")
        except ModelError as exc:
            out["model_error"] = str(exc)
        else:
            out.update(irreducible_conflict(parsed, out.get("iis") or [], deadline))
            confirm_in_file(out, deadline)
    return out


def recheck_claim(text: str, fmt: str, claim: dict[str, Any], time_limit: float, threads: int) -> dict[str, Any]:
    """In a fresh sandboxed worker: code mode's evidence, computed where the model's code never ran.

    SCIP reads the model file the kernel wrote and solves it again. The result keeps the kernel's claimed
    values and objective (what the answer says) for the host's re-check against the model read here, and
    takes everything that counts as evidence from this solve: the dual bound (a bound whatever the
    status), the gap to the claimed objective, the IIS, the constraints that cannot be evaluated.
    """
    status, values, objective = claim.get("status"), claim.get("values"), claim.get("objective")
    if not isinstance(status, str) or not isinstance(values, dict):
        raise ValueError("the kernel's claim has no status or values")
    if not all(isinstance(k, str) and _number(x) for k, x in values.items()) or not (
        objective is None or _number(objective)
    ):
        raise ValueError("the kernel's claimed values and objective must be numbers")
    out = solve_text(text, fmt, time_limit, threads)
    own = {k: out.get(k) for k in ("status", "objective", "dual_bound", "solve_time")}
    out["recheck"] = {"by": "SCIP in a fresh sandboxed worker, from the model file", **own}
    if status not in ("optimal", "feasible", "time_limit") or not values:
        if status != out["status"]:  # a claimed infeasible/unbounded that this solve does not confirm
            out["recheck"]["claimed_status"] = status
        return out
    bound = out.get("dual_bound")
    out.update(status=status, values=values, objective=objective, solve_time=claim.get("solve_time"))
    if "certificate" not in out:  # this solve found no point itself: the certificate holds the file it read
        import pyscipopt

        out["certificate"] = {"artifacts": {f"model.{fmt}": text}, "auxiliary_values": {},
                              "provenance": {"solver": "SCIP", "pyscipopt": pyscipopt.__version__}}  # fmt: skip
    out["gap"] = relative_gap(objective, bound) if objective is not None and bound is not None else None
    out.pop("iis", None)
    return out


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def solve_declarative(raw_model: dict[str, Any], time_limit: float, threads: int) -> dict[str, Any]:
    """In the sandboxed worker: parse, build and solve with SCIP; resolve what SCIP leaves open.

    ``infeasible_or_unbounded`` is settled by solving again without the objective (no feasible point:
    infeasible; one: unbounded), and an infeasible model's conflict is made irreducible here.
    """
    deadline = time.monotonic() + time_limit
    try:
        parsed = parse_model(raw_model, kind="milp")
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    scip, _ = build_scip(parsed)
    out = solve_scip(scip, remaining(deadline), threads)
    # Only the model's own variables: not SCIP's indicator slacks (indslack_*) or solvegraph's _sg_ ones
    # (the certificate keeps those: the model file has them).
    auxiliary = {n: x for n, x in out["values"].items() if n not in parsed.variables}
    out["values"] = {n: x for n, x in out["values"].items() if n in parsed.variables}
    if out["status"] == "infeasible_or_unbounded":
        feasible = _feasible(parsed, max(1.0, deadline - time.monotonic()))
        if feasible is False:
            out.update(status="infeasible", resolved="SCIP said infeasible or unbounded; without the objective "
                       "no feasible point exists, so it is infeasible")  # fmt: skip
        elif feasible is True:
            out.update(status="unbounded", resolved="SCIP said infeasible or unbounded; without the objective a "
                       "feasible point exists, so it is unbounded")  # fmt: skip
    attach_certificate(out, scip, auxiliary)  # after the status is settled: an infeasible one gets the files too
    if out["status"] == "infeasible":
        out.update(irreducible_conflict(parsed, out.get("iis") or [], deadline))
        confirm_in_file(out, deadline)
    if out["status"] == "unbounded":
        out["missing_bounds"] = likely_missing_bounds(parsed)
    return out


MAX_FILTER_CONSTRAINTS = 300  # a deletion filter is one feasibility solve per member: bounded work


def _feasible(model: OptModel, time_limit: float) -> bool | None:
    """Whether ``model`` (its objective ignored) has a feasible point; None when SCIP cannot tell in time."""
    scip, _ = build_scip(replace(model, objective=None, constant=0.0, quadratic=[]))
    scip.setParam("limits/time", max(0.1, time_limit))
    scip.setParam("limits/solutions", 1)
    scip.optimize()
    if scip.getStatus() in ("infeasible", "inforunbd"):  # with no objective, nothing can be unbounded
        return False
    return True if scip.getNSols() > 0 else None


def irreducible_conflict(model: OptModel, scip_iis: list[str], deadline: float) -> dict[str, Any]:
    """An irreducible infeasible subsystem: a deletion filter over the constraints, then over the
    finite bounds of the variables they use; each member is needed (removing it makes the rest
    feasible), and the whole is confirmed infeasible.

    Starts from SCIP's own IIS when it is infeasible on its own (fewer solves), else from every
    constraint: SCIP's IIS can be empty, e.g. for an integer parity conflict like 2x - 2y = 1.
    """
    by_name = {c.name: c for c in model.constraints}
    start = [by_name[n] for n in scip_iis if n in by_name]

    def infeasible(constraints: list[Any], variables: dict[str, Var]) -> bool | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        feasible = _feasible(replace(model, variables=variables, constraints=constraints), left)
        return None if feasible is None else not feasible

    def out_of_time(keep: list[Any]) -> dict[str, Any]:
        return {"iis": scip_iis or [k.name for k in keep], "iis_note": "not minimised: time limit"}

    if not start or infeasible(start, model.variables) is not True:
        start = list(model.constraints)
        whole = infeasible(start, model.variables)
        if whole is None:
            return out_of_time(start)
        if not whole:  # SCIP said infeasible, the model as read back is not: numerics, or a mark SCIP trusts
            return {"iis": scip_iis, "iis_note": "not confirmed: the model as read back is feasible"}
    if len(start) > MAX_FILTER_CONSTRAINTS:
        return {"iis": scip_iis, "iis_note": f"not minimised: more than {MAX_FILTER_CONSTRAINTS} constraints"}
    keep = list(start)
    for c in start:  # deletion filter over the constraints, all bounds kept
        trial = [k for k in keep if k is not c]
        verdict = infeasible(trial, model.variables)
        if verdict is None:
            return out_of_time(keep)
        if verdict:
            keep = trial
    used = {n for c in keep for n in c.coeffs}
    variables = dict(model.variables)
    bounds: list[tuple[str, str]] = []
    for name in sorted(used):  # then over the finite bounds of the variables those constraints use
        for side in ("lb", "ub"):
            v = variables[name]
            if math.isinf(getattr(v, side)) or (v.type in ("binary", "boolean")):
                continue
            relaxed = {**variables, name: replace(v, lb=-math.inf) if side == "lb" else replace(v, ub=math.inf)}
            verdict = infeasible(keep, relaxed)
            if verdict is None:
                return out_of_time(keep)
            if verdict:
                variables = relaxed
            else:
                bounds.append((name, side))
    names = [k.name for k in keep]
    for name, side in bounds:
        v = variables[name]
        names.append(f"bound {name} >= {v.lb:g}" if side == "lb" else f"bound {name} <= {v.ub:g}")
    integral = sorted(n for n in used if variables[n].integral)
    out: dict[str, Any] = {"iis": names, "iis_confirmed": True}
    if integral:
        out["iis_integrality"] = integral  # the conflict may need them to be integers (2x - 2y = 1)
    return out
