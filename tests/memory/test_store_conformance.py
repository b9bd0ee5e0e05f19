"""The store's conformance suite: one behavioural test per role, run against SQLite and a real PostgreSQL.

In the manner of LangGraph's checkpoint conformance tests: each test is written against a role protocol
(``RunStore``, ``TrajectoryLog``, ``ReuseStore``, ``MadeToolStore``), never against SQL or the ``Store``
class, so another implementation of the interface passes or fails the same suite. The backends are a SQLite
file and a throwaway PostgreSQL server (tests/memory_backends.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.memory import (
    MadeToolStore,
    ReuseStore,
    RunStore,
    Step,
    Store,
    StoreError,
    Trajectory,
    TrajectoryLog,
    TrajectoryStore,
    content_hash,
)
from solvegraph.memory.store import Write, finish_values
from solvegraph.types import Certificate
from tests.memory_backends import postgres_server

ROLES = (RunStore, TrajectoryLog, ReuseStore, MadeToolStore, TrajectoryStore)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrajectoryStore]:
    if request.param == "sqlite":
        st = Store(f"sqlite:///{tmp_path}/memory.sqlite")
    else:
        st = Store(request.getfixturevalue("pg_url"))
        from sqlalchemy import text

        with st.engine.begin() as conn:  # a clean slate per test on the shared server
            conn.execute(
                text(
                    "TRUNCATE certificates, steps, trajectories, problems, runs, made_tools, response_cache "
                    "RESTART IDENTITY CASCADE"
                )
            )
    yield st
    st.close()


def _step(agent: str, round_: int = 0, reply: str = "", verdict: dict | None = None) -> Step:
    return Step(agent=agent, round=round_, reply=reply, verdict=verdict)


def _solved(store: TrajectoryStore, problem: str, answer: str, *, config_hash: str = "cfg", run_id: str = "") -> str:
    """A finished, tool-verified trajectory of ``problem`` through the log's own methods; its id."""
    run = run_id or store.start_run("solve", "m")
    t = Trajectory(problem=problem, model="m")
    store.begin(t, run, config_hash=config_hash)
    verdict = {"accepted": True, "trust": "tool-verified"}
    store.add_step(t.id, 0, _step("verifier", reply="VERDICT: ACCEPT", verdict=verdict))
    t.answer, t.solved, t.status, t.trust, t.reusable = answer, True, "solved", "tool-verified", True
    t.finished_at = time.time()
    store.finish(t)
    return t.id


def test_the_sql_store_takes_every_role(store: TrajectoryStore) -> None:
    for role in ROLES:
        assert isinstance(store, role), role.__name__
    assert store.dialect in ("sqlite", "postgresql") and store.display


# -- RunStore -------------------------------------------------------------------------------------------------


def test_runs_keep_their_settings_and_are_found_by_prefix(store: RunStore) -> None:
    run = store.start_run("bench", "m1", "gsm8k", {"jobs": 4, "tool_options": {"lean": {"timeout": 9}}})
    assert store.run_config(run) == {"jobs": 4, "tool_options": {"lean": {"timeout": 9}}}
    store.update_run_config(run, jobs=8)
    assert store.run_config(run)["jobs"] == 8
    listed = store.runs(10, run_id=run)
    assert [r["id"] for r in listed] == [run] and listed[0]["kind"] == "bench"
    assert store.resolve(run[:10]) == (run, [])
    with pytest.raises(StoreError, match="no run or trajectory"):
        store.resolve("ffffffffffff")
    named = store.start_run("solve", "m1", run_id="abc123")
    assert named == "abc123" and store.resolve("abc123") == ("abc123", [])


