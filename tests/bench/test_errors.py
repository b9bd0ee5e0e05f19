"""--retry-on-error and --fail-on-error (Inspect AI's semantics) over the scripted HTTP endpoint made to fail.

The endpoint answers 503 for chosen questions; with ``max_retries = 0`` the client gives up at once, so the
sample errors: it is retried, counted, or stops the run, and nothing scored is lost or run again.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from solvegraph.bench._errors import ErrorCount, parse_fail_on_error
from solvegraph.errors import SolvegraphError
from solvegraph.memory import Store
from tests.conftest import DATA, run_cli

GOLD = {"Janet": "18", "robe": "3", "Josh": "70000", "James": "540"}


class Flaky:
    """The solver's reply: right for every question, except 503 for ``failing[word]`` more requests."""

    def __init__(self, failing: dict[str, int]) -> None:
        self.failing = dict(failing)
        self.asked: dict[str, int] = {}

    def __call__(self, body: dict) -> object:
        question = body["messages"][-1]["content"]
        word = next(w for w in GOLD if w in question)
        self.asked[word] = self.asked.get(word, 0) + 1
        if self.failing.get(word, 0) > 0:
            self.failing[word] -= 1
            return {"status": 503, "message": "overloaded"}
        return f"ANSWER: {GOLD[word]}"


def bench(model, tmp_path: Path, *args: str):
    config = tmp_path / "solvegraph.toml"
    config.write_text("max_retries = 0\n")  # the client's own retries off: the runner's are under test
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    return run_cli(
        "bench", *args, "--json", "--base-url", model.base_url, "--db", db, "--config", str(config), "-j", "1",
    )  # fmt: skip


def start(model, tmp_path: Path, *extra: str):
    data = str(DATA / "gsm8k/test.jsonl")
    return bench(model, tmp_path, "gsm8k", "--data", data, "--limit", "4", "--strategy", "direct", *extra)


def statuses(tmp_path: Path, run_id: str) -> list[tuple[str, str, str | None]]:
    """Every attempt the run stored: (sample id, status, outcome)."""
    with sqlite3.connect(tmp_path / "m.sqlite") as conn:
        query = "SELECT sample_id, status, outcome FROM trajectories WHERE run_id = ?"
        return list(conn.execute(query, (run_id,)))


def test_fail_on_error_parses_counts_and_fractions() -> None:
    assert parse_fail_on_error(None) is None
    assert parse_fail_on_error("5") == 5 and parse_fail_on_error("0.25") == 0.25
    for bad in ("0", "1.0", "1.5", "-1", "x", "2.0"):
        with pytest.raises(SolvegraphError, match="--fail-on-error must be"):
            parse_fail_on_error(bad)
    count = ErrorCount(0.5, total=4)
    assert not count.add("a", RuntimeError("x")) and count.add("b", RuntimeError("y")) and count.stopped
    assert ErrorCount(None, total=9).add("a", RuntimeError("x"))  # the default: the first error stops


def test_a_transient_error_is_retried_and_the_sample_scored(scripted, tmp_path: Path) -> None:
    solver = Flaky({"robe": 2})
    with scripted({"solver": [solver]}) as model:
        proc = start(model, tmp_path, "--retry-on-error", "2")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 4 and summary["accuracy"] == 1.0
    assert solver.asked["robe"] == 3  # two 503s, then the answer
    rows = statuses(tmp_path, summary["run_id"])
    robe = [(status, outcome) for sample, status, outcome in rows if sample == "gsm8k-2"]
    assert sorted(robe, key=str) == sorted([("error", None), ("error", None), ("solved", "correct")], key=str)


def test_fail_on_error_stops_cleanly_and_resume_redoes_only_the_unfinished(scripted, tmp_path: Path) -> None:
    solver = Flaky({"robe": 100})
    with scripted({"solver": [solver]}) as model:
        proc = start(model, tmp_path, "--retry-on-error", "1")  # default --fail-on-error: the first errored sample
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "errored" in line]
    assert len(lines) == 1 and lines[0].startswith("stopped: 1 samples errored after 1 retries"), proc.stderr
    assert "gsm8k-2" in lines[0] and "503" in lines[0] and "Traceback" not in proc.stderr
    assert solver.asked == {"Janet": 1, "robe": 2}  # -j 1: the run stopped before Josh and James
    run_id = lines[0].rsplit("--resume ", 1)[1].split()[0]
    store = Store(f"sqlite:///{tmp_path / 'm.sqlite'}")
    full = store.resolve(run_id)[0]
    assert store.run_config(full)["stopped"] == "fail_on_error"
    assert set(store.finished_samples(full)) == {"gsm8k-1"}

    healthy = Flaky({})
    with scripted({"solver": [healthy]}) as model:
        again = bench(model, tmp_path, "--resume", run_id)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["n"] == 4 and summary["accuracy"] == 1.0
    assert healthy.asked == {"robe": 1, "Josh": 1, "James": 1}  # Janet, scored before the stop, is not redone
    assert store.run_config(full)["stopped"] is None


def test_errors_under_a_fraction_finish_the_run_and_stay_unscored(scripted, tmp_path: Path) -> None:
    solver = Flaky({"Josh": 100})
    with scripted({"solver": [solver]}) as model:
        proc = start(model, tmp_path, "--fail-on-error", "0.5")
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert summary["n"] == 3  # Josh errored: left out, not scored wrong
        assert "1 samples errored (under --fail-on-error: 0.5 of 4 samples errored)" in proc.stderr
        solver.failing.clear()
        again = bench(model, tmp_path, "--resume", summary["run_id"])
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["n"] == 4
    assert solver.asked == {"Janet": 1, "robe": 1, "Josh": 2, "James": 1}


def test_a_refused_api_key_is_not_retried(scripted, tmp_path: Path) -> None:
    with scripted(["ANSWER: 18"], api_key="right") as model:
        proc = start(model, tmp_path, "--retry-on-error", "3")
        assert proc.returncode == 2 and "refused the API key" in proc.stderr and "Traceback" not in proc.stderr
        assert len(model.requests) <= 1
