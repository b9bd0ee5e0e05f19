"""Issue 29 item 4: the cross-check of milp/cp answers by independent routes, with real SCIP, HiGHS and
CP-SAT in the real sandbox (a fresh worker per cross-check)."""

from __future__ import annotations

import pytest

from solvegraph.agents.verifier import Accepted, trust_of
from solvegraph.plugins import ToolSession
from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.cp.host import cp
from solvegraph.tools.optimization.crosscheck import cross_check
from solvegraph.tools.optimization.milp.host import milp
from solvegraph.types import TRUST_LEVELS, may_teach, verified

KNAPSACK = {  # max 5a + 4b + 3c + s, 2a + 3b + c + s <= 5.5, s <= 0.5: optimum 9.5 at a = b = 1, s = 0.5
    "variables": [{"name": n, "type": "binary"} for n in ("a", "b", "c")]
    + [{"name": "s", "type": "continuous", "ub": 0.5}],
    "constraints": [{"name": "weight", "coeffs": {"a": 2, "b": 3, "c": 1, "s": 1}, "sense": "<=", "rhs": 5.5}],
    "objective": {"sense": "maximize", "coeffs": {"a": 5, "b": 4, "c": 3, "s": 1}},
}


def test_a_milp_both_routes_agree_on_is_cross_verified() -> None:
    with ToolSession() as session:
        r = milp.run({"model": KNAPSACK}, session)
    assert r.ok and r.data["status"] == "optimal" and r.data["objective"] == pytest.approx(9.5)
    check = r.data["cross_check"]
    assert check["agreed"] == ["exact-rational", "highs"], check
    assert "exactly 0" in check["routes"][0]["detail"]
    assert "cross-check: exact-rational agreed; highs agreed" in r.output
    assert r.output.splitlines()[-1] == "objective = 9.5", "the answer line stays last"
    said = review("milp", {"model": KNAPSACK}, r.data, "milp")
    assert said is not None and said["accepted"] and said["cross_verified"] == ["exact-rational", "highs"]
    verdict = {"accepted": True, "source": "deterministic"}
    assert trust_of(verdict, [Accepted("milp-check", said)]) == "cross-verified"


def test_a_tampered_claim_makes_the_routes_disagree_and_review_reject() -> None:
    """A claimed objective changed after the solve: exact rationals recompute 9.5, HiGHS finds 9.5."""
    with ToolSession() as session:
        r = milp.run({"model": KNAPSACK}, session)
    check = cross_check(KNAPSACK, "milp", "optimal", r.data["values"], 10.0, 10.0, 1)
    assert check["agreed"] == []
    assert [x["agreed"] for x in check["routes"]] == [False, False]
    assert "claimed 10" in check["routes"][0]["detail"] and "HiGHS optimum 9.5" in check["routes"][1]["detail"]
    # The same tampering seen by the verifier: the re-check would pass a consistent claim, the route does not.
    data = {**r.data, "cross_check": cross_check(KNAPSACK, "milp", "optimal", r.data["values"], 9.5, 10.0, 1)}
    data["cross_check"]["routes"][1] = {"route": "highs", "agreed": False, "detail": "HiGHS optimum 9"}
    said = review("milp", {"model": KNAPSACK}, data, "milp")
    assert said is not None and said["accepted"] is False
    assert "independent route disagrees: highs: HiGHS optimum 9" in said["feedback"]


def test_an_infeasible_claimed_point_is_found_in_exact_arithmetic() -> None:
    values = {"a": 1, "b": 1, "c": 1, "s": 0}  # weight 6 > 5.5
    check = cross_check(KNAPSACK, "milp", "optimal", values, 12.0, 10.0, 1)
    exact = check["routes"][0]
    assert exact["agreed"] is False and "at row weight" in exact["detail"] and "exactly 1/11" in exact["detail"]


