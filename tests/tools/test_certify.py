"""The milp and cp certificate checkers on each route's certificate (JSON model, LP text, code mode's model
file), with real SCIP and CP-SAT; what they cannot read is a ValueError naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.cp import certify as cp_certify
from solvegraph.tools.optimization.cp import worker as cp_worker
from solvegraph.tools.optimization.milp import certify as milp_certify
from solvegraph.tools.optimization.milp import worker as milp_worker

LP = """Maximize
 obj: 3 x + 2 y
Subject To
 c1: x + y <= 4
 c2: x + 3 y <= 6
Bounds
 0 <= x <= 3
General
 x
End
"""


def _outcomes(lines: list[dict[str, str]]) -> dict[str, str]:
    return {line["check"]: line["outcome"] for line in lines}


def _certificate(name: str, arguments: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    said = review(name, arguments, data, name)
    assert said is not None and said.get("accepted"), said
    return said["certificate"]


def test_an_lp_text_solve_is_certified_and_rechecked(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = milp_worker.solve_text(LP, "lp", 10, 1)
    cert = _certificate("milp", {"lp": LP}, out)
    assert cert["provenance"]["route"] == "lp" and set(cert["artifacts"]) == {"model.cip", "model.mps"}
    outcomes = _outcomes(milp_certify.check(cert, {}))
    assert set(outcomes.values()) == {"passed"} and outcomes["optimality"] == "passed"
    mps_only = copy.deepcopy(cert)
    del mps_only["artifacts"]["model.cip"]
    assert _outcomes(milp_certify.check(mps_only, {}))["model file"] == "passed", "the MPS file is read too"


def test_code_modes_model_file_is_certified_from_the_file_the_fresh_worker_read(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code mode: the kernel wrote a CIP file and its claim; recheck_claim's result carries the certificate."""
    monkeypatch.chdir(tmp_path)
    from pyscipopt import Model

    scip = Model()
    scip.hideOutput()
    x = scip.addVar("x", vtype="I", lb=0, ub=10)
    y = scip.addVar("y", vtype="B")
    scip.addConsXor([y], True, name="odd")  # a constraint solvegraph's evaluator cannot read back
    scip.addCons(x + 5 * y <= 8, name="cap")
    scip.setObjective(x + y, "maximize")
    scip.optimize()
    from solvegraph.tools.optimization.milp.kernel import export

    exported = export(scip)
    out = milp_worker.recheck_claim(exported["text"], "cip", exported["claim"], 10, 1)
    assert out["status"] == "optimal" and out["certificate"]["artifacts"]["model.cip"]
    data = {**out, "unchecked": []}  # the review's own partial check is not what is under test here
    cert = _certificate("milp", {"code": "..."}, data)
    lines = milp_certify.check(cert, {})
    outcomes = _outcomes(lines)
    assert outcomes["constraints solvegraph cannot evaluate"] == "not checked"
    assert "xor" in next(line["detail"] for line in lines if line["check"].startswith("constraints solvegraph"))
    assert outcomes["constraints (SCIP's check)"] == "passed" and "failed" not in outcomes.values()
    bad = copy.deepcopy(cert)
    bad["claim"]["values"]["y"] = 0.0  # breaks only the xor, which only SCIP's check sees
    bad["claim"]["objective"] -= 1.0
    assert _outcomes(milp_certify.check(bad, {}))["constraints (SCIP's check)"] == "failed"


def test_cp_code_modes_proto_is_certified(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    from ortools.sat.python import cp_model

    from solvegraph.tools.optimization.cp.kernel import export

    model = cp_model.CpModel()
    a, b = model.new_int_var(0, 5, "a"), model.new_int_var(0, 5, "b")
    model.add(a + b <= 7)
    model.add_all_different([a, b])
    model.maximize(2 * a + b)
    solver = cp_model.CpSolver()
    solver.solve(model)
    exported = export(model, solver)
    out = cp_worker.recheck_claim(exported["text"], "cpproto", exported["claim"], 10, 1)
    cert = _certificate("cp", {"code": "..."}, out)
    assert cert["claim"]["solution"] == exported["claim"]["solution"]
    assert set(_outcomes(cp_certify.check(cert, {})).values()) == {"passed"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.pop("claim"), "claim"),
        (lambda c: c["claim"].update(values={"x": "one"}), "claim.values"),
        (lambda c: c["artifacts"].clear(), "artifacts"),
        (lambda c: c["artifacts"].update({"model.cip": c["artifacts"]["model.cip"][:80]}), "artifacts.model.cip"),
    ],
)
def test_what_the_milp_checker_cannot_read_is_a_value_error_naming_the_field(
    change: Any, named: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cert = _certificate("milp", {"lp": LP}, milp_worker.solve_text(LP, "lp", 10, 1))
    change(cert)
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        milp_certify.check(cert, {})
