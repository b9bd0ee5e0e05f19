"""DCP-Bench-Open's check, run *inside* a sandboxed worker: an answer against the gold CPMpy model.

:mod:`solvegraph.bench._dcp` starts it (through :mod:`._pool`). The gold model is a Python script from
the dataset, so running it is running downloaded code; the answer is model output. Neither runs in
solvegraph's process.

The check is DCP-Bench-Open's own (``eval.py``): run the gold script (it builds ``model`` and solves it
once), fix each decision variable the answer names to the answer's value, and solve again. The answer
is right when the gold model is still satisfiable and, for an optimisation problem, its objective is
still the gold optimum. Unlike ``eval.py``, which pastes ``model += (KEY == VALUE)`` into the script,
the answer never becomes code here: each key is looked up among the script's names and each value is
checked to be integers or booleans of the variable's shape before it is posted as a constraint.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

TIME_LIMIT_S = 60.0  # the solver's limit, per solve (eval.py gives the whole script 60 s)


def _gold(script: str) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The script's names, its ``model`` and the solution it printed (its last JSON object)."""
    import cpmpy as cp

    names: dict[str, Any] = {"__name__": "__dcp_gold__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(script, "<gold model>", "exec"), names)
    from cpmpy.solvers.solver_interface import SolverInterface

    model = names.get("model")  # a Model, or a solver some scripts build directly (posting native constraints)
    if not isinstance(model, cp.Model | SolverInterface):
        raise ValueError("the gold script defines no CPMpy `model`")
    return names, model, last_json_object(printed.getvalue())


def last_json_object(text: str) -> dict[str, Any]:
    """The last line of ``text`` that is a JSON object, else its first ``{`` to its last ``}`` (as
    ``eval.py`` reads a model's output); empty if neither is one."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            with contextlib.suppress(ValueError):
                found = json.loads(line)
                if isinstance(found, dict):
                    return found
    with contextlib.suppress(ValueError):
        found = json.loads(text[text.find("{") : text.rfind("}") + 1])
        if isinstance(found, dict):
            return found
    return {}


def _values(value: Any) -> Any:
    """The answer's value as a numpy array of ints; ValueError if it holds anything else."""
    import numpy as np

    def check(v: Any) -> Any:
        if isinstance(v, list):
            return [check(x) for x in v]
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise ValueError(f"{v!r} is not an integer or a boolean")

    array = np.array(check(value), dtype=object)
    if array.dtype != object or any(isinstance(x, list) for x in array.flat):
        raise ValueError("a ragged list")
    return array


def check(script: str, answer: dict[str, Any], time_limit_s: float = TIME_LIMIT_S) -> dict[str, Any]:
    """``{"correct": bool, "reason": ..., ...}``; ValueError when the gold itself cannot be run."""
    import numpy as np
    from cpmpy.expressions.core import Expression

    names, model, gold_solution = _gold(script)
    keys = sorted(gold_solution)
    detail: dict[str, Any] = {"keys": keys}
    if set(answer) != set(keys):
        extra, missing = sorted(set(answer) - set(keys)), sorted(set(keys) - set(answer))
        detail["reason"] = "the answer's keys are not the problem's: " + "; ".join(
            part for part in (f"unexpected {extra}" if extra else "", f"missing {missing}" if missing else "") if part
        )
        return {"correct": False, **detail}
    objective = model.objective_value() if model.has_objective() else None
    if model.has_objective() and objective is None:  # a script that never solved its own model
        model.solve(time_limit=time_limit_s)
        objective = model.objective_value()
    constraints = []
    for key in keys:
        target = names.get(key)
        try:
            values = _values(answer[key])
        except ValueError as exc:
            return {"correct": False, "reason": f"{key}: {exc}", **detail}
        if isinstance(target, np.ndarray | Expression):
            shape = np.shape(target) if isinstance(target, np.ndarray) else ()
            if values.shape != shape:
                return {"correct": False, "reason": f"{key}: shape {values.shape}, expected {shape}", **detail}
            flat = list(np.ravel(target)) if shape else [target]
            constraints += [t == int(v) for t, v in zip(flat, np.ravel(values), strict=True)]
        elif target is None:
            raise ValueError(f"the gold script has no variable named {key!r}")
        elif not np.array_equal(np.array(target, dtype=object), values):  # a value the script computed
            return {"correct": False, "reason": f"{key}: not the gold's value", **detail}
    model += constraints
    sat = model.solve(time_limit=time_limit_s)
    status = str(model.status().exitstatus.name)
    detail["status"] = status
    if not sat:
        if status == "UNSATISFIABLE":
            return {"correct": False, "reason": "the answer violates the gold model's constraints", **detail}
        return {"correct": False, "reason": f"the solver could not decide within {time_limit_s:g} s", **detail}
    if objective is None:
        return {"correct": True, **detail}
    got = model.objective_value()
    detail |= {"objective": objective, "answer_objective": got}
    if got != objective:
        return {
            "correct": False,
            "reason": f"feasible, but its objective is {got}, not the optimum {objective}",
            **detail,
        }
    return {"correct": True, **detail}


# A first call as a worker starts: it imports cpmpy and OR-Tools before any answer's time limit runs.
WARM = (
    "from cpmpy import *\nx = intvar(0, 1, name='x')\nmodel = Model(x == 1)\nmodel.solve()\nprint('{\"x\": 1}')\n",
    {"x": 1},
)