def test_a_benchmark_runs_results_counts_and_costs(store: TrajectoryStore) -> None:
    run = store.start_run("bench", "m", "toy")
    scored = []
    for sample, outcome in (("s1", "correct"), ("s2", "wrong"), ("s3", None)):
        t = Trajectory(problem=f"question {sample}", model="m")
        store.begin(t, run, sample_id=sample, gold="42")
        t.answer, t.status, t.finished_at = "42", "solved", time.time()
        if outcome is None:
            continue  # crashed before scoring
        store.finish(t, score=1.0 if outcome == "correct" else 0.0, outcome=outcome, latency_s=0.5)
        scored.append(t.id)
    assert store.finished_samples(run) == {"s1": scored[0], "s2": scored[1]}
    results = store.results(run)
    assert [(r["sample"], r["outcome"], r["gold"]) for r in results] == [("s1", "correct", "42"), ("s2", "wrong", "42")]
    assert store.result_of(scored[0])["outcome"] == "correct"  # type: ignore[index]
    assert store.outcome_counts([run]) == {run: {"correct": 1, "wrong": 1}}
    assert store.abandon_unfinished(run) == 1
    assert run in store.run_costs([run])
    assert store.stats()["trajectories"] == 3


# -- TrajectoryLog --------------------------------------------------------------------------------------------


def test_steps_land_as_taken_and_the_whole_reads_back(store: TrajectoryStore) -> None:
    run = store.start_run("solve", "m")
    t = Trajectory(problem="What is 6 * 7?", model="m")
    store.begin(t, run)
    for seq, agent in enumerate(("planner", "solver", "verifier")):
        store.add_step(t.id, seq, _step(agent, reply=f"{agent} said"))
    partial = store.load(t.id)  # a crash now loses nothing written
    assert [s.agent for s in partial.steps] == ["planner", "solver", "verifier"] and partial.status == "running"
    assert store.keep_steps(t.id, 1) == 2  # a resume cuts back to its checkpoint
    t.answer, t.solved, t.status, t.finished_at = "42", True, "solved", time.time()
    store.finish(t)
    store.reopen(t.id)
    assert store.load(t.id).status == "running"
    store.finish(t)
    back = store.load(t.id)
    assert (back.answer, back.status, [s.reply for s in back.steps]) == ("42", "solved", ["planner said"])


def test_a_batch_lands_whole_and_saved_trajectories_read_back(store: TrajectoryStore) -> None:
    run = store.start_run("bench", "m")
    t = Trajectory(problem="batch question", model="m")
    done = Trajectory(problem="batch question", model="m", id=t.id)
    done.answer, done.status, done.finished_at = "7", "solved", time.time()
    writes = [
        Write("begin", (t, run, "b1", "7")),
        Write("step", (t.id, 0, _step("solver", reply="7"))),
        Write("finish", (t.id, finish_values(done, score=1.0, outcome="correct"))),
    ]
    store.write_batch(writes)
    assert store.load(t.id).answer == "7" and store.finished_samples(run) == {"b1": t.id}
    many = [Trajectory(problem=f"imported {i}", model="m", answer=str(i), status="solved") for i in range(3)]
    store.save_many([(x, run, f"i{n}") for n, x in enumerate(many)])
    assert [store.load(x.id).answer for x in many] == ["0", "1", "2"]


def test_trajectories_are_pruned_and_deleted_with_what_depends_on_them(store: TrajectoryStore) -> None:
    run = store.start_run("solve", "m")
    t = Trajectory(problem="to be deleted", model="m")
    store.begin(t, run)
    store.add_step(t.id, 0, _step("solver"))
    assert store.select_for_prune(status="running") == [t.id]
    with pytest.raises(StoreError, match="say what to prune"):
        store.select_for_prune()
    counts = store.delete_trajectories([t.id])
    assert counts["trajectories"] == 1 and counts["steps"] == 1
    with pytest.raises(StoreError):
        store.load(t.id)


