"""Code mode reads back the whole model the solver holds, and the independent re-check evaluates each
constraint type: a correct solution is verified, and a solution tampered to break one constraint is
rejected naming that constraint. What the checker cannot evaluate is listed, never claimed checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.cp.host import cp
from solvegraph.tools.optimization.milp.host import milp

CP_CODE = """
from ortools.sat.python import cp_model
model = cp_model.CpModel()
s1, s2, s3 = (model.NewIntVar(0, 20, n) for n in ("s1", "s2", "s3"))
p, b = model.NewBoolVar("p"), model.NewBoolVar("b")
i1 = model.NewIntervalVar(s1, 3, s1 + 3, "i1")
i2 = model.NewIntervalVar(s2, 3, s2 + 3, "i2")
i3 = model.NewOptionalIntervalVar(s3, 2, s3 + 2, p, "i3")
model.AddNoOverlap([i1, i2]).WithName("machine")
model.AddCumulative([i1, i3], [1, 1], 1).WithName("crew")
model.Add(s1 >= 5).WithName("late").OnlyEnforceIf(b)
model.AddBoolOr([b, p]).WithName("either")
idx, t = model.NewIntVar(0, 3, "idx"), model.NewIntVar(0, 10, "t")
model.AddElement(idx, [2, 4, 6, 8], t).WithName("pick")
u, w = model.NewIntVar(0, 5, "u"), model.NewIntVar(0, 5, "w")
model.AddAllowedAssignments([u, w], [[1, 2], [3, 4]]).WithName("pairs")
m = model.NewIntVar(0, 25, "m")
model.AddMultiplicationEquality(m, [u, w]).WithName("prod")
mx = model.NewIntVar(0, 30, "mx")
model.AddMaxEquality(mx, [s1, s2]).WithName("latest")
a, ab = model.NewIntVar(-10, 10, "a"), model.NewIntVar(0, 10, "ab")
model.Add(a <= -3).WithName("neg")
model.AddAbsEquality(ab, a).WithName("size")
q, r = model.NewIntVar(0, 10, "q"), model.NewIntVar(0, 10, "r")
model.AddDivisionEquality(q, t, 3).WithName("third")
model.AddModuloEquality(r, t, 3).WithName("rest")
model.Add(t >= 5).WithName("tmin")
model.AddAllDifferent([u, w, idx]).WithName("distinct")
model.Minimize(mx + m + ab + t)
solver = cp_model.CpSolver()
solver.Solve(model)
"""

# Each tampering breaks (at least) the named constraint while keeping every value in its domain.
CP_TAMPERS: dict[str, Callable[[dict[str, int]], dict[str, int]]] = {
    "machine": lambda v: {"s2": v["s1"]},
    "crew": lambda v: {"p": 1, "s3": v["s1"]},
    "late": lambda v: {"b": 1, "s1": 0, "s2": 10, "mx": 10},
    "either": lambda v: {"b": 0, "p": 0},
    "pick": lambda v: {"t": 10 if v["t"] != 10 else 9},
    "pairs": lambda v: {"u": 2, "w": 2},
    "prod": lambda v: {"m": v["m"] + 1},
    "latest": lambda v: {"mx": v["mx"] + 1},
    "size": lambda v: {"ab": v["ab"] + 1},
    "third": lambda v: {"q": v["q"] + 1},
    "rest": lambda v: {"r": (v["r"] + 1) % 3},
    "distinct": lambda v: {"idx": v["u"]},
}


@pytest.fixture(scope="module")
def cp_result() -> dict[str, Any]:
    with ToolSession() as session:
        r = cp.run({"code": CP_CODE}, session)
    assert r.ok and r.data["status"] == "optimal", r.error
    return r.data


def test_cp_code_mode_reads_back_every_constraint_type(cp_result: dict[str, Any]) -> None:
    assert "unchecked" not in cp_result and "model_error" not in cp_result, cp_result
    verdict = review("cp", {"code": CP_CODE}, cp_result, "cp")
    assert verdict["accepted"] is True, verdict
    model = cp_result["model"]
    assert {iv["name"] for iv in model["intervals"]} == {"i1", "i2", "i3"}
    assert [iv.get("present") for iv in model["intervals"]] == [None, None, "p"]
    assert {g["fn"] for g in model["general"]} == {"max", "mult", "div", "mod"}  # abs and min are lin_max


@pytest.mark.parametrize("name", sorted(CP_TAMPERS))
def test_cp_tampered_solution_is_rejected_naming_the_constraint(cp_result: dict[str, Any], name: str) -> None:
    values = {**cp_result["values"], **CP_TAMPERS[name](cp_result["values"])}
    tampered = {**cp_result, "values": values, "objective": None}
    verdict = review("cp", {"code": CP_CODE}, tampered, "cp")
    assert verdict["accepted"] is False and f"'{name}'" in verdict["feedback"], verdict


SCIP_CODE = """
from pyscipopt import Model
model = Model()
model.hideOutput()
x = model.addVar("x", ub=10)
y = model.addVar("y", ub=10)
z = model.addVar("z", vtype="B")
a, b, c = (model.addVar(n, vtype="B") for n in ("a", "b", "c"))
s1, s2, s3 = (model.addVar(n, ub=4) for n in ("s1", "s2", "s3"))
model.addCons(x * x + y * y <= 50, name="disc")
model.addCons(x * y >= 6, name="area")
model.addConsIndicator(x <= 2, z, name="small")
model.addConsIndicator(y <= 3, z, activeone=False, name="short")
model.addConsSOS1([s1, s2, s3], name="pick1")
model.addConsSOS2([s1, s2, s3], name="pick2")
model.addConsAnd([a, b], c, name="both")
model.addConsKnapsack([a, b, z], [3, 4, 5], 9, name="bag")
model.addConsLogicor([a, z], name="any")
model.addCons(s1 + s2 + s3 >= 3, name="need")
model.setObjective(x + y + s1 + 2 * s2 + 3 * s3 + c, "maximize")
model.optimize()
"""

SCIP_TAMPERS: dict[str, Callable[[dict[str, float]], dict[str, float]]] = {
    "disc": lambda v: {"x": 10.0, "y": 10.0},
    "area": lambda v: {"x": 1.0, "y": 1.0},
    "small": lambda v: {"z": 1.0, "x": 5.0},
    "short": lambda v: {"z": 0.0, "y": 5.0, "indslack_short": 2.0},  # the slack hides it from indlin_short
    "pick1": lambda v: {"s1": 1.0, "s2": 1.0, "s3": 1.0},
    "pick2": lambda v: {"s1": 2.0, "s2": 0.0, "s3": 2.0},
    "both": lambda v: {"a": 1.0, "b": 1.0, "c": 0.0},
    "bag": lambda v: {"a": 1.0, "b": 1.0, "z": 1.0},
    "any": lambda v: {"a": 0.0, "z": 0.0},
}


@pytest.fixture(scope="module")
def scip_result() -> dict[str, Any]:
    with ToolSession() as session:
        r = milp.run({"code": SCIP_CODE}, session)
    assert r.ok and r.data["status"] in ("optimal", "feasible"), r.error
    return r.data


def test_scip_code_mode_reads_back_every_constraint_type(scip_result: dict[str, Any]) -> None:
    assert "unchecked" not in scip_result and "model_error" not in scip_result, scip_result
    verdict = review("milp", {"code": SCIP_CODE}, scip_result, "milp")
    assert verdict["accepted"] is True, verdict
    assert [s["type"] for s in scip_result["model"]["sos"]] == [1, 2]


@pytest.mark.parametrize("name", sorted(SCIP_TAMPERS))
def test_scip_tampered_solution_is_rejected_naming_the_constraint(scip_result: dict[str, Any], name: str) -> None:
    values = {**scip_result["values"], **SCIP_TAMPERS[name](scip_result["values"])}
    tampered = {**scip_result, "values": values, "objective": None}
    verdict = review("milp", {"code": SCIP_CODE}, tampered, "milp")
    assert verdict["accepted"] is False and f"'{name}" in verdict["feedback"], verdict


def test_what_scip_cannot_hand_back_is_listed_not_claimed() -> None:
    """xor has no right-hand side getter, cardinality no bound getter and exp() is not quadratic: each is
    listed by kind and name, and the verdict is not a verification."""
    code = (
        "from pyscipopt import Model, exp\nmodel = Model()\nmodel.hideOutput()\n"
        "a, b = model.addVar('a', vtype='B'), model.addVar('b', vtype='B')\nx = model.addVar('x', ub=3)\n"
        "y, w = model.addVar('y', ub=3), model.addVar('w', ub=3)\n"
        "model.addConsXor([a, b], True, name='odd')\nmodel.addConsCardinality([x, y, w], 2, name='few')\n"
        "model.addCons(exp(x) <= 10, name='growth')\nmodel.setObjective(x + a, 'maximize')\nmodel.optimize()"
    )
    without_cardinality = code.replace("model.addConsCardinality([x, y, w], 2, name='few')\n", "")
    with ToolSession() as session:
        r = milp.run({"code": without_cardinality}, session)
        assert r.ok, r.error
        assert r.data["unchecked"] == ["1 nonlinear constraint (growth)", "1 xor constraint (odd)"]
        verdict = review("milp", {"code": code}, r.data, "milp")
        assert "accepted" not in verdict and "not checked: 1 nonlinear" in verdict["feedback"]
        # SCIP's CIP reader makes a cardinality constraint's indicator variables anew, beside the ones the
        # file lists: the model read in the fresh worker has two 'ind_x', so nothing is claimed verified.
        r = milp.run({"code": code}, session)
        assert r.ok, r.error
        verdict = review("milp", {"code": code}, r.data, "milp")
        assert "accepted" not in verdict and "not re-checked" in verdict["feedback"], verdict
