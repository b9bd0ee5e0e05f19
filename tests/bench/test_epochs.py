"""--epochs K: each epoch a stored sample of its own, then mean, majority, pass@k, pass^k and at_least_k."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from solvegraph.bench._epochs import ks_for, pass_at_k, pass_hat_k, problem_of, reduce_epochs
from solvegraph.memory import Store
from tests.conftest import DATA, run_cli


def test_the_estimators_against_their_definitions() -> None:
    # pass@k is 1 - P(k draws without replacement are all wrong); pass^k is P(all k right).
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
                assert pass_hat_k(n, c, k) == pytest.approx(comb(c, k) / comb(n, k))
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    assert pass_at_k(3, 0, 3) == 0.0 and pass_at_k(3, 1, 3) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)
    assert ks_for(1) == [1] and ks_for(8) == [1, 2, 4, 8] and ks_for(5) == [1, 2, 4, 5]
    assert problem_of("gsm8k-3#e2") == "gsm8k-3" and problem_of("x#elephant") == "x#elephant"


def test_reducers_on_known_counts() -> None:
    # Problem a: 3 of 3 right; b: 1 of 3; c: 0 of 3.
    rows = [
        {"sample": f"{p}#e{e}", "outcome": "correct" if e <= right else "wrong"}
        for p, right in (("a", 3), ("b", 1), ("c", 0))
        for e in (1, 2, 3)
    ]
    r = reduce_epochs(rows, 3)
    assert r["problems"] == 3 and r["incomplete"] == 0
    assert r["mean"]["value"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert r["majority"]["value"] == pytest.approx(1 / 3)
    assert r["pass@1"]["value"] == pytest.approx(r["mean"]["value"])
    assert r["pass@3"]["value"] == pytest.approx(2 / 3)  # a and b have a right epoch
    assert r["pass^3"]["value"] == pytest.approx(1 / 3)  # only a is always right
    assert r["at_least_1"]["value"] == pytest.approx(2 / 3)
    for name in ("mean", "majority", "pass@1", "pass@3", "pass^3", "at_least_3"):
        low, high = r[name]["ci95"]
        assert 0.0 <= low <= r[name]["value"] <= high <= 1.0


def test_bench_epochs_stores_each_epoch_and_reduces(scripted, tmp_path: Path) -> None:
    calls: dict[str, int] = {}

    def solver(body):
        q = body["messages"][-1]["content"]
        calls[q] = calls.get(q, 0) + 1
        if "Janet" in q:  # always right (gold 18)
            return "ANSWER: 18"
        if "robe" in q:  # right once in three (gold 3)
            return "ANSWER: 3" if calls[q] == 1 else "ANSWER: 4"
        return "ANSWER: 0"

    db = tmp_path / "m.sqlite"
    args = ["--json", "--db", f"sqlite:///{db}"]
    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "3", "--epochs", "3",
            "--strategy", "direct", "-j", "1", "--base-url", model.base_url, *args,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        again = run_cli("bench", "--resume", summary["run_id"], "--base-url", model.base_url, *args)
    rows = Store(f"sqlite:///{db}").results(summary["run_id"])
    assert sorted(r["sample"] for r in rows) == sorted(f"gsm8k-{i}#e{e}" for i in (1, 2, 3) for e in (1, 2, 3))
    assert summary["n"] == 9
    e = summary["epochs"]
    assert e["problems"] == 3 and e["epochs"] == 3
    assert e["pass@3"]["value"] == pytest.approx(2 / 3)
    assert e["pass^3"]["value"] == pytest.approx(1 / 3)
    assert e["majority"]["value"] == pytest.approx(1 / 3)
    assert "3 epochs of 3 problems" in proc.stderr
    # A finished run resumed runs nothing: every epoch is already scored.
    assert again.returncode == 0, again.stderr
    assert "nothing to run" in again.stderr
    assert sum(calls.values()) == 9


@pytest.mark.parametrize("supports_n", [True, False])
def test_direct_epochs_are_drawn_in_one_request_where_the_endpoint_supports_n(
    scripted, tmp_path: Path, supports_n: bool
) -> None:
    db = tmp_path / "m.sqlite"
    args = ["--json", "--db", f"sqlite:///{db}", "--strategy", "direct", "-j", "2"]
    data = ["gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "3", "--epochs", "4"]
    with scripted({"solver": ["ANSWER: 18"]}, supports_n=supports_n) as model:
        proc = run_cli("bench", *data, "--base-url", model.base_url, *args)
        assert proc.returncode == 0, proc.stderr
        # With n: one request per problem for its 4 epochs; without: one per epoch.
        assert model.http_requests == (3 if supports_n else 12)
        asked = [r.get("n") for r in model.requests]
    if supports_n:
        assert asked == [4] * 12  # each of the 3 requests served 4 replies
    else:  # learned at the first answer: only the requests already in flight (-j 2) asked for 4
        assert set(asked) == {4, None} and asked.count(4) <= 2
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = Store(f"sqlite:///{db}").results(summary["run_id"])
    assert sorted(r["sample"] for r in rows) == sorted(f"gsm8k-{i}#e{e}" for i in (1, 2, 3) for e in (1, 2, 3, 4))
    assert summary["epochs"]["pass@4"]["value"] == pytest.approx(1 / 3)  # only Janet's gold is 18
    # Each epoch is its own trajectory with its own share of the tokens; the prompt is counted once per request.
    store = Store(f"sqlite:///{db}")
    tokens = [store.load(r["trajectory"]).usage for r in rows]
    assert sum(u.completion_tokens for u in tokens) == 12 * 2  # "ANSWER: 18" is two words, once per epoch
    assert sum(1 for u in tokens if u.prompt_tokens) == (3 if supports_n else 12)
