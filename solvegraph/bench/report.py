"""Benchmark reports: accuracy with a 95% interval, outcomes, categories, tokens and latency.

``render_html`` writes one self-contained file (inline SVG, no scripts, no network)
so a report can be mailed or archived and still open anywhere.
"""

from __future__ import annotations

import html
import math
import statistics
from collections import Counter, defaultdict
from math import comb
from typing import Any

OUTCOMES = ("correct", "wrong", "tool_error", "timeout", "limit", "refused", "error")


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


def summarize(run: dict[str, Any], config: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
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
        "model": run.get("model"),
        "samples_per_problem": config.get("samples", 1),
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "ci95": [low, high],
        "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
        "categories": {k: {"correct": c, "n": m, "accuracy": c / m} for k, (c, m) in sorted(categories.items())},
        "tokens": {"total": sum(tokens), "mean": statistics.fmean(tokens) if tokens else 0.0},
        "latency_s": percentiles([r["latency_s"] or 0.0 for r in results]),
        "skipped_lines": len(config.get("skipped") or []),
    }
    # How each answer was accepted, and how often each kind was right: tool-verified answers should be.
    trust: dict[str, dict[str, int]] = {}
    for r in results:
        kind = r["details"].get("trust")
        if kind:
            row = trust.setdefault(str(kind), {"n": 0, "correct": 0})
            row["n"] += 1
            row["correct"] += r["outcome"] == "correct"
    summary["trust"] = trust
    lenient = [r["details"].get("lenient") for r in results if "lenient" in r["details"]]
    if lenient:
        strict = [r["details"].get("strict") for r in results]
        summary["objective"] = {"strict_accuracy": sum(map(bool, strict)) / n, "lenient_accuracy": sum(lenient) / n}
    return summary


