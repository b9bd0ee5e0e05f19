"""Disputed gold: a tool-verified answer the gold contradicts is `disputed`, with its evidence, not `wrong`."""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.memory import Store
from tests.agents.test_optimization_graph import RIGHT
from tests.conftest import DATA, run_cli


def test_a_tool_verified_answer_against_a_wrong_gold_is_disputed(scripted, tmp_path: Path) -> None:
    ducks = json.loads((DATA / "nl4opt/NL4OPT.jsonl").read_text().splitlines()[0])  # gold 1160
    data = tmp_path / "nl4opt.jsonl"
    rows = [
        {**ducks, "en_answer": 1160.0},  # line 1: the right gold
        {**ducks, "en_question": ducks["en_question"] + " ", "en_answer": 999.0},  # line 2: a wrong gold
        {**ducks, "en_question": ducks["en_question"] + " (copy)", "en_answer": 1160.0},  # line 3: unchecked
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def solver(body):
        last = body["messages"][-1]
        if last.get("role") == "tool":
            return "ANSWER: 1160"
        if any("(copy)" in str(m.get("content")) for m in body["messages"]):  # no tool call: not tool-verified
            return "ANSWER: 5000"
        return {"tool_calls": [{"name": "milp", "arguments": {"model": RIGHT}}]}

    script = {"planner": ["1. model 2. milp"], "solver": [solver], "verifier": ["VERDICT: ACCEPT"]}
    db = tmp_path / "m.sqlite"
    with scripted(script) as model:
        proc = run_cli(
            "bench", "nl4opt", "--data", str(data), "--strategy", "graph", "-j", "1", "--json",
            "--base-url", model.base_url, "--db", f"sqlite:///{db}",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        report = run_cli("bench", "report", summary["run_id"], "--db", f"sqlite:///{db}")
    results = {r["sample"]: r for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    assert {k: v["outcome"] for k, v in results.items()} == {
        "nl4opt-1": "correct",
        "nl4opt-2": "disputed",
        "nl4opt-3": "wrong",  # wrong and unverified: a plain error
    }
    evidence = results["nl4opt-2"]["details"]["evidence"]
    assert evidence["verified_by"] == ["milp-check"]
    assert evidence["tool_calls"][-1]["name"] == "milp"
    assert summary["outcomes"]["disputed"] == 1
    assert summary["accuracy"] == 1 / 3
    assert summary["accuracy_without_disputed"] == 1 / 2
    assert [d["sample"] for d in summary["disputed"]] == ["nl4opt-2"]
    assert report.returncode == 0, report.stderr
    assert "disputed nl4opt-2: answer 1160, gold 999.0; verified by milp-check" in report.stdout
    # The two tool-verified answers keep their certificates with their sample's trajectory; verify re-checks
    # the run's (the unchecked sample has none).
    store = Store(f"sqlite:///{db}")
    _, ids = store.resolve(summary["run_id"])
    kinds = [[c.kind for c in store.certificates(i)] for i in ids]
    assert sorted(kinds) == [[], ["milp"], ["milp"]]
    assert all(c.answer == "1160" and c.trajectory_id == i for i in ids for c in store.certificates(i))
    store.close()
    verified = run_cli("verify", summary["run_id"], "--db", f"sqlite:///{db}")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1] == "verified: 2 verified (2 certificates)"
