"""Epochs: each problem run K times, each run a sample of its own, then reduced per problem.

``bench --epochs K`` turns sample ``gsm8k-3`` into ``gsm8k-3#e1`` … ``gsm8k-3#eK``: each epoch is scored
and stored the moment it finishes, like any sample, so ``--resume`` runs only the epochs not yet done.
The reducers then take each problem's ``n`` scored epochs with ``c`` correct:

- ``mean``: c/n per problem, averaged (the plain accuracy over every epoch, weighted per problem);
- ``majority``: a problem counts when more than half its epochs are correct (Inspect's ``mode`` on 0/1);
- ``pass@k``: the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k)/C(n, k): the chance that at
  least one of k epochs drawn from the n is correct;
- ``pass^k``: C(c, k)/C(n, k) (τ-bench): the chance that all k drawn are correct;
- ``at_least_k``: a problem counts when at least k of its epochs are correct.

Each comes with a 95% interval over problems: Wilson's for the 0/1 reducers, and for the averaged ones
the normal interval of the mean of the per-problem values (their spread across problems, which is
what varies between benchmarks drawn the same way), clipped to [0, 1].
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import replace
from math import comb
from typing import Any

from ..types import Sample

SEP = "#e"


def expand(samples: list[Sample], epochs: int) -> list[Sample]:
    """Every sample once per epoch (epoch-major: all problems' first epoch, then the second, ...)."""
    if epochs <= 1:
        return samples
    return [
        replace(s, id=f"{s.id}{SEP}{e}", metadata={**s.metadata, "epoch": e, "problem": s.id})
        for e in range(1, epochs + 1)
        for s in samples
    ]


def problem_of(sample_id: str) -> str:
    head, sep, tail = sample_id.rpartition(SEP)
    return head if sep and tail.isdigit() else sample_id


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021)."""
    if k > n:
        raise ValueError(f"k={k} is more than the {n} epochs")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k epochs drawn from the n are all correct."""
    if k > n:
        raise ValueError(f"k={k} is more than the {n} epochs")
    return comb(c, k) / comb(n, k)


def _mean_interval(values: list[float], z: float = 1.96) -> list[float]:
    if len(values) < 2:
        return [0.0, 1.0] if values else [0.0, 0.0]
    mean = statistics.fmean(values)
    half = z * statistics.stdev(values) / math.sqrt(len(values))
    return [max(0.0, mean - half), min(1.0, mean + half)]


def ks_for(epochs: int) -> list[int]:
    """The k reported: 1, the powers of two below K, and K."""
    ks = {1, epochs}
    k = 2
    while k < epochs:
        ks.add(k)
        k *= 2
    return sorted(ks)


def reduce_epochs(results: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    """The reducers over a run's scored epochs (rows of ``Store.results``); problems with fewer scored
    epochs than k are left out of that k's figures (a stopped run), and counted in ``incomplete``."""
    from .report import wilson

    per: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        if r.get("sample") is not None:
            per[problem_of(r["sample"])].append(r["outcome"] == "correct")
    counts = [(len(v), sum(v)) for v in per.values()]
    out: dict[str, Any] = {"epochs": epochs, "problems": len(counts)}
    out["incomplete"] = sum(1 for n, _ in counts if n < epochs)
    means = [c / n for n, c in counts]
    out["mean"] = {"value": statistics.fmean(means) if means else 0.0, "ci95": _mean_interval(means)}
    majority = sum(1 for n, c in counts if c * 2 > n)
    out["majority"] = {"value": majority / len(counts) if counts else 0.0, "ci95": list(wilson(majority, len(counts)))}
    for k in ks_for(epochs):
        full = [(n, c) for n, c in counts if n >= k]
        at = [pass_at_k(n, c, k) for n, c in full]
        hat = [pass_hat_k(n, c, k) for n, c in full]
        least = sum(1 for _, c in full if c >= k)
        out[f"pass@{k}"] = {"value": statistics.fmean(at) if at else 0.0, "ci95": _mean_interval(at), "n": len(full)}
        out[f"pass^{k}"] = {"value": statistics.fmean(hat) if hat else 0.0, "ci95": _mean_interval(hat), "n": len(full)}
        out[f"at_least_{k}"] = {
            "value": least / len(full) if full else 0.0,
            "ci95": list(wilson(least, len(full))),
            "n": len(full),
        }
    return out
