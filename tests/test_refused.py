"""A prompt the endpoint refuses (over the context length) ends that problem as 'refused', not as a normal run."""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.memory import Store
from tests.conftest import DATA, run_cli

TOO_LONG = {"status": 400, "message": "Requested tokens (9000) exceed context window of 8192"}


def test_solve_stores_a_refused_prompt_as_refused(scripted, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"
    with scripted({"planner": [TOO_LONG]}) as model:
        proc = run_cli("solve", "What is 6*7?", "--base-url", model.base_url, "--db", db)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "refused the prompt (400): " in proc.stderr and "exceed context window" in proc.stderr
    store = Store(db)
    run = store.runs()[0]
    assert run["status"] == "refused"
    trajectory = store.load(store.resolve(run["id"])[1][0])
    assert (trajectory.status, trajectory.answer, trajectory.reusable) == ("refused", None, False)
    assert trajectory.steps[-1].agent == "runner" and "exceed context window" in trajectory.steps[-1].reply
    listed = run_cli("runs", "list", "--db", db, "--json")
    assert json.loads(listed.stdout)[0]["status"] == "refused"


def test_bench_counts_a_refused_sample_and_goes_on(scripted, tmp_path: Path) -> None:
    def solver(body):
        question = body["messages"][-1]["content"]
        return TOO_LONG if "Janet" in question else "ANSWER: 3"

    db = tmp_path / "m.sqlite"
    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "3", "--strategy", "direct",
            "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 3 and summary["outcomes"]["refused"] == 1
    rows = {r["sample"]: r for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    refused = [r for r in rows.values() if r["outcome"] == "refused"]
    assert len(refused) == 1 and "exceed context window" in refused[0]["details"]["failure"]
    assert Store(f"sqlite:///{db}").load(refused[0]["trajectory"]).status == "refused"


def test_chat_goes_on_after_a_refused_question(scripted) -> None:
    def planner(body):
        question = body["messages"][-1]["content"]
        return TOO_LONG if "long" in question else "plan"

    script = {"planner": [planner], "solver": ["ANSWER: 2"], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script) as model:
        proc = run_cli("chat", "--base-url", model.base_url, input="A very long question\nWhat is 1+1?\nexit\n")
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "refused: the model endpoint" in said and "the session goes on" in said
    assert proc.stdout.count("answer: ") == 1, "the second question was answered in the same session"