def test_certificates_are_kept_with_their_trajectory_read_back_and_deleted_with_it(store: TrajectoryStore) -> None:
    run = store.start_run("solve", "m")
    t = Trajectory(problem="minimize x", model="m")
    store.begin(t, run)
    t.answer, t.status, t.solved, t.finished_at = "3", "solved", True, time.time()
    model_text = "VARIABLES\n  [integer] <x>: obj=1, original bounds=[3,10]\nEND\n"
    t.certificates = [
        Certificate(kind="milp", claim={"status": "optimal", "values": {"x": 3}}, artifacts={"model.cip": model_text},
                    answer="3", trajectory_id=t.id)
    ]  # fmt: skip
    store.finish(t)
    (kept,) = store.certificates(t.id)
    assert kept == t.certificates[0] and kept.artifacts["model.cip"] == model_text, "kept whole, artifacts too"
    assert store.certificate(kept.id).claim == {"status": "optimal", "values": {"x": 3}}
    assert "certificates" not in store.load(t.id).to_dict(), "the trajectory's record does not carry them"
    with pytest.raises(StoreError, match="no certificate"):
        store.certificate("nope")
    # A benchmark's batch: its certificates land with the finish they come with.
    b = Trajectory(problem="batch minimize", model="m")
    cert = Certificate(kind="cp", claim={"status": "feasible"}, trajectory_id=b.id)
    done = Trajectory(problem=b.problem, model="m", id=b.id, answer="1", status="solved")
    store.write_batch([Write("begin", (b, run, "s1", "1")), Write("certificates", ([cert],)),
                       Write("finish", (b.id, finish_values(done, score=1.0, outcome="correct")))])  # fmt: skip
    assert [c.id for c in store.certificates(b.id)] == [cert.id]
    store.save_certificates([Certificate(kind="cp", claim={}, trajectory_id=b.id)])
    assert len(store.certificates(b.id)) == 2
    store.delete_trajectories([t.id, b.id])
    assert store.certificates(t.id) == [] and store.certificates(b.id) == []


# -- ReuseStore -----------------------------------------------------------------------------------------------


def test_a_verified_answer_is_cached_for_its_configuration_until_retracted(store: TrajectoryStore) -> None:
    tid = _solved(store, "Maximise 3x + 2y with x + y <= 4", "12", config_hash="cfgA")
    assert store.cached_answer("Maximise 3x + 2y with x + y <= 4", "cfgA") == ("12", tid, "tool-verified")
    assert store.cached_answer("Maximise 3x + 2y with x + y <= 4", "cfgB") is None
    hits = store.search("maximise 3x 2y", k=3, verified_only=True)
    assert [h["trajectory"] for h in hits] == [tid]
    problem_hash = content_hash("Maximise 3x + 2y with x + y <= 4")
    assert store.search("maximise 3x 2y", verified_only=True, exclude_hash=problem_hash) == []
    store.retract_answer("Maximise 3x + 2y with x + y <= 4", "12")
    assert store.cached_answer("Maximise 3x + 2y with x + y <= 4", "cfgA") is None
    assert store.search("maximise 3x 2y", verified_only=True) == []


def test_model_replies_are_cached_by_key(store: ReuseStore) -> None:
    assert store.cached_reply("k1") is None
    store.cache_reply("k1", "m", {"content": "hello", "usage": {"total_tokens": 3}})
    store.cache_reply("k1", "m", {"content": "a second write keeps the first"})
    assert store.cached_reply("k1") == {"content": "hello", "usage": {"total_tokens": 3}}


# -- MadeToolStore --------------------------------------------------------------------------------------------


def _made(name: str, problem: str, origin: str) -> dict:
    source = f"def {name}(x):\n    return x + 1\n"
    return {
        "name": name,
        "signature": f"{name}(x)",
        "docstring": "",
        "source": source,
        "source_hash": content_hash(source),
        "problem_text": problem,
        "origin_trajectory": origin,
        "origin_problem_hash": content_hash(problem),
    }


def test_made_tools_are_kept_once_found_for_similar_problems_and_ranked(store: TrajectoryStore) -> None:
    tid = _solved(store, "add one to seven", "8")
    assert store.add_made_tools([_made("plus_one", "add one to seven", tid)]) == ["plus_one"]
    assert store.add_made_tools([_made("plus_one", "add one to seven", tid)]) == []  # the same source: kept once
    (tool,) = store.made_tools_from(["add one to seven"], exclude_problem_hash=content_hash("another problem"))
    assert tool.name == "plus_one"
    assert store.made_tools_from(["add one to seven"], exclude_problem_hash=content_hash("add one to seven")) == []
    store.count_tool_uses([tool.id], succeeded=True)
    store.count_tool_uses([tool.id], succeeded=False)
    (after,) = store.made_tools()
    assert (after.uses, after.successes, after.failures) == (2, 1, 1)
    # An answer shown wrong takes the tools made from it along.
    store.retract_answer("add one to seven", "8")
    assert store.made_tools() == []
