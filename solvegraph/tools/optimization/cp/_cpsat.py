"""CP-SAT's solver settings and statuses, and a solve read back as a result.

Runs where OR-Tools does: in the sandboxed solver worker and in the model's kernel (code mode).
"""

from __future__ import annotations

from typing import Any

from .._readback import relative_gap


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
