"""The graph on an optimization problem: an infeasible model's IIS reaches the refiner, then a fix is solved."""

from __future__ import annotations

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient

WRONG = {
    "variables": [{"name": "boat", "type": "integer"}, {"name": "canoe", "type": "integer"}],
    "constraints": [
        {"name": "boat_limit", "coeffs": {"boat": 1}, "sense": "<=", "rhs": 12},
        {"name": "canoe_limit", "coeffs": {"canoe": 1}, "sense": "<=", "rhs": 10},  # misread: should not exist
        {"name": "ducks", "coeffs": {"boat": 10, "canoe": 8}, "sense": ">=", "rhs": 300},
    ],
    "objective": {"sense": "minimize", "coeffs": {"boat": 20, "canoe": 40}},
}
RIGHT = {
    **WRONG,
    "constraints": [
        {"name": "boat_limit", "coeffs": {"boat": 1}, "sense": "<=", "rhs": 12},
        {"name": "canoe_share", "coeffs": {"canoe": 0.4, "boat": -0.6}, "sense": ">=", "rhs": 0},
        {"name": "ducks", "coeffs": {"boat": 10, "canoe": 8}, "sense": ">=", "rhs": 300},
    ],
}


def test_iis_drives_the_repair(scripted) -> None:
    script = {
        "planner": ["1. variables boat, canoe 2. constraints 3. milp"],
        "solver": [
            {"tool_calls": [{"name": "milp", "arguments": {"model": WRONG}}]},
            # A number despite the infeasible result: the IIS is the feedback. (Answered "infeasible", the
            # confirmed IIS would certify that answer: tests/agents/test_infeasible_certificates.py.)
            "ANSWER: 200",
            {"tool_calls": [{"name": "milp", "arguments": {"model": RIGHT}}]},
            "ANSWER: 1160",
        ],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["Remove canoe_limit; the problem says at least 60% of trips are by canoe."],
    }
    with scripted(script) as model:
        t = SolveRunner(ModelClient(model.base_url)).solve("Ducks: boats and canoes ... minimize time.")
        refiner_prompt = model.calls("refiner")[0]["messages"][1]["content"]
    first = next(s.verdict for s in t.steps if s.agent == "verifier")
    assert first["source"] == "verifier:milp-check" and not first["accepted"]
    assert "canoe_limit" in first["feedback"] and "ducks" in first["feedback"]
    assert "boat_limit" in first["feedback"]
    assert "canoe_limit" in refiner_prompt, "the refiner gets the conflicting constraint names"
    last = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    assert last["accepted"] and any("milp-check" in c for c in last["checks"])
    assert t.solved and t.answer == "1160"
    # The re-check accepted it, and exact rationals and HiGHS agreed: the tier above tool-verified.
    assert last["trust"] == "cross-verified" and last["verified_by"] == ["milp-check"]
    assert last["cross_verified_by"] == ["exact-rational", "highs"]
    assert t.trust == "cross-verified" and t.reusable, "a cross-checked optimum may teach without the opt-in"


def test_without_the_cross_check_the_answer_is_tool_verified(scripted) -> None:
    """``[tools.milp] cross_check = false``: the re-check alone, so tool-verified, as before the tier."""
    script = {
        "planner": ["1. milp"],
        "solver": [{"tool_calls": [{"name": "milp", "arguments": {"model": RIGHT}}]}, "ANSWER: 1160"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        runner = SolveRunner(ModelClient(model.base_url), session_options={"tools": {"milp": {"cross_check": False}}})
        t = runner.solve("Ducks: boats and canoes ... minimize time.")
    assert t.solved and t.trust == "tool-verified"
    result = next(r for s in t.steps for r in s.tool_results if r.get("name") == "milp")
    assert "cross_check" not in result["data"]
