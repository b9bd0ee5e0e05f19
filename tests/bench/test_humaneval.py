"""HumanEval over its committed slice: the produced function runs against the task's own check() in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.memory import Store
from tests.conftest import DATA, run_cli

CODE = "```python\n{}\n```"


def test_humaneval_unit_tests_in_the_sandbox(scripted, tmp_path: Path) -> None:
    records = [json.loads(line) for line in (DATA / "humaneval/HumanEval.jsonl").read_text().splitlines()]
    by_entry = {r["entry_point"]: r for r in records}

    def solver(body):
        q = body["messages"][-1]["content"]
        if "def has_close_elements(" in q:  # right, and uses List without importing it: the prompt's prelude does
            r = by_entry["has_close_elements"]
            signature = r["prompt"][r["prompt"].index("def ") :]
            return CODE.format(signature + r["canonical_solution"])
        if "def separate_paren_groups(" in q:  # runs, but wrong
            return CODE.format("def separate_paren_groups(paren_string):\n    return [paren_string]")
        return CODE.format("def truncate_number(number: float) -> float:\n    return number % 1.0")  # right

    db = tmp_path / "m.sqlite"
    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench", "humaneval", "--data", str(DATA / "humaneval/HumanEval.jsonl"), "--strategy", "direct",
            "-j", "2", "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {r["sample"]: r for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    assert {k: v["outcome"] for k, v in rows.items()} == {
        "humaneval-0": "correct",
        "humaneval-1": "wrong",
        "humaneval-2": "correct",
    }
    assert "a test failed" in rows["humaneval-1"]["details"]["reason"]
