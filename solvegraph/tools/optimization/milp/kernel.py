"""The model's kernel's side of ``milp`` code mode: read an optimized pyscipopt Model back.

The host sends :data:`READ_BACK` as a cell to the session's python kernel after the model's own code;
that cell imports this module there. Only pyscipopt and the model core are needed, never the plugin layer.
"""

from __future__ import annotations

from typing import Any

from ._scip import _STATUS, _attach_model, _solution


def read_back(scip: Any) -> dict[str, Any]:
    """Inside the kernel: status, solution and model of an optimized pyscipopt Model."""
    from pyscipopt import Model

    if not isinstance(scip, Model):
        return {"error": f"expected a pyscipopt Model, found {type(scip).__name__}"}
    status = _STATUS.get(scip.getStatus(), scip.getStatus())
    if status == "unknown":
        return {"error": "the model was built but never optimized; call model.optimize()"}
    out: dict[str, Any] = {
        "status": status,
        "objective": None,
        "values": {},
        "gap": None,
        "solve_time": scip.getSolvingTime(),
    }
    _attach_model(out, scip)
    out.update(_solution(scip, status))
    return out


# The cell the host sends after the model's own code; it names this module by its import path, whatever it is.
READ_BACK = f"""
import json as _sg_json
from {read_back.__module__} import read_back as _sg_read_back
print(_sg_json.dumps(_sg_read_back({{var}})))
"""
