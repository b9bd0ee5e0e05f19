"""The viewer's pages: runs, a run, a trajectory, search; a JSON progress endpoint for live runs; a run's
samples as JSON Lines or CSV downloads.

A run's page depends on its kind: a bench has its summary and its samples, a solve shows its trajectory,
a chat its conversation turn by turn. A trajectory's page links to the previous and next sample (or
turn) of its run.

Pages are rendered on the server from Jinja2 templates with autoescaping on: model and tool text is
data and reaches the browser only escaped. A page that cannot be built (a corrupt row) is an error on
that page alone, in one line.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..bench.report import OUTCOMES, compare, cost_total, summarize
from ..bench.samples import sample_rows, to_csv, to_jsonl
from ..errors import SolvegraphError
from ..types import Trajectory
from ._templates import histogram, render

if TYPE_CHECKING:
    from ..memory import TrajectoryStore

PAGE = 100  # samples per page of a run
OUTPUT_SHOWN = 4000  # characters of a tool output shown before "truncated"


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status)


def _error(message: str, status: int) -> HTMLResponse:
    return _page("error.html", status=status, message=message)


def _steps(t: Trajectory) -> list[dict[str, Any]]:
    """A trajectory's steps as its page shows them: each tool output cut at ``OUTPUT_SHOWN`` characters."""
    steps = []
    for i, s in enumerate(t.steps):
        results = []
        for r in s.tool_results:
            output = str(r.get("output") or "")
            results.append({**r, "shown": output[:OUTPUT_SHOWN], "cut": max(0, len(output) - OUTPUT_SHOWN)})
        steps.append({"i": i, "step": s, "results": results})
    return steps


ARTIFACT_SHOWN = 100_000  # characters of a certificate's artifact (a model file) shown before "see the JSON"


def _certificates(store: TrajectoryStore, t: Trajectory) -> list[dict[str, Any]]:
    """A trajectory's certificates as its page shows them: the claim, checks, provenance, and each artifact
    (model text: escaped, collapsed, cut at ``ARTIFACT_SHOWN`` characters)."""
    shown = []
    for c in store.certificates(t.id):
        claim = json.dumps(c.claim, indent=1, default=str)
        artifacts = [
            {"name": name, "size": len(text), "shown": text[:ARTIFACT_SHOWN], "cut": max(0, len(text) - ARTIFACT_SHOWN)}
            for name, text in c.artifacts.items()
        ]
        shown.append({**c.to_dict(), "claim_shown": claim[:ARTIFACT_SHOWN], "artifacts": artifacts})
    return shown


def _started(t: Trajectory) -> str:
    return datetime.fromtimestamp(t.started_at, UTC).isoformat() if t.started_at else ""


def _duration(t: Trajectory) -> float:
    """Seconds from start to finish (0 while it runs)."""
    return t.finished_at - t.started_at if t.finished_at else 0.0


