"""Benchmark reports: accuracy with a 95% interval, outcomes, categories, tokens, cost and latency.

The HTML report (``bench report --html``) is the viewer's run page saved as one file:
:func:`solvegraph.view.render_report`.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from math import comb
from typing import Any

from ..types import MODEL_SWITCH, dollars, inert, trust_rank

# "disputed": scored wrong, but a tool's sound check verified the answer (the gold may be wrong).
OUTCOMES = ("correct", "wrong", "disputed", "tool_error", "timeout", "limit", "refused", "error")


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval: sane at 0%, 100% and small n, unlike the normal approximation."""
    if n == 0:
        return 0.0, 0.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99)}


def summarize(
    run: dict[str, Any], config: dict[str, Any], results: list[dict[str, Any]], spent_usd: float | None = None
) -> dict[str, Any]:
    """The run's figures. ``cost_usd`` is what the scored samples cost (None where the model had no price);
    ``spent_usd``, when given, is all the run spent, samples left unscored included."""
    n = len(results)
    correct = sum(1 for r in results if r["outcome"] == "correct")
    low, high = wilson(correct, n)
    outcomes = Counter(r["outcome"] for r in results)
    categories: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        cat = r["details"].get("category")
        if cat:
            categories[str(cat)][0] += r["outcome"] == "correct"
            categories[str(cat)][1] += 1
    tokens = [r["tokens"] for r in results]
    summary = {
        "run_id": run["id"],
        "dataset": config.get("dataset"),
        "strategy": config.get("strategy"),
        # A run resumed on another model (--switch-model) was answered by each, in order.
        "model": MODEL_SWITCH.join(
            [str(run.get("model")), *(str(s["to"]) for s in config.get("model_switches") or [])]
        ),
        "samples_per_problem": config.get("samples", 1),
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "ci95": [low, high],
        "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
        "categories": {k: {"correct": c, "n": m, "accuracy": c / m} for k, (c, m) in sorted(categories.items())},
        "tokens": {"total": sum(tokens), "mean": statistics.fmean(tokens) if tokens else 0.0},
        "cost_usd": _cost(results, spent_usd, config.get("max_cost")),
        "latency_s": percentiles([r["latency_s"] or 0.0 for r in results]),
        "skipped_lines": len(config.get("skipped") or []),
    }
    # How each answer was accepted, and how often each kind was right: verified answers should be. Strongest
    # tier first (cross-verified, tool-verified, model-accepted, unchecked; an unknown one last).
    trust: dict[str, dict[str, int]] = {}
    for r in results:
        kind = r["details"].get("trust")
        if kind:
            row = trust.setdefault(str(kind), {"n": 0, "correct": 0})
            row["n"] += 1
            row["correct"] += r["outcome"] == "correct"
    summary["trust"] = {k: trust[k] for k in sorted(trust, key=lambda k: (trust_rank(k), k))}
    # Disputed samples: accuracy counting them wrong (above), and leaving them out.
    disputed = [r for r in results if r["outcome"] == "disputed"]
    kept = n - len(disputed)
    summary["disputed"] = [
        {"sample": r["sample"], "answer": r["answer"], "gold": r["gold"], "evidence": r["details"].get("evidence")}
        for r in disputed
    ]
    summary["accuracy_without_disputed"] = correct / kept if kept else 0.0
    summary["ci95_without_disputed"] = list(wilson(correct, kept))
    if (config.get("epochs") or 1) > 1:
        from ._epochs import reduce_epochs

        summary["epochs"] = reduce_epochs(results, int(config["epochs"]))
    lenient = [r["details"].get("lenient") for r in results if "lenient" in r["details"]]
    if lenient:
        strict = [r["details"].get("strict") for r in results]
        summary["objective"] = {"strict_accuracy": sum(map(bool, strict)) / n, "lenient_accuracy": sum(lenient) / n}
    return summary


def cost_total(results: list[dict[str, Any]]) -> float | None:
    """What these scored samples cost, or None when none of them was priced."""
    priced = [r["cost_usd"] for r in results if r.get("cost_usd") is not None]
    return sum(priced) if priced else None


def _cost(results: list[dict[str, Any]], spent: float | None, limit: float | None) -> dict[str, Any]:
    total = cost_total(results)
    return {
        "total": total,
        "mean": total / len(results) if total is not None and results else None,
        "unpriced": sum(1 for r in results if r.get("cost_usd") is None),
        **({"spent": spent} if spent is not None else {}),
        **({"limit": limit} if limit is not None else {}),
    }


def accuracy_line(summary: dict[str, Any]) -> str:
    lo, hi = summary["ci95"]
    return f"accuracy {summary['accuracy']:.1%} ({summary['correct']}/{summary['n']}), 95% CI {lo:.1%}–{hi:.1%}"


