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


def test_a_proof_of_some_other_statement_is_rejected(scripted, lean_binary: str) -> None:
    """The model picks the statement it passes to lean; Lean checks it against the problem's own statement,
    and a proof of another statement is sent back to be done again."""
    other = PRELUDE + "theorem triv (x : N) : Eq2 x x := by sorry\n"
    proof = PRELUDE + "theorem triv (x : N) : Eq2 x x := Eq2.refl x\n"
    right = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
    script = {
        "planner": ["check it with lean"],
        "solver": [
            {"tool_calls": [{"name": "lean", "arguments": {"proof": proof, "statement": other}}]},
            "done",
            {"tool_calls": [{"name": "lean", "arguments": {"proof": right, "statement": STATEMENT}}]},
            "done",
        ],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["Prove refl_z as stated."],
    }
    with scripted(script) as model:
        graph = SolveRunner(ModelClient(model.base_url), session_options={"lean_path": lean_binary})
        t = graph.solve(f"Prove in Lean 4: {STATEMENT}")
    verdicts = [s.verdict for s in t.steps if s.agent == "verifier"]
    assert not verdicts[0]["accepted"] and verdicts[0]["source"] == "verifier:lean-judge"
    assert "exactly as the problem states it" in verdicts[0]["feedback"]
    assert verdicts[-1]["trust"] == "tool-verified" and t.trust == "tool-verified"


def test_a_problem_without_a_lean_statement_stays_model_accepted(scripted, lean_binary: str) -> None:
    """With no Lean statement in the problem there is nothing to check the model's statement against."""
    other = PRELUDE + "theorem triv (x : N) : Eq2 x x := by sorry\n"
    proof = PRELUDE + "theorem triv (x : N) : Eq2 x x := Eq2.refl x\n"
    script = {
        "planner": ["check it with lean"],
        "solver": [{"tool_calls": [{"name": "lean", "arguments": {"proof": proof, "statement": other}}]}, "done"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        graph = SolveRunner(ModelClient(model.base_url), session_options={"lean_path": lean_binary})
        t = graph.solve("Show in Lean 4 that every N is related to itself by Eq2.")
    last = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    assert last["accepted"] and last["source"] == "model" and "verified_by" not in last
    assert t.trust == "model-accepted" and not t.reusable
    assert any("contains no Lean statement" in note for note in last["checks"]), "the record says why"
