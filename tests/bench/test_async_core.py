"""The benchmark runner's asyncio core: the same trajectories as the synchronous path, and rate limits survived."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from solvegraph.agents import SolveRunner
from solvegraph.bench.runner import BenchConfig, BenchRunner
from solvegraph.config import load_settings
from solvegraph.llm import ModelClient
from solvegraph.memory import Store

GRAPH_SCRIPT = {
    "planner": ["1. Compute 6 * 3."],
    "solver": [
        {"tool_calls": [{"name": "python", "arguments": {"code": "print(6 * 3)"}}]},
        "ANSWER: 18",
    ],
    "verifier": ["VERDICT: ACCEPT\nThe program printed 18."],
}


def _bench(base_url: str, db: str, strategy: str, data: Path, limit: int, jobs: int, **cfg) -> BenchRunner:
    settings = load_settings(flags={"base_url": base_url, "memory": False}, env={})
    runner = BenchRunner(
        BenchConfig(dataset="jsonl", data=str(data), strategy=strategy, limit=limit, jobs=jobs, **cfg),
        settings,
        Store(db),
    )
    runner.run(runner.prepare())
    return runner


def _questions(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"q": f"What is 6 * 3? (copy {i})", "a": "18"}) + "\n" for i in range(n)))
    return path


def _shape(steps) -> list[tuple]:
    """What a step did, without its timings or ids."""
    return [
        (
            s.agent,
            s.reply,
            [(c["name"], c["arguments"]) for c in s.tool_calls],
            [(r["name"], r.get("ok"), r.get("output")) for r in s.tool_results],
        )
        for s in steps
        if s.agent != "memory"
    ]


def test_async_bench_and_sync_solve_give_identical_trajectories(scripted, tmp_path: Path) -> None:
    data = _questions(tmp_path, 1)
    question = "What is 6 * 3? (copy 0)"
    with scripted(GRAPH_SCRIPT) as model:
        sync = SolveRunner(ModelClient(model.base_url)).solve(question)
    with scripted(GRAPH_SCRIPT) as model:
        db = f"sqlite:///{tmp_path / 'a.sqlite'}"
        runner = _bench(
            model.base_url, db, "graph", data, 1, 1, question_fields=["q"], answer_field="a", scorer="numeric"
        )
        store = Store(db)
        (row,) = store.results(runner.run_id or "")
        bench = store.load(row["trajectory"])
    assert sync.answer == bench.answer == "18"
    assert _shape(sync.steps) == _shape(bench.steps)
    assert [s.agent for s in bench.steps if s.agent != "memory"] == ["planner", "solver", "solver", "verifier"]


def test_a_429_storm_with_retry_after_is_survived_and_the_limit_adapts(scripted, tmp_path: Path) -> None:
    """The endpoint serves 4 requests at a time and answers 429 (Retry-After 0.2 s) to the rest."""
    data = _questions(tmp_path, 48)
    state = {"now": 0, "refused": 0, "most": 0}
    lock = threading.Lock()

    def solver(body):
        with lock:
            if state["now"] >= 4:
                state["refused"] += 1
                return {"status": 429, "message": "slow down", "headers": {"Retry-After": "0.2"}}
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return "ANSWER: 18"

    with scripted({"default": [solver]}) as model:
        db = f"sqlite:///{tmp_path / 's.sqlite'}"
        runner = _bench(
            model.base_url, db, "direct", data, 48, 16, question_fields=["q"], answer_field="a", scorer="numeric"
        )
    results = Store(db).results(runner.run_id or "")
    assert len(results) == 48 and {r["outcome"] for r in results} == {"correct"}
    assert state["refused"] > 0, "the storm happened"
    assert runner.client is not None and runner.client.limit.lowest < 16, "the per-endpoint limit came down"


def test_graph_samples_wait_for_the_model_on_the_loop_without_a_thread_each(scripted, tmp_path: Path) -> None:
    """16 graph samples in flight, none calling a tool: the run's pool for blocking work is never made, and
    the endpoint sees the samples' calls at once (LangGraph's astream on one event loop, no thread per sample)."""
    data = _questions(tmp_path, 16)
    script = {"planner": ["1. Answer."], "solver": ["ANSWER: 18"], "verifier": ["VERDICT: ACCEPT"]}
    in_flight, most = [0], [0]
    lock = threading.Lock()

    with scripted(script, delay_s=0.3) as model:
        handle = model.next_reply

        def counted(body):  # runs in the server's thread for each request, during its delay
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                time.sleep(0.2)
                return handle(body)
            finally:
                with lock:
                    in_flight[0] -= 1

        model.next_reply = counted
        db = f"sqlite:///{tmp_path / 'g.sqlite'}"
        runner = _bench(
            model.base_url, db, "graph", data, 16, 16, question_fields=["q"], answer_field="a", scorer="numeric"
        )
    results = Store(db).results(runner.run_id or "")
    assert len(results) == 16
    assert runner._pool is None, "no sample needed a thread: none ran a tool"
    assert most[0] >= 12, f"the samples' model calls overlapped ({most[0]} at most at once)"


def test_solve_called_from_inside_a_running_event_loop_gives_the_same_trajectory(scripted) -> None:
    """A notebook runs a loop in its thread: the synchronous API then runs the solve on a worker thread's loop."""
    import asyncio

    question = "What is 6 * 3? (copy 0)"
    with scripted(GRAPH_SCRIPT) as model:
        outside = SolveRunner(ModelClient(model.base_url)).solve(question)
    with scripted(GRAPH_SCRIPT) as model:

        async def notebook_cell():
            return SolveRunner(ModelClient(model.base_url)).solve(question)

        inside = asyncio.run(notebook_cell())
    with scripted(GRAPH_SCRIPT) as model:
        awaited = asyncio.run(SolveRunner(ModelClient(model.base_url)).asolve(question))
    assert outside.answer == inside.answer == awaited.answer == "18"
    assert _shape(outside.steps) == _shape(inside.steps) == _shape(awaited.steps)
