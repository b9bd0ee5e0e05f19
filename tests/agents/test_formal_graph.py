"""Lean as the verifier in the graph: its diagnostic reaches the refiner, and the repaired proof is accepted."""

from __future__ import annotations

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from tests.tools.test_lean import PRELUDE, STATEMENT


def test_lean_errors_drive_the_repair(scripted, lean_binary: str) -> None:
    wrong = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl (N.s N.z)\n"
    right = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
    script = {
        "planner": ["1. write the proof 2. check it with lean"],
        "solver": [
            {"tool_calls": [{"name": "lean", "arguments": {"proof": wrong, "statement": STATEMENT}}]},
            "ANSWER: proved",
            {"tool_calls": [{"name": "lean", "arguments": {"proof": right, "statement": STATEMENT}}]},
            "done",
        ],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["Use Eq2.refl N.z: the argument must be N.z."],
    }
    with scripted(script) as model:
        graph = SolveRunner(ModelClient(model.base_url), session_options={"lean_path": lean_binary})
        t = graph.solve(f"Prove in Lean 4: {STATEMENT}")
        refiner_prompt = model.calls("refiner")[0]["messages"][1]["content"]
    first = next(s.verdict for s in t.steps if s.agent == "verifier")
    assert not first["accepted"] and "Type mismatch" in first["feedback"] and "line 7" in first["feedback"]
    assert "Type mismatch" in refiner_prompt
    assert t.solved and t.answer == "accepted"
    last = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    assert last["trust"] == "tool-verified" and last["verified_by"] == ["lean-judge"]
    assert t.trust == "tool-verified"
    from solvegraph.bench.scorers import proof_score

    options = {"lean_path": lean_binary}
    assert proof_score(t.answer, STATEMENT, t.to_dict(), options).correct
    assert not proof_score("accepted", STATEMENT, {"steps": []}, options).correct, "a claim without a proof scores 0"


def test_a_proof_of_some_other_statement_is_not_tool_verified(scripted, lean_binary: str) -> None:
    """The model picks the statement it passes to lean; only the problem's own statement verifies."""
    other = PRELUDE + "theorem triv (x : N) : Eq2 x x := by sorry\n"
    proof = PRELUDE + "theorem triv (x : N) : Eq2 x x := Eq2.refl x\n"
    script = {
        "planner": ["check it with lean"],
        "solver": [{"tool_calls": [{"name": "lean", "arguments": {"proof": proof, "statement": other}}]}, "done"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        graph = SolveRunner(ModelClient(model.base_url), session_options={"lean_path": lean_binary})
        t = graph.solve(f"Prove in Lean 4: {STATEMENT}")
    last = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    assert last["accepted"] and last["source"] == "model" and "verified_by" not in last
    assert t.trust == "model-accepted" and not t.reusable