def render_text(summary: dict[str, Any], console: Any, *, accuracy: bool = True) -> None:
    """The summary for a person; ``accuracy=False`` leaves out the accuracy line where the caller prints it
    itself (``bench run`` puts it on stdout, once)."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    # The model's name comes from the endpoint: shown, never read as markup.
    console.print(
        f"[bold]{escape(inert(summary['dataset']))}[/] · strategy {escape(inert(summary['strategy']))} · model "
        f"{escape(inert(summary['model']))} · run {summary['run_id']}",
        highlight=False,
    )
    if accuracy:
        console.print(accuracy_line(summary), markup=False, highlight=False)
    if summary.get("disputed"):
        lo, hi = summary["ci95_without_disputed"]
        console.print(
            f"{len(summary['disputed'])} disputed (verified answers the gold contradicts): accuracy "
            f"{summary['accuracy_without_disputed']:.1%} leaving them out, 95% CI {lo:.1%}–{hi:.1%}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for d in summary["disputed"][:20]:
            checks = ", ".join((d.get("evidence") or {}).get("verified_by") or []) or "a tool check"
            console.print(
                f"  disputed {inert(str(d['sample']))}: answer {inert(str(d['answer']))}, gold "
                f"{inert(str(d['gold']))}; verified by {inert(checks)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    roles = summary.get("roles") or {}
    if len({m for r in roles.values() for m in r["models"]}) > 1 or any(r["cost_usd"] for r in roles.values()):
        # Cost split per role: a strong verifier over a small solver shows here what each one cost.
        parts = [
            f"{role} ({', '.join(inert(m) for m in r['models']) or '?'}) {r['model_calls']} calls, {r['tokens']} tok"
            + (f", {dollars(r['cost_usd'])}" if r["cost_usd"] is not None else "")
            for role, r in sorted(roles.items())
        ]
        console.print("per role: " + "; ".join(parts), markup=False, highlight=False, soft_wrap=True)
    if "objective" in summary:
        o = summary["objective"]
        console.print(f"objective: strict (1e-6) {o['strict_accuracy']:.1%}, lenient (5%) {o['lenient_accuracy']:.1%}")
    if "epochs" in summary:
        e = summary["epochs"]
        figures = [
            f"{name} {v['value']:.1%} ({v['ci95'][0]:.1%}–{v['ci95'][1]:.1%})"
            for name, v in e.items()
            if isinstance(v, dict)
        ]
        incomplete = f", {e['incomplete']} not finished" if e["incomplete"] else ""
        console.print(
            f"{e['epochs']} epochs of {e['problems']} problems{incomplete}: " + "; ".join(figures),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    table = Table(title="outcomes")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for k, v in summary["outcomes"].items():
        table.add_row(Text(inert(k)), str(v))
    console.print(table)
    if summary.get("trust"):
        kinds = ", ".join(f"{k} {v['n']} ({v['correct']} correct)" for k, v in summary["trust"].items())
        console.print(f"answers accepted as: {kinds}", markup=False, highlight=False)
    if summary["categories"]:
        cats = Table(title="by category")
        for col in ("category", "accuracy", "n"):
            cats.add_column(col)
        for k, v in summary["categories"].items():
            cats.add_row(Text(inert(k)), f"{v['accuracy']:.1%}", str(v["n"]))  # the dataset's text, never markup
        console.print(cats)
    lat, tok = summary["latency_s"], summary["tokens"]
    console.print(
        f"latency p50 {lat['p50']:.2f}s p90 {lat['p90']:.2f}s p99 {lat['p99']:.2f}s · tokens "
        f"{tok['total']} total, {tok['mean']:.0f} per problem"
    )
    cost = summary.get("cost_usd") or {}
    if cost.get("total") is not None:
        line = f"cost {dollars(cost['total'])} total, {dollars(cost['mean'])} per problem"
        if cost.get("spent") is not None and cost["spent"] - cost["total"] > 1e-9:
            line += f"; {dollars(cost['spent'])} spent in all, unscored samples included"
        if cost.get("limit") is not None:
            line += f" (limit {dollars(cost['limit'])})"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    elif summary["n"]:
        console.print(
            f"cost unknown: model {summary['model']} has no price ([prices] in solvegraph.toml)",
            style="dim",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if summary["skipped_lines"]:
        console.print(f"[yellow]{summary['skipped_lines']} malformed dataset line(s) skipped[/]")


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value on the discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n)


def compare(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Paired counts on the samples both runs scored. A scored row without a sample id (an older run not
    yet repaired by ``bench --resume``) cannot be paired and is left out, never paired as None."""
    ra = {r["sample"]: r["outcome"] == "correct" for r in a if r["sample"] is not None}
    rb = {r["sample"]: r["outcome"] == "correct" for r in b if r["sample"] is not None}
    shared = sorted(set(ra) & set(rb))
    both = sum(1 for s in shared if ra[s] and rb[s])
    only_a = sum(1 for s in shared if ra[s] and not rb[s])
    only_b = sum(1 for s in shared if rb[s] and not ra[s])
    n = len(shared)
    return {
        "shared": n,
        "both_correct": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": n - both - only_a - only_b,
        "accuracy_a": (both + only_a) / n if n else 0.0,
        "accuracy_b": (both + only_b) / n if n else 0.0,
        "mcnemar_p": mcnemar_p(only_a, only_b),
    }
