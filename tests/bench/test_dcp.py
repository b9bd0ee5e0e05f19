"""DCP-Bench-Open over its committed slice: answers judged against the gold CPMpy model in the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from solvegraph.bench import registry
from solvegraph.bench._dcp import dcp_score, decision_variables, read_dcp
from solvegraph.memory import Store
from tests.bench.test_data_registry import Mirror, sha
from tests.conftest import DATA, ROOT, keep_var

SLICE = DATA / "dcp_bench_open"
PROBLEMS = ("csplib_054_n_queens", "knapsack", "send_more_money")  # served to the bench run below
SLICED = ("csplib_012_nonogram", *PROBLEMS)
SEND_MORE = {"s": 9, "e": 5, "n": 6, "d": 7, "m": 1, "o": 0, "r": 8, "y": 2}
BOARD = [  # the nonogram's one solution
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
    [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1],
    [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
]


def test_the_slice_reads_as_problems_with_their_data_and_keys() -> None:
    loaded = read_dcp(SLICE)
    assert not loaded.skipped
    samples = {s.id: s for s in loaded.samples}
    assert sorted(samples) == [f"dcp-{p}" for p in SLICED]
    knapsack = samples["dcp-knapsack"]
    assert "values = [4, 2, 3, 7, 1]" in knapsack.question and "exactly the keys x" in knapsack.question
    assert knapsack.answer["keys"] == ["x"] and "Model(" in knapsack.answer["script"]
    assert "# Data" not in samples["dcp-send_more_money"].question  # its data is in the model itself
    assert samples["dcp-send_more_money"].answer["keys"] == sorted(SEND_MORE)
    assert decision_variables("Print the grid (grid), and the cost (a, b).") == ["a", "b", "grid"]
    assert "timeout" not in knapsack.answer


def test_a_timeout_header_gives_that_problem_longer(tmp_path: Path) -> None:
    text = (SLICE / "knapsack/knapsack.cpmpy.py").read_text(encoding="utf-8")
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow/slow.cpmpy.py").write_text(text.replace("# Category:", "# Timeout: 120\n# Category:", 1))
    assert read_dcp(tmp_path).samples[0].answer["timeout"] == 120  # as DCP-Bench-Open's own header says


def test_the_slice_files_are_the_pinned_files() -> None:
    pinned = dict(registry.pinned("dcp_bench_open").files)
    assert len(pinned) == 164
    for problem in SLICED:
        rel = f"{problem}/{problem}.cpmpy.py"
        assert sha((SLICE / rel).read_bytes()) == pinned[rel]


def test_answers_are_checked_against_the_gold_model_in_the_sandbox() -> None:
    gold = {s.id.removeprefix("dcp-"): s.answer for s in read_dcp(SLICE).samples}
    options = {"sandbox": os.environ.get("SOLVEGRAPH_SANDBOX", "bwrap")}

    def score(answer: str, problem: str, trajectory: dict | None = None):
        return dcp_score(answer, gold[problem], trajectory, options)

    optimal = score('{"x": [false, false, true, true, false]}', "knapsack")
    assert optimal.correct and optimal.detail["objective"] == 10
    feasible = score('{"x": [1, 1, 0, 0, 0]}', "knapsack")  # fits, but is not the optimum
    assert not feasible.correct and "not the optimum 10" in feasible.detail["reason"]
    assert "violates" in score('{"x": [1, 1, 1, 1, 1]}', "knapsack").detail["reason"]
    # A satisfaction problem with another solution than the gold's own: any solution is right.
    assert score('{"queens": [1, 3, 6, 8, 10, 5, 9, 2, 4, 7]}', "csplib_054_n_queens").correct
    assert not score('{"queens": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}', "csplib_054_n_queens").correct
    assert score(f"ANSWER: {json.dumps(SEND_MORE)}", "send_more_money").correct
    # A gold that builds an OR-Tools solver itself (native automaton constraints) rather than a Model.
    assert score(json.dumps({"board": BOARD}), "csplib_012_nonogram").correct
    flipped = [row[:] for row in BOARD]
    flipped[0][0] = 1
    assert "violates" in score(json.dumps({"board": flipped}), "csplib_012_nonogram").detail["reason"]
    # The answer is data, never code: names and values that are not the problem's are refused as such.
    hostile = score("{\"x\": \"__import__('os').system('touch /tmp/pwned')\"}", "knapsack")
    assert not hostile.correct and "not an integer or a boolean" in hostile.detail["reason"]
    assert "unexpected ['__import__']" in score('{"__import__": 1}', "knapsack").detail["reason"]
    assert "shape (2,), expected (5,)" in score('{"x": [1, 0]}', "knapsack").detail["reason"]
    assert score("I could not solve it", "knapsack").detail["reason"].startswith("no solution")
    # No JSON in the final answer: the last JSON object a tool printed in the run is the solution.
    printed = {"steps": [{"tool_results": [{"output": 'solving...\n{"x": [0, 0, 1, 1, 0]}\n'}]}]}
    from_tool = score("done", "knapsack", printed)
    assert from_tool.correct and from_tool.detail["answer_from"] == "the last JSON object a tool printed"


def test_bench_dcp_bench_open_downloads_the_slice_and_scores_it(scripted, tmp_path: Path) -> None:
    """The real command: ``bench dcp_bench_open`` fetches its files (a pin of the slice's three, each
    hashed) from the mirror, and the scripted model's answers are judged by the gold models."""
    files = [(f"{p}/{p}.cpmpy.py", sha((SLICE / p / f"{p}.cpmpy.py").read_bytes())) for p in PROBLEMS]
    served = {f"/dcp_bench_open/{path}": (SLICE / path).read_bytes() for path, _ in files}
    pin = {
        "dataset": "dcp_bench_open", "url": "https://example.invalid/dataset/",
        "sha256": sha(registry.listing(tuple(files)).encode()), "size": sum(map(len, served.values())),
        "license": "Apache-2.0", "citation": "DCP-Bench-Open", "rows": "NAME/NAME.cpmpy.py", "format": "files",
    }  # fmt: skip
    code = (
        "import json, sys; from solvegraph.bench import Pinned, register; "
        f"pin = json.loads({json.dumps(json.dumps(pin))}); files = json.loads({json.dumps(json.dumps(files))}); "
        "register(Pinned(**pin, files=tuple(map(tuple, files)))); "
        "from solvegraph.cli import main; sys.argv = ['solvegraph', *sys.argv[1:]]; main()"
    )

    def solver(body: dict) -> str:
        q = body["messages"][-1]["content"]
        if "hiker" in q:
            return 'The best pick.\nANSWER: {"x": [false, false, true, true, false]}'
        if "SEND" in q:
            return f"ANSWER: {json.dumps(SEND_MORE)}"
        return 'ANSWER: {"queens": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}'  # attacks on every diagonal

    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with Mirror(served) as mirror, scripted({"solver": [solver]}) as model:
        env = {k: v for k, v in os.environ.items() if keep_var(k)}
        env |= {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "SOLVEGRAPH_DATA_MIRROR": mirror.url}
        args = ["bench", "dcp_bench_open", "--strategy", "direct", "-j", "2", "--json", "--base-url", model.base_url]
        proc = subprocess.run(
            [sys.executable, "-c", code, *args, "--db", db], capture_output=True, text=True, env=env, cwd=ROOT,
            timeout=300,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(mirror.requests) == 3  # one request per file
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {r["sample"]: r for r in Store(db).results(summary["run_id"])}
    assert rows["dcp-knapsack"]["outcome"] == "correct"
    assert rows["dcp-send_more_money"]["outcome"] == "correct"
    assert rows["dcp-csplib_054_n_queens"]["outcome"] == "wrong"
    assert "violates" in rows["dcp-csplib_054_n_queens"]["details"]["reason"]
    cached = tmp_path / "xdg/solvegraph/datasets/dcp_bench_open"
    assert sorted(p.name for p in cached.iterdir()) == sorted(PROBLEMS)


@pytest.mark.parametrize("bad", ['{"x": [1, 0, 1]', "[1, 2]"])
def test_no_json_object_is_wrong_with_its_reason(bad: str) -> None:
    gold = next(s.answer for s in read_dcp(SLICE).samples if s.id == "dcp-knapsack")
    score = dcp_score(bad, gold, None, {"sandbox": "none"})  # refused before any worker starts
    assert not score.correct and score.detail["reason"].startswith("no solution")
