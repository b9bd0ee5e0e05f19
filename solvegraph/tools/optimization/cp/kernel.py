"""The model's kernel's side of ``cp`` code mode: write the model file and the claimed solution, nothing more.

The host sends :data:`EXPORT` as a cell to the session's python kernel after the model's own code; that
cell imports this module there. What it prints is a *claim*: the CpModelProto (CP-SAT's text format, as
``export_to_file`` writes it) and the solution the kernel's solver reports. Anything the model's code left
in the kernel can shape it, so the host never takes it as evidence: a fresh sandboxed CP-SAT worker reads
the proto, checks the claimed solution against it and solves it again (``worker.recheck_claim``).
Only OR-Tools is needed here, never the plugin layer.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ._cpsat import status_name


def export(cp: Any, solver: Any) -> dict[str, Any]:
    """Inside the kernel: the model's proto text and the claimed status, solution and objective."""
    from ortools.sat.python import cp_model

    if not isinstance(cp, cp_model.CpModel):
        return {"error": f"expected an ortools CpModel named 'model', found {type(cp).__name__}"}
    if not isinstance(solver, cp_model.CpSolver):
        return {"error": f"expected a CpSolver named 'solver', found {type(solver).__name__}"}
    try:
        response = solver.ResponseProto()
    except RuntimeError:
        return {"error": "the model was built but never solved; call solver.Solve(model)"}
    status = status_name(response.status)
    if status == "unknown" and response.wall_time == 0:
        return {"error": "the model was built but never solved; call solver.Solve(model)"}
    fd, path = tempfile.mkstemp(suffix=".pbtxt")
    os.close(fd)
    try:
        cp.export_to_file(path)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    finally:
        os.unlink(path)
    claim: dict[str, Any] = {"status": status, "solution": [], "objective": None, "solve_time": response.wall_time}
    if status in ("optimal", "feasible"):
        claim["solution"] = [int(x) for x in response.solution]
        if cp.Proto().has_objective():
            claim["objective"] = response.objective_value
    return {"format": "cpproto", "text": text, "claim": claim}


# The cell the host sends after the model's own code; it names this module by its import path, whatever it is.
EXPORT = f"""
import json as _sg_json
from {export.__module__} import export as _sg_export
print(_sg_json.dumps(_sg_export(model, solver)))
"""
