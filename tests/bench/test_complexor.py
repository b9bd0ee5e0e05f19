"""ComplexOR over its committed slice: the produced function runs on every data instance in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.memory import Store
from tests.conftest import DATA, run_cli

KNAPSACK = """def knapsack_optimization(item_values, item_weights, max_weight_knapsack):
    best = [0] * (max_weight_knapsack + 1)
    for value, weight in zip(item_values, item_weights):
        for w in range(max_weight_knapsack, weight - 1, -1):
            best[w] = max(best[w], best[w - weight] + value)
    return float(best[max_weight_knapsack])"""


def test_complexor_functions_are_run_on_each_instance(scripted, tmp_path: Path) -> None:
    def solver(body):
        q = body["messages"][-1]["content"]
        if "def knapsack_optimization(" in q:
            return f"```python\n{KNAPSACK}\n```"
        return "```python\ndef diet_problem(**kwargs):\n    return 0\n```"  # runs, but the wrong value

    db = tmp_path / "m.sqlite"
    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench", "complexor", "--data", str(DATA / "complexor"), "--strategy", "direct", "-j", "2", "--json",
            "--base-url", model.base_url, "--db", f"sqlite:///{db}",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {r["sample"]: r for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    assert rows["complexor-knapsack_optimization"]["outcome"] == "correct"
    assert rows["complexor-diet_problem"]["outcome"] == "wrong"
    assert "instance 1" in rows["complexor-diet_problem"]["details"]["reason"]