def test_a_nonlinear_constraint_leaves_the_routes_not_run_and_the_answer_tool_verified() -> None:
    model = {
        "variables": [{"name": "x", "type": "continuous", "ub": 3}, {"name": "y", "type": "continuous", "ub": 3}],
        "constraints": [{"name": "disc", "expr": "x**2 + y**2 <= 4"}],
        "objective": {"sense": "maximize", "expr": "x + y"},
    }
    with ToolSession() as session:
        r = milp.run({"model": model}, session)
    assert r.ok and r.data["status"] in ("optimal", "feasible")
    check = r.data["cross_check"]
    assert check["agreed"] == [] and all(x["agreed"] is None for x in check["routes"])
    assert "quadratic constraint disc" in check["routes"][0]["detail"]
    said = review("milp", {"model": model}, r.data, "milp")
    assert said is not None and said["accepted"] and "cross_verified" not in said
    assert trust_of({"accepted": True}, [Accepted("milp-check", said)]) == "tool-verified"


def test_a_cp_integer_model_is_solved_again_by_scip() -> None:
    model = {
        "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 10}, {"name": "y", "type": "integer", "lb": 0,
                      "ub": 10}],
        "constraints": [{"name": "c", "coeffs": {"x": 2, "y": 3}, "sense": "<=", "rhs": 12}],
        "objective": {"sense": "maximize", "coeffs": {"x": 3, "y": 4}},
    }  # fmt: skip
    with ToolSession() as session:
        r = cp.run({"model": model}, session)
    assert r.ok and r.data["status"] == "optimal" and r.data["objective"] == 18
    assert r.data["cross_check"]["agreed"] == ["exact-rational", "scip"], r.data["cross_check"]
    said = review("cp", {"model": model}, r.data, "cp")
    assert said is not None and said["cross_verified"] == ["exact-rational", "scip"]


def test_an_all_different_model_names_what_scip_cannot_take() -> None:
    model = {
        "variables": [{"name": n, "type": "integer", "lb": 1, "ub": 3} for n in "abc"],
        "constraints": [],
        "all_different": [{"name": "distinct", "vars": ["a", "b", "c"]}],
        "objective": {"sense": "maximize", "coeffs": {"a": 1}},
    }
    with ToolSession() as session:
        r = cp.run({"model": model}, session)
    assert r.ok and r.data["cross_check"]["agreed"] == []
    assert "all_different distinct" in r.data["cross_check"]["routes"][1]["detail"]


def test_the_tier_order_and_who_may_teach() -> None:
    assert TRUST_LEVELS == ("cross-verified", "tool-verified", "model-accepted", "unchecked")
    assert may_teach("cross-verified") and may_teach("tool-verified")
    assert not may_teach("model-accepted") and may_teach("model-accepted", reuse_model_accepted=True)
    assert not may_teach("unchecked", reuse_model_accepted=True)
    assert verified("cross-verified") and not verified("model-accepted")


def test_code_mode_is_cross_checked_on_the_model_the_fresh_worker_read() -> None:
    from tests.tools.test_milp import CODE

    with ToolSession() as session:
        r = milp.run({"code": CODE}, session)
    assert r.ok and r.data["status"] == "optimal"
    assert r.data["cross_check"]["agreed"] == ["exact-rational", "highs"], r.data["cross_check"]


def test_a_pure_integer_milp_is_solved_again_by_cp_sat_too() -> None:
    model = {
        "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 4}, {"name": "y", "type": "integer", "lb": 0,
                      "ub": 5}],
        "constraints": [{"name": "cap", "coeffs": {"x": 2, "y": 3}, "sense": "<=", "rhs": 12.5}],
        "objective": {"sense": "maximize", "coeffs": {"x": 3, "y": 4}},
    }  # fmt: skip
    with ToolSession() as session:
        r = milp.run({"model": model}, session)
    assert r.ok and r.data["objective"] == pytest.approx(17)
    assert r.data["cross_check"]["agreed"] == ["exact-rational", "highs", "cp-sat"], r.data["cross_check"]
