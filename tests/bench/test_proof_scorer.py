"""The proof scorer re-checks the run's final proof against the sample's own statement, with a real Lean.

The model chooses the arguments of its lean calls, so their verdicts are not evidence: a run that
checks an unrelated trivial theorem must score wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.bench.scorers import final_proof, proof_score
from solvegraph.memory import Store
from tests.conftest import run_cli
from tests.tools.test_lean import PRELUDE, STATEMENT

HONEST = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
# Proves something true, but not the asked statement: the tool accepts it when asked about it alone.
UNRELATED = PRELUDE + "theorem triv (x : N) : Eq2 x x := Eq2.refl x\n"


def lean_call(proof: str, **extra: str) -> dict:
    return {"agent": "solver", "reply": "", "tool_calls": [{"name": "lean", "arguments": {"proof": proof, **extra}}]}


def test_a_lean_call_on_an_unrelated_theorem_scores_wrong(lean_binary: str) -> None:
    trajectory = {
        "steps": [
            lean_call(UNRELATED, theorem="triv"),
            {"agent": "solver", "reply": "ANSWER: proved", "tool_calls": []},
        ]
    }
    gold = {"statement": STATEMENT, "theorem": "refl_z"}
    score = proof_score("proved", gold, trajectory, options={"lean_path": lean_binary})
    assert not score.correct
    assert score.detail["proof_from"] == "the proof of the last lean call"
    assert any("refl_z" in r for r in score.detail["reasons"]), score.detail


def test_the_final_reply_s_lean_block_is_the_proof_and_it_is_checked(lean_binary: str) -> None:
    trajectory = {
        "steps": [
            lean_call(UNRELATED, theorem="triv"),
            {"agent": "solver", "reply": f"Here it is.\n```lean\n{HONEST}```\nANSWER: proved", "tool_calls": []},
        ]
    }
    score = proof_score("proved", {"statement": STATEMENT}, trajectory, options={"lean_path": lean_binary})
    assert score.correct, score.detail
    assert score.detail["proof_from"] == "the last lean block of the final reply"
    assert score.detail["checks"]["statement"].startswith("matches"), score.detail["checks"]


def test_without_a_statement_or_a_proof_nothing_scores() -> None:
    steps = {"steps": [lean_call(HONEST)]}
    assert proof_score("accepted", None, steps).detail["reason"].startswith("the sample has no Lean statement")
    empty = proof_score("accepted", STATEMENT, {"steps": []})
    assert not empty.correct and empty.detail["reason"] == "the run produced no proof"


def test_final_proof_prefers_the_last_reply_over_earlier_calls() -> None:
    steps = [lean_call("A"), {"agent": "solver", "reply": "```lean4\nB\n```", "tool_calls": []}]
    assert final_proof({"steps": steps}) == ("B\n", "the last lean block of the final reply")
    steps = [{"agent": "solver", "reply": "```lean\nA\n```"}, lean_call("B"), {"agent": "solver", "reply": "done"}]
    assert final_proof({"steps": steps}) == ("B", "the proof of the last lean call")


def test_bench_scores_proofs_with_its_own_check(scripted, lean_binary: str, tmp_path: Path) -> None:
    """End to end: `bench --scorer proof` hands its --lean-path to the scorer, which re-runs Lean."""
    data = tmp_path / "proofs.jsonl"
    honest_statement = STATEMENT
    cheat_statement = PRELUDE + "theorem bad : Eq2 N.z (N.s N.z) := by sorry\n"
    data.write_text(
        json.dumps({"id": "honest", "statement": honest_statement})
        + "\n"
        + json.dumps({"id": "cheat", "statement": cheat_statement})
        + "\n"
    )

    def solver(body):
        question = body["messages"][-1]["content"]
        if any(m.get("role") == "tool" for m in body["messages"]):
            return "ANSWER: proved"
        if "theorem bad" in question:  # cannot prove it, so checks something else and claims success
            return {"tool_calls": [{"name": "lean", "arguments": {"proof": UNRELATED, "theorem": "triv"}}]}
        return {"tool_calls": [{"name": "lean", "arguments": {"proof": HONEST, "statement": honest_statement}}]}

    script = {"planner": ["check it with lean"], "solver": [solver], "verifier": ["VERDICT: ACCEPT"]}
    db = tmp_path / "m.sqlite"
    with scripted(script) as model:
        proc = run_cli(
            "bench",
            "jsonl",
            "--data",
            str(data),
            "--question-field",
            "statement",
            "--answer-field",
            "statement",
            "--scorer",
            "proof",
            "--lean-path",
            lean_binary,
            "--json",
            "--base-url",
            model.base_url,
            "--db",
            f"sqlite:///{db}",
        )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["correct"] == 1, summary
    # The honest run's lean call closed the problem's own statement; the cheat's checked another theorem.
    assert summary["trust"] == {"tool-verified": {"n": 1, "correct": 1}, "model-accepted": {"n": 1, "correct": 0}}
    outcomes = {r["sample"]: r["outcome"] for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    assert sorted(outcomes.values()) == ["correct", "wrong"], outcomes
