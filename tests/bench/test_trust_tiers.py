"""The bench summary counts each trust tier, strongest first, and a cross-verified answer the gold
contradicts is disputed like a tool-verified one."""

from __future__ import annotations

import io

from rich.console import Console

from solvegraph.bench.report import render_text, summarize
from solvegraph.bench.runner import TRUST_ORDER


def _result(sample: str, outcome: str, trust: str) -> dict:
    return {
        "sample": sample, "answer": "1", "gold": "1", "outcome": outcome, "tokens": 10, "latency_s": 0.1,
        "cost_usd": None, "details": {"trust": trust},
    }  # fmt: skip


def test_the_summary_counts_cross_verified_first() -> None:
    results = [
        _result("a", "correct", "model-accepted"),
        _result("b", "correct", "cross-verified"),
        _result("c", "wrong", "tool-verified"),
        _result("d", "correct", "cross-verified"),
    ]
    summary = summarize({"id": "r1", "model": "m"}, {"dataset": "d", "strategy": "graph"}, results)
    assert list(summary["trust"]) == ["cross-verified", "tool-verified", "model-accepted"]
    assert summary["trust"]["cross-verified"] == {"n": 2, "correct": 2}
    out = io.StringIO()
    render_text(summary, Console(file=out, width=200))
    assert "answers accepted as: cross-verified 2 (2 correct), tool-verified 1 (0 correct)" in out.getvalue()


def test_several_samples_keep_the_strongest_tier() -> None:
    trusts = {"tool-verified", "cross-verified", "model-accepted"}
    assert next(t for t in TRUST_ORDER if t in trusts) == "cross-verified"
