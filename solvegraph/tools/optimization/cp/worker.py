"""The sandboxed solver worker's side of ``cp``: build a CP-SAT model, solve it, name an unsat core.

These functions run only in the :class:`~solvegraph.sandbox.SandboxWorker` process the host starts;
they import nothing of solvegraph but the model core.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from typing import Any

from .._readback import relative_gap, unchecked_summary
from ..model import Affine, ModelError, OptModel, affine_bounds, parse_model, without_cyclic_gc
from ._cpsat import _solver, read_status, status_name
from ._proto import ProtoReader
from .certify import restricted_status


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
        ct = cp.add_linear_constraint(row, lo, hi).with_name(c.name)  # the core names them in the proto
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


def solve_cpsat(
    model: OptModel, time_limit: float = 60.0, threads: int = 1, deadline: float | None = None
) -> dict[str, Any]:
    """Solve, and name an unsat core when infeasible; the core's solve gets what is left of ``deadline``
    (``time.monotonic()``, default ``time_limit`` from now), so the call as a whole keeps its limit."""
    from ortools.sat.python import cp_model

    deadline = time.monotonic() + time_limit if deadline is None else deadline
    time_limit = max(0.05, deadline - time.monotonic())
    cp, xs, _ = build_cpsat(model)
    invalid = cp.validate()
    if invalid:
        raise ModelError("(model)", f"CP-SAT rejected the model: {invalid}")
    solver = _solver(time_limit, threads)
    started = time.perf_counter()
    status = solver.solve(cp)
    out = read_status(solver, status, xs, model.objective is not None, time_limit)
    out["solve_time"] = time.perf_counter() - started
    if out["values"]:
        out["certificate"] = certificate_part(proto_text(cp), [int(x) for x in solver.ResponseProto().solution])
    if status == cp_model.INFEASIBLE:
        out["unsat_core"] = unsat_core(model, max(0.05, deadline - time.monotonic()))
        core = out["unsat_core"]
        # Confirmed as ``cp.certify`` re-checks it: the proto with only the core's constraints is infeasible
        # by a solve of its own. A core naming no constraint of the proto (the hard ones alone) is not.
        names = {c.name for c in model.constraints}
        left = max(0.05, deadline - time.monotonic())
        if core and set(core) <= names and restricted_status(cp, set(core), left) == "infeasible":
            out["unsat_core_confirmed"] = True
            out["certificate"] = certificate_part(proto_text(cp), [])
    return out


def proto_text(cp: Any) -> str:
    """The CpModelProto in CP-SAT's text format, as ``export_to_file`` writes it (code mode's kernel too)."""
    fd, path = tempfile.mkstemp(suffix=".pb.txt", dir=".")
    os.close(fd)
    try:
        cp.export_to_file(path)
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def certificate_part(text: str, solution: list[int]) -> dict[str, Any]:
    """What a certificate of this result needs from this process: the model as CP-SAT read it and the value
    of every variable in it, in its order (intervals' auxiliary variables too, which the answer omits)."""
    import ortools

    return {
        "artifacts": {"model.pb.txt": text},
        "solution": solution,
        "provenance": {"solver": "CP-SAT", "ortools": getattr(ortools, "__version__", "")},
    }


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


def solve_declarative(raw_model: dict[str, Any], time_limit: float, threads: int) -> dict[str, Any]:
    """In the sandboxed worker: parse, build and solve; a ModelError reaches the host as ValueError."""
    deadline = time.monotonic() + time_limit  # the limit counts parsing and building too
    try:
        return solve_cpsat(parse_model(raw_model, kind="cp"), time_limit, threads, deadline)
    except ModelError as exc:
        raise ValueError(str(exc)) from None


def recheck_claim(text: str, fmt: str, claim: dict[str, Any], time_limit: float, threads: int) -> dict[str, Any]:
    """In a fresh sandboxed worker: code mode's evidence, computed where the model's code never ran.

    CP-SAT reads the CpModelProto the kernel wrote and solves it again. The result keeps the kernel's
    claimed solution and objective (what the answer says) for the host's re-check against the model read
    here, and takes the evidence from this solve: the objective bound, the gap to the claimed objective,
    and the constraints the checker cannot evaluate.
    """
    from ortools.sat.python import cp_model

    if fmt != "cpproto":
        raise ValueError(f"unknown format {fmt!r}")
    status, solution, objective = claim.get("status"), claim.get("solution"), claim.get("objective")
    if not isinstance(status, str) or not isinstance(solution, list):
        raise ValueError("the kernel's claim has no status or solution")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in solution) or not (
        objective is None or (isinstance(objective, (int, float)) and not isinstance(objective, bool))
    ):
        raise ValueError("the kernel's claimed solution and objective must be numbers")
    cp = cp_model.CpModel()
    try:
        cp.Proto().parse_text_format(text)
    except Exception:
        raise ValueError("CP-SAT could not read the model file the kernel wrote") from None
    proto = cp.Proto()
    reader = ProtoReader(proto)
    model = reader.read()
    solver = _solver(time_limit, threads)
    own_status = status_name(solver.solve(cp))
    has_objective = proto.has_objective()
    bound = solver.best_objective_bound if has_objective and own_status in ("optimal", "feasible") else None
    out: dict[str, Any] = {"status": own_status, "objective": None, "values": {}, "gap": None, "model": model}
    if reader.unchecked:
        out["unchecked"] = unchecked_summary(reader.unchecked)
    out["recheck"] = {
        "by": "CP-SAT in a fresh sandboxed worker, from the model file",
        "status": own_status,
        "objective": solver.objective_value if bound is not None else None,
        "dual_bound": bound,
        "solve_time": solver.wall_time,
    }
    if status not in ("optimal", "feasible", "time_limit") or not solution:
        if status != own_status:
            out["recheck"]["claimed_status"] = status
        return out
    if len(solution) != len(reader.names):
        raise ValueError(f"the kernel's claimed solution has {len(solution)} values for {len(reader.names)} variables")
    out.update(status=status, values=dict(zip(reader.names, solution, strict=True)), objective=objective)
    out["certificate"] = certificate_part(text, list(solution))
    out["solve_time"] = claim.get("solve_time")
    if bound is not None:
        out["dual_bound"] = bound
        if objective is not None:
            out["gap"] = relative_gap(objective, bound)
    return out
