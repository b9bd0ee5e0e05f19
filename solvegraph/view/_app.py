"""The viewer's pages: runs, a run, a trajectory, search; a JSON progress endpoint for live runs.

Pages are rendered on the server from Jinja2 templates with autoescaping on: model and tool text is
data and reaches the browser only escaped. A page that cannot be built (a corrupt row) is an error on
that page alone, in one line.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..bench.report import OUTCOMES, compare, cost_total, summarize
from ..errors import SolvegraphError
from ._templates import histogram, render

PAGE = 100  # samples per page of a run
OUTPUT_SHOWN = 4000  # characters of a tool output shown before "truncated"


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status)


def _error(message: str, status: int) -> HTMLResponse:
    return _page("error.html", status=status, message=message)


def make_app(store: Any) -> Starlette:
    """The ASGI app over ``store`` (a :class:`~solvegraph.memory.Store`)."""

    def runs(request: Request) -> Response:
        q = request.query_params
        rows = store.runs(1000)
        counts = store.outcome_counts([r["id"] for r in rows])
        costs = store.run_costs([r["id"] for r in rows])
        items = []
        for r in rows:
            config = store.run_config(r["id"]) if r["kind"] == "bench" else {}
            scored = counts.get(r["id"], {})
            n = sum(scored.values())
            items.append(
                {
                    **r,
                    "strategy": config.get("strategy", ""),
                    "scored": n,
                    "outcomes": scored,
                    "accuracy": scored.get("correct", 0) / n if n else None,
                    "cost_usd": costs.get(r["id"]),
                }
            )
        for key in ("dataset", "strategy", "model", "kind"):
            if q.get(key):
                items = [i for i in items if str(i.get(key) or "") == q[key]]
        if q.get("outcome"):
            items = [i for i in items if i["outcomes"].get(q["outcome"])]
        if q.get("since"):
            items = [i for i in items if (i["created_at"] or "") >= q["since"]]
        sort = q.get("sort", "created")
        keys = {
            "created": lambda i: i["created_at"] or "",
            "accuracy": lambda i: -1 if i["accuracy"] is None else i["accuracy"],
            "n": lambda i: i["trajectories"],
            "cost": lambda i: -1 if i["cost_usd"] is None else i["cost_usd"],
        }
        items.sort(key=keys.get(sort, keys["created"]), reverse=q.get("order", "desc") == "desc")
        choices = {
            key: sorted({str(r.get(key)) for r in items if r.get(key)}) for key in ("dataset", "strategy", "model")
        }
        return _page("runs.html", runs=items, q=q, choices=choices, outcomes=OUTCOMES, sort=sort)

    def run(request: Request) -> Response:
        ident = request.path_params["run_id"]
        try:
            run_id, _ = store.resolve(ident)
            (row,) = store.runs(1, run_id=run_id)
            config = store.run_config(run_id)
            results = store.results(run_id)
            spent = store.run_costs([run_id])[run_id]
        except SolvegraphError as exc:
            return _error(str(exc), 404)
        summary = summarize(row, config, results, spent)
        outcome = request.query_params.get("outcome", "")
        shown = [r for r in results if not outcome or r["outcome"] == outcome]
        asked = request.query_params.get("page", "1")
        page = max(1, int(asked)) if asked.isdigit() else 1
        pages = max(1, math.ceil(len(shown) / PAGE))
        page = min(page, pages)
        live = "running" in row["statuses"]
        return _page(
            "run.html",
            run=row,
            config=config,
            summary=summary,
            samples=shown[(page - 1) * PAGE : page * PAGE],
            outcome=outcome,
            page=page,
            pages=pages,
            total=len(shown),
            histogram=histogram([r["latency_s"] or 0.0 for r in results]),
            live=live,
            outcomes=OUTCOMES,
        )

    def progress(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            (row,) = store.runs(1, run_id=run_id)
        except (SolvegraphError, ValueError):
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
        scored = sum(store.outcome_counts([run_id]).get(run_id, {}).values())
        return JSONResponse(
            {"scored": scored, "trajectories": row["trajectories"], "running": "running" in row["statuses"]}
        )

    def trajectory(request: Request) -> Response:
        ident = request.path_params["trajectory_id"]
        try:
            t = store.load(ident)
            result = store.result_of(ident)
        except SolvegraphError as exc:
            return _error(str(exc), 404 if "no trajectory" in str(exc) else 500)
        except Exception as exc:  # a corrupt row: this page says so, the rest of the viewer still works
            return _error(f"trajectory {ident} cannot be shown: {type(exc).__name__}: {exc}", 500)
        steps = []
        for i, s in enumerate(t.steps):
            results = []
            for r in s.tool_results:
                output = str(r.get("output") or "")
                results.append({**r, "shown": output[:OUTPUT_SHOWN], "cut": max(0, len(output) - OUTPUT_SHOWN)})
            steps.append({"i": i, "step": s, "results": results})
        started = datetime.fromtimestamp(t.started_at, UTC).isoformat() if t.started_at else ""
        return _page("trajectory.html", t=t, steps=steps, result=result, started=started)

    def compare_runs(request: Request) -> Response:
        """Two runs on their shared samples: paired outcomes, McNemar, and the samples that flipped."""
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        if not a or not b:
            return _error("pick two runs to compare (tick two on the runs page)", 400)
        try:
            ids = [store.resolve(x)[0] for x in (a, b)]
            rows = [store.runs(1, run_id=i)[0] for i in ids]
            results = [store.results(i) for i in ids]
            costs = store.run_costs(ids)
        except SolvegraphError as exc:
            return _error(str(exc), 404)
        paired = compare(*results)
        by_sample = [{r["sample"]: r for r in rs if r["sample"] is not None} for rs in results]  # unpaired: no id
        flipped = [
            {"sample": s, "a": by_sample[0][s], "b": by_sample[1][s]}
            for s in sorted(set(by_sample[0]) & set(by_sample[1]))
            if (by_sample[0][s]["outcome"] == "correct") != (by_sample[1][s]["outcome"] == "correct")
        ]
        configs = [store.run_config(i) for i in ids]
        shared = set(by_sample[0]) & set(by_sample[1])
        shared_cost = [cost_total([r for r in rs if r["sample"] in shared]) for rs in results]
        return _page(
            "compare.html",
            runs=rows,
            configs=configs,
            paired=paired,
            flipped=flipped,
            costs=[costs[i] for i in ids],
            shared_cost=shared_cost,
        )

    def search(request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        hits = store.search(text, 50) if text else []
        return _page("search.html", q=text, hits=hits)

    return Starlette(
        routes=[
            Route("/", runs),
            Route("/runs/{run_id}", run),
            Route("/runs/{run_id}/progress", progress),
            Route("/t/{trajectory_id}", trajectory),
            Route("/compare", compare_runs),
            Route("/search", search),
        ]
    )