def render_text(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    lo, hi = summary["ci95"]
    console.print(
        f"[bold]{summary['dataset']}[/] · strategy {summary['strategy']} · model {summary['model']} · "
        f"run {summary['run_id']}"
    )
    console.print(
        f"accuracy [bold]{summary['accuracy']:.1%}[/] ({summary['correct']}/{summary['n']}), 95% CI {lo:.1%}–{hi:.1%}"
    )
    if "objective" in summary:
        o = summary["objective"]
        console.print(f"objective: strict (1e-6) {o['strict_accuracy']:.1%}, lenient (5%) {o['lenient_accuracy']:.1%}")
    table = Table(title="outcomes")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for k, v in summary["outcomes"].items():
        table.add_row(k, str(v))
    console.print(table)
    if summary.get("trust"):
        kinds = ", ".join(f"{k} {v['n']} ({v['correct']} correct)" for k, v in summary["trust"].items())
        console.print(f"answers accepted as: {kinds}", markup=False, highlight=False)
    if summary["categories"]:
        cats = Table(title="by category")
        for col in ("category", "accuracy", "n"):
            cats.add_column(col)
        for k, v in summary["categories"].items():
            cats.add_row(k, f"{v['accuracy']:.1%}", str(v["n"]))
        console.print(cats)
    lat, tok = summary["latency_s"], summary["tokens"]
    console.print(
        f"latency p50 {lat['p50']:.2f}s p90 {lat['p90']:.2f}s p99 {lat['p99']:.2f}s · tokens "
        f"{tok['total']} total, {tok['mean']:.0f} per problem"
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
    ra = {r["sample"]: r["outcome"] == "correct" for r in a}
    rb = {r["sample"]: r["outcome"] == "correct" for r in b}
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


# -- HTML ---------------------------------------------------------------------------
_COLORS = {
    "correct": "#2e7d32",
    "wrong": "#c62828",
    "tool_error": "#ef6c00",
    "timeout": "#6a1b9a",
    "limit": "#1565c0",
    "refused": "#8d6e63",
    "error": "#455a64",
}


def _bars(items: list[tuple[str, float, str]], width: int = 560, unit: str = "%", scale: float = 100.0) -> str:
    """Horizontal bars: (label, value in [0, 1] or count, colour)."""
    top = max([v for _, v, _ in items] + [1e-9]) if unit != "%" else 1.0
    row, out = 28, []
    for i, (label, value, color) in enumerate(items):
        w = (width - 200) * (value / top if top else 0)
        y = i * row
        text_ = f"{value * scale:.1f}{unit}" if unit == "%" else f"{value:g}"
        out.append(
            f'<text x="0" y="{y + 18}" font-size="13">{html.escape(label)}</text>'
            f'<rect x="150" y="{y + 5}" width="{w:.1f}" height="18" fill="{color}"/>'
            f'<text x="{155 + w:.1f}" y="{y + 18}" font-size="12">{text_}</text>'
        )
    return f'<svg width="{width}" height="{row * len(items) + 6}" role="img">{"".join(out)}</svg>'


def _histogram(values: list[float], width: int = 560, height: int = 160, bins: int = 20) -> str:
    if not values:
        return "<p>no samples</p>"
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    peak = max(counts)
    bw = (width - 40) / bins
    bars = "".join(
        f'<rect x="{30 + i * bw:.1f}" y="{height - 20 - (c / peak) * (height - 40):.1f}" '
        f'width="{bw - 2:.1f}" height="{(c / peak) * (height - 40):.1f}" fill="#1565c0"/>'
        for i, c in enumerate(counts)
    )
    axis = (
        f'<text x="30" y="{height - 4}" font-size="12">{lo:.2f}s</text>'
        f'<text x="{width - 60}" y="{height - 4}" font-size="12">{hi:.2f}s</text>'
    )
    return f'<svg width="{width}" height="{height}" role="img">{bars}{axis}</svg>'


def render_html(summaries: list[dict[str, Any]], results: list[list[dict[str, Any]]]) -> str:
    """One self-contained page: accuracy per strategy, latency distribution, outcome breakdown."""
    acc = [(f"{s['strategy']} ({s['run_id'][:8]})", s["accuracy"], "#2e7d32") for s in summaries]
    sections = [f"<h2>Accuracy per strategy</h2>{_bars(acc)}"]
    for s, rs in zip(summaries, results, strict=True):
        lo, hi = s["ci95"]
        outcome_bars = [(o, float(c), _COLORS[o]) for o, c in s["outcomes"].items()]
        rows = "".join(
            f"<tr><td>{html.escape(r['sample'] or '')}</td><td>{html.escape(r['outcome'])}</td>"
            f"<td>{html.escape(str(r['answer'])[:60])}</td><td>{r['latency_s'] or 0:.2f}</td></tr>"
            for r in rs[:200]
        )
        cats = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v['accuracy']:.1%}</td><td>{v['n']}</td></tr>"
            for k, v in s["categories"].items()
        )
        sections.append(
            f"<h2>{html.escape(str(s['dataset']))} · {html.escape(str(s['strategy']))} · run {s['run_id'][:12]}</h2>"
            f"<p class='big'>accuracy <b>{s['accuracy']:.1%}</b> ({s['correct']}/{s['n']}), 95% CI "
            f"{lo:.1%}–{hi:.1%} · model {html.escape(str(s['model']))}</p>"
            f"<h3>Outcomes</h3>{_bars(outcome_bars, unit='', scale=1)}"
            f"<h3>Latency distribution</h3>{_histogram([r['latency_s'] or 0.0 for r in rs])}"
            f"<p>p50 {s['latency_s']['p50']:.2f}s · p90 {s['latency_s']['p90']:.2f}s · p99 {s['latency_s']['p99']:.2f}s"
            f" · {s['tokens']['total']} tokens</p>"
            + (
                f"<h3>By category</h3><table><tr><th>category</th><th>accuracy</th><th>n</th></tr>{cats}</table>"
                if cats
                else ""
            )
            + f"<h3>Samples</h3><table><tr><th>sample</th><th>outcome</th><th>answer</th><th>latency s</th></tr>"
            f"{rows}</table>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:900px;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}"
        ".big{font-size:18px}h2{border-bottom:1px solid #ddd;padding-bottom:4px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>solvegraph benchmark report</title>"
        f"<style>{style}</style></head><body><h1>solvegraph benchmark report</h1>{''.join(sections)}</body></html>"
    )