def _counted(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _turn(store: TrajectoryStore, ident: str) -> dict[str, Any]:
    """One trajectory of a solve or chat run, loaded; a corrupt one is its error, the other turns still show."""
    try:
        t = store.load(ident)
    except Exception as exc:
        return {"id": ident, "error": f"{type(exc).__name__}: {exc}"}
    return {"id": ident, "t": t, "started": _started(t), "duration": _duration(t)}


def make_app(store: TrajectoryStore) -> Starlette:
    """The ASGI app over ``store`` (any :class:`~solvegraph.memory.TrajectoryStore`)."""

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
            run_id, ids = store.resolve(ident)
            (row,) = store.runs(1, run_id=run_id)
            config = store.run_config(run_id)
            spent = store.run_costs([run_id])[run_id]
            if row["kind"] != "bench":
                turns = [_turn(store, i) for i in ids]
            else:
                results = store.results(run_id)
                roles = store.role_costs(run_id)
        except SolvegraphError as exc:
            return _error(str(exc), 404)
        if row["kind"] != "bench":
            # A solve (one trajectory, shown here whole) or a chat (its turns in order): no accuracy, no gold.
            only = turns[0] if row["kind"] == "solve" and len(turns) == 1 and "t" in turns[0] else None
            return _page(
                "run.html",
                run=row,
                config=config,
                turns=turns,
                counted=_counted(len(turns), "turn" if row["kind"] == "chat" else "trajectory"),
                spent=spent,
                tokens=sum(x["t"].usage.total_tokens for x in turns if "t" in x),
                t=only["t"] if only else None,
                steps=_steps(only["t"]) if only else [],
                started=only["started"] if only else "",
                duration=only["duration"] if only else 0.0,
                result=None,
            )
        summary = summarize(row, config, results, spent)
        summary["roles"] = roles  # what the planner, solver, verifier and refiner each cost
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

    def samples(request: Request) -> Response:
        """The run's samples as a download: ``samples.jsonl`` or ``samples.csv`` (rows of bench.samples)."""
        ident, fmt = request.path_params["run_id"], request.path_params["fmt"]
        if fmt not in ("jsonl", "csv"):
            return _error(f"no export as {fmt}: samples.jsonl or samples.csv", 404)
        try:
            run_id, _ = store.resolve(ident)
            (row,) = store.runs(1, run_id=run_id)
            rows = sample_rows(store, run_id, row["kind"])
        except SolvegraphError as exc:
            return _error(str(exc), 404)
        body, media = (to_csv(rows), "text/csv") if fmt == "csv" else (to_jsonl(rows), "application/x-ndjson")
        headers = {
            "Content-Disposition": f'attachment; filename="run-{run_id[:12]}-samples.{fmt}"',
            "X-Content-Type-Options": "nosniff",  # model text in the body is never sniffed into a page
        }
        return Response(body, media_type=media, headers=headers)

    def neighbours(run_id: str, ident: str, outcome: str) -> dict[str, Any] | None:
        """Where trajectory ``ident`` is among its run's samples (a bench's scored samples, of ``outcome`` if
        given, in the run page's order; a chat's turns): its label, position, and the previous and next ids."""
        (row,) = store.runs(1, run_id=run_id)
        kind = row["kind"]
        order: list[tuple[str, str]] = []
        if kind == "bench":
            order = [
                (r["trajectory"], f"sample {r['sample']}")
                for r in store.results(run_id)
                if not outcome or r["outcome"] == outcome
            ]
        if ident not in {tid for tid, _ in order}:  # not a bench, or a sample not scored (or not of that outcome)
            outcome = ""
            _, ids = store.resolve(run_id)
            word = "turn" if kind == "chat" else "trajectory"
            order = [(tid, f"{word} {n}") for n, tid in enumerate(ids, 1)]
        at = next((n for n, (tid, _) in enumerate(order) if tid == ident), None)
        if at is None:
            return None
        return {
            "kind": kind,
            "label": order[at][1],
            "position": at + 1,
            "total": len(order),
            "prev": order[at - 1][0] if at > 0 else None,
            "next": order[at + 1][0] if at + 1 < len(order) else None,
            "outcome": outcome,
        }

    def trajectory(request: Request) -> Response:
        ident = request.path_params["trajectory_id"]
        try:
            t = store.load(ident)
            result = store.result_of(ident)
            nav = neighbours(result["run_id"], ident, request.query_params.get("outcome", "")) if result else None
        except SolvegraphError as exc:
            return _error(str(exc), 404 if "no trajectory" in str(exc) else 500)
        except Exception as exc:  # a corrupt row: this page says so, the rest of the viewer still works
            return _error(f"trajectory {ident} cannot be shown: {type(exc).__name__}: {exc}", 500)
        try:
            certificates = _certificates(store, t)
        except Exception as exc:  # a corrupt certificate row: said on the page, the trajectory still shows
            return _error(f"the certificates of trajectory {ident} cannot be shown: {type(exc).__name__}: {exc}", 500)
        return _page(
            "trajectory.html",
            t=t,
            steps=_steps(t),
            result=result,
            started=_started(t),
            duration=_duration(t),
            nav=nav,
            certificates=certificates,
        )

    def certificate(request: Request) -> Response:
        """A certificate's JSON, as ``solvegraph verify`` reads it (served as data, never as a page)."""
        ident = request.path_params["certificate_id"]
        try:
            found = store.certificate(ident)
        except SolvegraphError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404 if "no certificate" in str(exc) else 500)
        return JSONResponse(found.to_dict())

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
            Route("/runs/{run_id}/samples.{fmt}", samples),
            Route("/t/{trajectory_id}", trajectory),
            Route("/certificates/{certificate_id}", certificate),
            Route("/compare", compare_runs),
            Route("/search", search),
        ]
    )
