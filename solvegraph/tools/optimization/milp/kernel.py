"""The model's kernel's side of ``milp`` code mode: write the model file and the claimed solution, nothing more.

The host sends :data:`EXPORT` as a cell to the session's python kernel after the model's own code; that
cell imports this module there. What it prints is a *claim*: the model as SCIP's writer wrote it and the
solution the kernel's SCIP reports. Anything the model's code left in the kernel (a patched getter, a
replaced class) can shape it, so the host never takes it as evidence: a fresh sandboxed SCIP worker reads
the file, checks the claimed solution against it and solves it again (``worker.recheck_claim``).

The file is SCIP's own CIP format: its LP and MPS writers drop what they cannot express (an ``xor`` is
written as a comment), and a dropped constraint would pass the re-check unseen. Only pyscipopt is
needed here, never the plugin layer.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ._scip import _STATUS


def export(scip: Any) -> dict[str, Any]:
    """Inside the kernel: the model file's text and the claimed status, values and objective."""
    from pyscipopt import Model

    if not isinstance(scip, Model):
        return {"error": f"expected a pyscipopt Model, found {type(scip).__name__}"}
    status = _STATUS.get(scip.getStatus(), scip.getStatus())
    if status == "unknown":
        return {"error": "the model was built but never optimized; call model.optimize()"}
    fd, path = tempfile.mkstemp(suffix=".cip")
    os.close(fd)
    try:
        scip.writeProblem(path, trans=False, verbose=False)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    finally:
        os.unlink(path)
    claim: dict[str, Any] = {"status": status, "values": {}, "objective": None, "solve_time": scip.getSolvingTime()}
    if scip.getNSols() > 0 and status != "infeasible":
        sol = scip.getBestSol()
        claim["values"] = {v.name: scip.getSolVal(sol, v) for v in scip.getVars()}
        claim["objective"] = scip.getSolObjVal(sol) if status != "unbounded" else None
    return {"format": "cip", "text": text, "claim": claim}


# The cell the host sends after the model's own code; it names this module by its import path, whatever it is.
EXPORT = f"""
import json as _sg_json
from {export.__module__} import export as _sg_export
print(_sg_json.dumps(_sg_export({{var}})))
"""
