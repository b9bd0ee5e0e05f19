"""The static benchmark report (``bench report --html``): a saved snapshot of the viewer's run pages.

One self-contained file (inline CSS and SVG, no script, nothing fetched) that still opens when mailed
or archived: for each run its summary as the viewer shows it, and every sample (up to ``MAX_SAMPLES``)
with question, gold, answer, outcome and how the answer was accepted; with several runs, their accuracy
side by side first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..bench.report import summarize
from ._templates import histogram, render

MAX_SAMPLES = 5000


def render_report(
    runs: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]],
    spent: dict[str, float | None] | None = None,
    roles: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> str:
    """HTML for ``runs``, each (run row, run config, results) as the store gives them; ``spent``: run id →
    all the run spent (``Store.run_costs``); ``roles``: run id → what each agent cost (``Store.role_costs``)."""
    shown = [
        {
            "summary": {
                **summarize(run, config, results, (spent or {}).get(run["id"])),
                "roles": (roles or {}).get(run["id"], {}),
            },
            "histogram": histogram([r["latency_s"] or 0.0 for r in results]),
            "samples": results[:MAX_SAMPLES],
            "cut": len(results) > MAX_SAMPLES,
        }
        for run, config, results in runs
    ]
    written = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render("report.html", runs=shown, static=True, written=written)
