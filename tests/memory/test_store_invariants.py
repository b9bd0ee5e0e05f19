"""The store's invariants under random interleavings of what users do, on SQLite and on PostgreSQL.

A Hypothesis state machine runs the real ``solvegraph`` command against two scripted endpoints over real
HTTP (models ``alpha`` and ``beta``): solves of benchmark questions (so problem rows are shared with the
benchmarks), benchmarks, benchmarks killed with SIGKILL while their writer is landing results, resumes
(some switching the model), and compares. After every step it reads the database and checks:

- a run's scored samples are exactly its dataset's samples once it has finished (a subset before);
- no sample is scored twice in a run;
- every trajectory is credited to the model that produced it: each endpoint answers in its own way
  (alpha with the gold, beta with -1), so an answer names its author, and each step names its model;
- nothing committed is lost: a trajectory that had ended keeps its outcome and at least its steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import bindparam, create_engine, text

from solvegraph.testing import ScriptedModel
from tests.conftest import DATA, keep_var, run_cli
from tests.memory_backends import postgres_server

SVAMP = DATA / "svamp" / "SVAMP.jsonl"
ROWS = [json.loads(line) for line in SVAMP.read_text().splitlines()]
GOLD = {f"{r['Body']} {r['Question']}": f"{r['Answer']:g}" for r in ROWS}
IDS = [f"jsonl-{r['ID']}" for r in ROWS]


def _question(body: dict[str, Any]) -> str:
    asked = json.dumps(body["messages"])
    return next((q for q in GOLD if json.dumps(q)[1:-1] in asked), "")


def _alpha(body: dict[str, Any]) -> str:
    return f"ANSWER: {GOLD.get(_question(body), '0')}"


def _slow_alpha(body: dict[str, Any]) -> str:
    time.sleep(0.4)  # a killed bench has samples in flight and results queued for its writer
    return _alpha(body)


SCRIPTS = {
    "alpha": {"solver": [_alpha], "planner": ["1. answer"], "verifier": ["VERDICT: ACCEPT"]},
    "beta": {"solver": ["ANSWER: -1"], "planner": ["1. answer"], "verifier": ["VERDICT: ACCEPT"]},
}
AUTHOR = {"-1": "beta"}  # any other answer is alpha's


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, ScriptedModel]]:
    started = {name: ScriptedModel(script, model=name).start() for name, script in SCRIPTS.items()}
    slow = {**SCRIPTS["alpha"], "solver": [_slow_alpha]}
    started["slow"] = ScriptedModel(slow, model="alpha").start()
    yield started
    for model in started.values():
        model.stop()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fresh_database(backend: str, tmp: Path, pg_url: str | None) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp}/{uuid.uuid4().hex}.sqlite"
    assert pg_url is not None
    name = f"inv_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = run_cli(*args, timeout=240)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def machine(backend: str, tmp: Path, endpoints: dict[str, ScriptedModel], pg_url: str | None) -> type:
    class StoreMachine(RuleBasedStateMachine):
        runs = Bundle("runs")

        def __init__(self) -> None:
            super().__init__()
            self.db = _fresh_database(backend, tmp, pg_url)
            self.expected: dict[str, set[str]] = {}  # bench run → its dataset's sample ids
            self.finished: set[str] = set()
            self.seen: dict[str, tuple[str | None, int]] = {}  # ended trajectory → (outcome, steps)
            self.engine = create_engine(self.db)

        def teardown(self) -> None:
            self.engine.dispose()

        def _bench(self, model: str, limit: int, *extra: str) -> subprocess.CompletedProcess[str]:
            args = ["bench", "jsonl", "--data", str(SVAMP), "--question-field", "Body,Question", "--answer-field",
                    "Answer", "--id-field", "ID", "--strategy", "direct", "--limit", str(limit), "-j", "3", "--json",
                    "--base-url", endpoints[model].base_url, "--db", self.db, *extra]  # fmt: skip
            return _cli(*args)

        @rule(model=st.sampled_from(["alpha", "beta"]), which=st.integers(0, len(ROWS) - 1))
        def solve(self, model: str, which: int) -> None:
            question = f"{ROWS[which]['Body']} {ROWS[which]['Question']}"
            proc = _cli("solve", question, "--base-url", endpoints[model].base_url, "--db", self.db, "--max-rounds",
                        "1", "--no-cache", "-q")  # fmt: skip
            assert proc.returncode in (0, 1, 3, 4), proc.stderr

        @rule(target=runs, model=st.sampled_from(["alpha", "beta"]), limit=st.integers(1, len(ROWS)))
        def bench(self, model: str, limit: int) -> str:
            proc = self._bench(model, limit)
            assert proc.returncode == 0, proc.stderr
            run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
            self.expected[run_id] = set(IDS[:limit])
            self.finished.add(run_id)
            return run_id

        @rule(target=runs)
        def bench_killed_mid_write(self) -> str:
            args = ["bench", "jsonl", "--data", str(SVAMP), "--question-field", "Body,Question", "--answer-field",
                    "Answer", "--id-field", "ID", "--strategy", "direct", "-j", "2", "--base-url",
                    endpoints["slow"].base_url, "--db", self.db]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if keep_var(k)}
            proc = subprocess.Popen([sys.executable, "-m", "solvegraph.cli", *args], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
            deadline = time.monotonic() + 120
            run_id = None
            while time.monotonic() < deadline and proc.poll() is None:
                with self.engine.connect() as conn:
                    if "runs" in _tables(conn):
                        row = conn.execute(
                            text(
                                "SELECT r.id FROM runs r JOIN trajectories t ON t.run_id = r.id WHERE r.kind = 'bench' "
                                "AND t.outcome IS NOT NULL AND r.id NOT IN :known GROUP BY r.id"
                            ).bindparams(bindparam("known", expanding=True)),
                            {"known": list(self.expected) or ["-"]},
                        ).first()
                        if row is not None:
                            run_id = row[0]
                            break
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            assert run_id is not None, "the bench scored a sample before it was killed"
            self.expected[run_id] = set(IDS)
            return str(run_id)

        @rule(run=runs, switch=st.booleans())
        def resume(self, run: str, switch: bool) -> None:
            extra = []
            if switch:
                with self.engine.connect() as conn:
                    config = conn.execute(text("SELECT config FROM runs WHERE id = :r"), {"r": run}).scalar()
                config = json.loads(config) if isinstance(config, str) else config
                other = "beta" if config["model"] == "alpha" else "alpha"
                extra = ["--model", other, "--switch-model", "--base-url", endpoints[other].base_url]
            proc = _cli("bench", "--resume", run, "--json", "--db", self.db, *extra)
            assert proc.returncode == 0, proc.stderr
            self.finished.add(run)

        @rule(a=runs, b=runs)
        def compare(self, a: str, b: str) -> None:
            proc = _cli("bench", "compare", a, b, "--json", "--db", self.db)
            shared = len(self._scored(a) & self._scored(b))
            if shared == 0:
                assert proc.returncode == 2 and "share no samples" in proc.stderr, proc.stderr
            else:
                assert proc.returncode == 0, proc.stderr
                assert json.loads(proc.stdout)["shared"] == shared

        def _scored(self, run: str) -> set[str]:
            with self.engine.connect() as conn:
                return {
                    s
                    for (s,) in conn.execute(
                        text("SELECT sample_id FROM trajectories WHERE run_id = :r AND outcome IS NOT NULL"), {"r": run}
                    )
                }

        @invariant()
        def scored_samples_are_the_datasets_once_each(self) -> None:
            with self.engine.connect() as conn:
                if "runs" not in _tables(conn):
                    return
                for run, ids in self.expected.items():
                    rows = [
                        s
                        for (s,) in conn.execute(
                            text("SELECT sample_id FROM trajectories WHERE run_id = :r AND outcome IS NOT NULL"),
                            {"r": run},
                        )
                    ]
                    assert len(rows) == len(set(rows)), f"a sample scored twice in {run}: {sorted(rows)}"
                    assert set(rows) <= ids, f"{run} scored samples not in its dataset: {set(rows) - ids}"
                    if run in self.finished:
                        assert set(rows) == ids, f"finished run {run} misses {ids - set(rows)}"

        @invariant()
        def every_trajectory_is_credited_to_its_model(self) -> None:
            with self.engine.connect() as conn:
                if "runs" not in _tables(conn):
                    return
                trajectories = conn.execute(text("SELECT id, model, answer, status FROM trajectories")).all()
                steps = conn.execute(text("SELECT trajectory_id, model FROM steps WHERE model_calls > 0")).all()
            credited = {tid: model for tid, model, _, _ in trajectories}
            for tid, model, answer, status in trajectories:
                if answer is not None and status != "running":
                    author = AUTHOR.get(answer, "alpha")
                    assert author in model.split(" → "), f"{tid}: {answer!r} came from {author}, credited to {model}"
            for tid, model in steps:
                assert model in credited[tid].split(" → "), f"a step of {tid} by {model}, credited to {credited[tid]}"

        @invariant()
        def nothing_committed_is_lost(self) -> None:
            with self.engine.connect() as conn:
                if "runs" not in _tables(conn):
                    return
                now = {
                    tid: (outcome, int(n))
                    for tid, outcome, n in conn.execute(
                        text(
                            "SELECT t.id, t.outcome, COUNT(s.id) FROM trajectories t LEFT JOIN steps s "
                            "ON s.trajectory_id = t.id WHERE t.status NOT IN ('running') GROUP BY t.id, t.outcome"
                        )
                    )
                }
            for tid, (outcome, n) in self.seen.items():
                assert tid in now, f"trajectory {tid} was lost"
                if outcome is not None:
                    assert now[tid][0] == outcome, f"{tid} changed its outcome from {outcome} to {now[tid][0]}"
                assert now[tid][1] >= n, f"{tid} lost steps"
            self.seen = now

    return StoreMachine


def _tables(conn: Any) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_invariants_hold_under_random_interleavings(
    backend: str, endpoints: dict[str, ScriptedModel], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg_url = request.getfixturevalue("pg_server") if backend == "postgresql" else None
    StoreMachine = machine(backend, tmp_path, endpoints, pg_url)
    StoreMachine.TestCase.settings = settings(
        max_examples=3,
        stateful_step_count=6,
        deadline=None,
        derandomize=True,  # the same interleavings every run: a failure here is reproducible, not a flake
        suppress_health_check=list(HealthCheck),
    )
    StoreMachine.TestCase().runTest()
